"""What the promotion regressor is worth on the demo: the nightly forecast with and without it, scored on the sales
that came after.

Takes a warehouse a night has built (`cmi demo` then `cmi run`), copies it, and for each origin (a past business
date) rebuilds the promotion models as that night knew them (dbt, `as_of_date` = the origin: only calendars received
by then), runs the nightly forecast from the origin with and without the regressor, and scores p50 against the
sales of the following `--horizon` days: WAPE by series and day and by series and week, over every series, the
series on promotion in the horizon and their promotion days or weeks (by the calendars as the built night knows them,
revisions included), and the bias on promotion weeks.

    .venv/bin/python benchmarks/promotion_forecast.py --warehouse /tmp/w/warehouse.duckdb [--origins 2] [--horizon 28]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from forecasts.forecasting.warehouse_forecast import forecast_warehouse  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
DBT_PROJECT = PROJECT / "dbt_project"
PROMOTION_MODELS = ["stg_partner_feeds__promotions", "int_promotions_resolved", "fct_promotion_days"]
HISTORY_DAYS = 730


def rebuild_promotions(warehouse: Path, origin: date, scratch: Path) -> None:
    """The promotion models as the origin's night knew them (calendars received by its knowledge cut)."""
    env = {**os.environ, "CMI_DUCKDB_PATH": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "run",
        "--select",
        *PROMOTION_MODELS,
        "--vars",
        f"{{as_of_date: {origin.isoformat()}, warehouse_path: '{warehouse}'}}",
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(scratch / "target"),
        "--log-path",
        str(scratch / "logs"),
    ]
    result = subprocess.run(command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-2000:])


def scores(conn: duckdb.DuckDBPyConnection, origin: date, horizon: int, truth: str) -> dict[str, float]:
    """The origin's p50 against the sales that came: WAPE by series and day, and by series and week (weeks from the
    day after the origin); on every series, on those on promotion in the horizon, and on their promotion days or weeks
    (a week with a promotion day); with the bias (sum of p50 - actual over actual) on promotion weeks."""
    row = conn.execute(
        f"""
        with days as (
            select f.series_id, f.forecast_date, f.p50, s.units_sold as actual,
                   p.promo_date is not null as on_promotion,
                   date_diff('day', $origin, f.forecast_date) // 7 as week
            from forecasts.forecast_history as f
            join marts.fct_sales_daily as s
              on s.partner_id = f.partner_id and s.location_id = f.location_id and s.product_id = f.product_id
             and s.sales_date = f.forecast_date
            left join {truth} as p
              on p.partner_id = f.partner_id and p.location_id = f.location_id and p.product_id = f.product_id
             and p.promo_date = f.forecast_date
            where f.as_of_date = $origin and f.forecast_date <= $origin + $horizon
        ),
        days_marked as (
            select *, bool_or(on_promotion) over (partition by series_id) as touched from days
        ),
        weeks as (
            select series_id, week, sum(p50) as p50, sum(actual) as actual, bool_or(on_promotion) as on_promotion
            from days group by all having count(*) = 7
        )
        select
            (select sum(abs(p50 - actual)) / sum(actual) from days_marked),
            (select sum(abs(p50 - actual)) / sum(actual) from days_marked where touched),
            (select sum(abs(p50 - actual)) / sum(actual) from days_marked where on_promotion),
            (select sum(abs(p50 - actual)) / sum(actual) from weeks),
            (select sum(abs(p50 - actual)) / sum(actual) from weeks where on_promotion),
            (select sum(p50 - actual) / sum(actual) from weeks where on_promotion),
            (select count(*) from weeks where on_promotion)
        """,
        {"origin": origin, "horizon": horizon},
    ).fetchone()
    return dict(zip(METRICS, row, strict=True))


METRICS = (
    "daily_overall",
    "daily_touched_series",
    "daily_promotion_days",
    "weekly_overall",
    "weekly_promotion_weeks",
    "bias_promotion_weeks",
    "promotion_weeks",
)


def line(label: str, result: dict[str, float]) -> str:
    return (
        f"{label}: WAPE by day {result['daily_overall']:.3f} (series on promotion in the horizon "
        f"{result['daily_touched_series']:.3f}, "
        f"promotion days {result['daily_promotion_days']:.3f}); by week {result['weekly_overall']:.3f} (promotion "
        f"weeks {result['weekly_promotion_weeks']:.3f}, bias {result['bias_promotion_weeks']:+.3f}, "
        f"{result['promotion_weeks']:.0f} series-weeks)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--origins", type=int, default=2, help="origins, --horizon days apart, before the night")
    parser.add_argument("--horizon", type=int, default=28)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        copy = scratch / "warehouse.duckdb"
        shutil.copy(args.warehouse, copy)
        with duckdb.connect(str(copy)) as conn:
            night = conn.execute("select max(sales_date) from marts.fct_sales_daily").fetchone()[0]
            partners = [
                row[0] for row in conn.execute("select partner_id from marts.dim_partner order by 1").fetchall()
            ]
            # The calendars as the built night knows them (revisions included): which days were on promotion.
            conn.execute("create table main.promotion_truth as select * from marts.fct_promotion_days")
        totals: dict[bool, list[dict]] = {False: [], True: []}
        for index in range(args.origins, 0, -1):
            origin = night - timedelta(days=args.horizon * index)
            rebuild_promotions(copy, origin, scratch)
            with duckdb.connect(str(copy)) as conn:
                for promotions in (False, True):
                    forecast_warehouse(
                        conn,
                        partners=partners,
                        as_of_date=origin,
                        history_days=HISTORY_DAYS,
                        horizon=args.horizon,
                        level="location",
                        run_id="promotion-benchmark",
                        promotions=promotions,
                    )
                    result = scores(conn, origin, args.horizon, "main.promotion_truth")
                    totals[promotions].append(result)
                    print(line(f"origin {origin} {'with' if promotions else 'without':>7} regressor", result))
    for promotions, results in totals.items():
        mean = {key: sum(result[key] for result in results) / len(results) for key in METRICS}
        print(line(f"mean {'with' if promotions else 'without':>7} regressor", mean))


if __name__ == "__main__":
    main()
