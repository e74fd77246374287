"""Forecast value added on a demo warehouse: the nightly forecast replayed over past nights, then the
partner-by-partner WAPE and bias of the naive forecast, ours, the partner's and the one the plan used.

The demo delivers its history in bulk a few weeks before its end, so past nights cannot be run as the nightly job
ran them. Instead, on a copy of a warehouse built by one night at the end (`cmi run --as-of END`), every night from
``--first`` to ``--last`` runs what the forecast asset runs: the statistical forecast from the sales up to that
night, the partner's forecasts sent by then as evidence (`partner_evidence`), and finally the value-added table
(`forecast_value_added`) scored against the sales known at the end.

    cmi demo --end 2025-06-30 --days 200 --out L
    cmi run --as-of 2025-06-30 --landing L --warehouse W
    .venv/bin/python benchmarks/forecast_value_added.py W --first 2025-03-23 --last 2025-06-29
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from forecasts.forecasting.forecast_value_added import SOURCES, score_value_added  # noqa: E402
from forecasts.forecasting.partner_evidence import apply_partner_forecasts  # noqa: E402
from forecasts.forecasting.warehouse_forecast import forecast_warehouse  # noqa: E402

HISTORY_DAYS, HORIZON_DAYS = 730, 28  # as the nightly asset (assets/forecasts.py)

POOLED_SQL = f"""
select coalesce(partner_id, 'all partners') as partner, count(*) as weeks, sum(actual_units) as units_sold,
       {", ".join(f"sum({s}_abs_error) / sum(actual_units) as {s}_wape" for s in SOURCES)},
       {", ".join(f"sum({s}_error) / sum(actual_units) as {s}_bias" for s in SOURCES)}
from forecasts.forecast_value_added
where is_complete_week
group by rollup (partner_id)
order by partner_id nulls last
"""


def replay(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    partners = [row[0] for row in conn.execute("select distinct partner_id from marts.dim_partner").fetchall()]
    night, started = first, time.perf_counter()
    while night <= last:
        forecast_warehouse(
            conn,
            partners=sorted(partners),
            as_of_date=night,
            history_days=HISTORY_DAYS,
            horizon=HORIZON_DAYS,
            level="location",
            run_id="replay",
        )
        sources = apply_partner_forecasts(conn, night)
        print(f"{night}: {dict(sorted(sources.items()))} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        night += timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path, help="a warehouse built by `cmi run --as-of END` (it is copied)")
    parser.add_argument("--first", type=date.fromisoformat, required=True)
    parser.add_argument("--last", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "replay.duckdb"
        shutil.copyfile(args.warehouse, copy)
        with duckdb.connect(str(copy)) as conn:
            replay(conn, args.first, args.last)
            score_value_added(conn, args.last + timedelta(days=1))
            pooled = conn.execute(POOLED_SQL).df()
    print("| partner | weeks | units sold | " + " | ".join(f"{s} WAPE / bias" for s in SOURCES) + " |")
    print("|---|---:|---:|" + "---:|" * len(SOURCES))
    for row in pooled.itertuples(index=False):
        cells = [f"{100 * getattr(row, f'{s}_wape'):.1f} % / {100 * getattr(row, f'{s}_bias'):+.1f} %" for s in SOURCES]
        print(f"| {row.partner} | {row.weeks} | {row.units_sold:,.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
