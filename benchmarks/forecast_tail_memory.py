"""Peak memory of the forecast step's tail on a copy of a warehouse: this tree against a baseline tree.

After the statistical forecast, the forecast asset weighs the partners' forecasts into the night
(``apply_partner_forecasts``), rescores every stored run (``score_forecast_history``) and the forecast value added
(``score_value_added``). Each step runs in a fresh child process of one tree on a fresh copy of the warehouse (the
evidence step rewrites the night's rows), the trees alternating; the child reports its wall and CPU seconds and its
peak RSS (the interpreter and imports included). With ``--compare`` the night's rows the evidence step wrote are
compared between the trees (rows whose p50, p90, source, weights or evidence differ at all).

    git archive main | tar -x -C /tmp/cmi-base
    .venv/bin/python benchmarks/forecast_tail_memory.py WAREHOUSE --night 2025-06-30 --baseline /tmp/cmi-base
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from benchmarks.baseline_tree import add_baseline_argument, run_child, trees  # noqa: E402

STEPS = ("evidence", "accuracy", "value_added")

CHILD = """
import json, resource, sys, time
from datetime import date
sys.path.insert(0, sys.argv[1])
import duckdb
step, path, night = sys.argv[2], sys.argv[3], date.fromisoformat(sys.argv[4])
from forecasts.forecasting.accuracy import score_forecast_history
from forecasts.forecasting.forecast_value_added import score_value_added
from forecasts.forecasting.partner_evidence import apply_partner_forecasts
conn = duckdb.connect(path)
conn.execute("set enable_progress_bar = false")  # it would print to stdout, where the JSON goes
wall, cpu = time.perf_counter(), time.process_time()
run = {"evidence": apply_partner_forecasts, "accuracy": score_forecast_history, "value_added": score_value_added}
result = run[step](conn, night)
conn.close()
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "result": str(result)}))
"""

COMPARED = [
    "p50", "p90", "stat_p50", "stat_p90", "partner_p50", "forecast_source", "weight_ours", "weight_partner",
    "evidence_level", "evidence_days", "evidence_wape_ours", "evidence_wape_partner", "evidence_wape_combined",
    "evidence_bias_ours", "evidence_bias_partner",
]  # fmt: skip


def differing_rows(before: Path, after: Path, night: str) -> dict[str, int]:
    """Rows of the night that differ between two warehouses, in total and per column."""
    conn = duckdb.connect()
    conn.execute(f"attach '{before}' as b (read_only)")
    conn.execute(f"attach '{after}' as a (read_only)")
    counts = ", ".join(f"count(*) filter (where b.{c} is distinct from a.{c})" for c in COMPARED)
    any_column = " or ".join(f"b.{c} is distinct from a.{c}" for c in COMPARED)
    row = conn.execute(
        f"""select count(*), count(*) filter (where {any_column}), {counts}
            from b.forecasts.forecast_history as b
            join a.forecasts.forecast_history as a using (as_of_date, partner_id, location_id, product_id,
                                                          forecast_date)
            where as_of_date = ?""",
        [night],
    ).fetchone()
    conn.close()
    return {"rows": row[0], "differing": row[1], **{c: n for c, n in zip(COMPARED, row[2:], strict=True) if n}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path, help="a warehouse after a night (only read: each run gets a copy)")
    parser.add_argument("--night", required=True, help="the night's business date, YYYY-MM-DD")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--compare", action="store_true", help="compare the evidence step's rows of the trees")
    add_baseline_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forecast-tail-") as folder:
        for step in args.steps.split(","):
            copies = {}
            for name, tree in trees(args.baseline).items():
                copy = Path(folder) / f"{step}-{name.replace(' ', '-')}.duckdb"
                shutil.copyfile(args.warehouse, copy)
                copy.chmod(0o644)
                result = run_child(CHILD, tree, step, str(copy), args.night)
                print(
                    f"{step:12} {name:10} wall {result['wall_s']:7.1f} s  CPU {result['cpu_s']:6.1f} s  "
                    f"peak RSS {result['peak_mib']:7.0f} MiB  -> {result['result']}",
                    flush=True,
                )
                copies[name] = copy
            if step == "evidence" and args.compare:
                print(f"{'':12} rows compared: {differing_rows(*copies.values(), args.night)}", flush=True)
            for copy in copies.values():
                copy.unlink()


if __name__ == "__main__":
    main()
