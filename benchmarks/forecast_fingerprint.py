"""A fingerprint of the nightly forecast table: the proof that a change to how the forecast runs left what it
writes alone.

Builds a synthetic warehouse (`synthetic_sales.py`), materializes `forecasts/demand_forecast` in process for one
business date at both series levels, and prints the row count and a SHA-256 of every row of
`forecasts.forecast_history` (all columns but `run_id` and `created_at`, floats by their exact bits, rows in key
order). Run it on two commits and compare the lines; `--chunk-series` and `--resources` (JSON) select how the
forecast runs, which must not change a bit of it.

    .venv/bin/python benchmarks/forecast_fingerprint.py [--series 400] [--chunk-series 37] \
        [--resources '{"forecast_compute": {"class": "ForecastCompute", "target": "local-cluster:2"}}']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402

from benchmarks.synthetic_sales import build_sales_warehouse  # noqa: E402

BUSINESS_DATE = date(2026, 3, 31)
KEY_COLUMNS = ["as_of_date", "partner_id", "location_id", "product_id", "series_id", "forecast_date"]
# Every column but these is hashed, the model choice's evidence (`choice_*`) and any column added later included.
UNHASHED_COLUMNS = ["run_id", "created_at"]


def fingerprint(path: Path) -> tuple[int, str]:
    """Rows and SHA-256 of the forecast history, floats hashed by their IEEE bits (no rounding hides a change)."""
    digest = hashlib.sha256()
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            f"select {', '.join(KEY_COLUMNS)}, * exclude ({', '.join(KEY_COLUMNS + UNHASHED_COLUMNS)}) "
            "from forecasts.forecast_history "
            f"order by {', '.join(KEY_COLUMNS)}"
        ).fetchall()
    for row in rows:
        for value in row:
            digest.update(struct.pack("<d", value) if isinstance(value, float) else repr(value).encode())
            digest.update(b"\x1f")
    return len(rows), digest.hexdigest()


def run_forecast(path: Path, level: str, resources: dict, chunk_series: int | None) -> None:
    from assets.forecasts import demand_forecast
    from orchestration.runtime import resources as runtime_resources

    built = {"warehouse": runtime_resources.Warehouse(path=str(path))}
    if hasattr(runtime_resources, "ForecastCompute"):
        built["forecast_compute"] = runtime_resources.ForecastCompute()
    for key, settings in resources.items():
        built[key] = getattr(runtime_resources, settings.pop("class"))(**settings)
    config = {"level": level} | ({"chunk_series": chunk_series} if chunk_series else {})
    result = dg.materialize(
        [demand_forecast],
        resources=built,
        partition_key=BUSINESS_DATE.isoformat(),
        run_config={"ops": {"forecasts__demand_forecast": {"config": config}}},
    )
    if not result.success:
        raise SystemExit("the forecast failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--chunk-series", type=int, help="series per chunk (after the change only)")
    parser.add_argument("--resources", default="{}", help="JSON: resource key -> {class, settings...}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for level in ("location", "partner"):
            path = build_sales_warehouse(Path(folder) / f"{level}.duckdb", args.series, BUSINESS_DATE)
            run_forecast(path, level, json.loads(args.resources), args.chunk_series)
            rows, digest = fingerprint(path)
            print(f"level={level} series={args.series} rows={rows} sha256={digest}")


if __name__ == "__main__":
    main()
