"""The dbt project on a small, hand-written night of partner feeds: `dbt build` passes and the marts hold
the values a planner would expect (zero-filled sales, weekly totals spread, stock carried forward, resends
winning, unknown items listed, policy terms resolved).

Two partners: Acme (US stores, daily CSV feeds, one corrected resend, one quarantined file) and Nordkauf
(a German DC sending a weekly 852 with an item we do not know). Business date 2025-06-10.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.fixtures import DBT_NIGHT, DBT_PROJECT_DIR, PROJECT_ROOT, UPC_100, day, write_fixture

DBT = Path(sys.executable).with_name("dbt")
AS_OF = DBT_NIGHT


def run_dbt(
    args: list[str], warehouse: str, scratch: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run dbt as the pipeline does; every artefact (target, logs) goes to `scratch`, never into the repo.
    ``environment`` is added to this process's, with the night's date variables not passed on unless given there."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CMI_DBT_")},
        "CMI_DUCKDB_PATH": warehouse,
        "DBT_TARGET_PATH": str(scratch / "target"),
        "DBT_LOG_PATH": str(scratch / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(environment or {}),
    }
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        # A guard against a hung build, not a speed limit: a loaded 2-core machine takes minutes.
        timeout=900,
    )


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory) -> Path:
    scratch = tmp_path_factory.mktemp("dbt")
    warehouse = scratch / "warehouse.duckdb"
    write_fixture(warehouse)
    as_of_var = f"{{as_of_date: {AS_OF.isoformat()}}}"
    build = ["build", "--vars", as_of_var, "--target-path", str(scratch / "target")]
    result = run_dbt(build, str(warehouse), scratch)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return warehouse


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_daily_sales_are_zero_filled_to_the_business_date(built_warehouse):
    warehouse = built_warehouse
    rows = query(
        warehouse,
        """select sales_date, units_sold, is_zero_filled from marts.fct_sales_daily
           where partner_id = 'ACME' and location_id = 'S001' and product_id = 'SKU-100'
           order by sales_date""",
    )
    assert [r[0] for r in rows] == [day(d) for d in range(5, 11)]
    assert [r[1] for r in rows] == [3, 2, 0, 4, 1, 0]
    assert [r[0] for r in rows if r[2]] == [day(7), day(10)]
    filled = query(
        warehouse,
        """select partner_id, location_id, product_id, count(*) filter (where is_zero_filled), count(*)
           from marts.fct_sales_daily group by all order by all""",
    )
    assert filled == [
        ("ACME", "S001", "SKU-100", 2, 6),
        ("ACME", "S002", "SKU-200", 3, 4),
        ("NORD", "DC1", "SKU-100", 2, 9),
        ("NORD", "DC1", "SKU-300", 2, 9),
    ]


def test_the_corrected_resend_supersedes_the_original(built_warehouse):
    warehouse = built_warehouse
    assert query(
        warehouse,
        """select units_sold, net_sales_amount from marts.fct_sales_daily
           where partner_id = 'ACME' and product_id = 'SKU-100' and sales_date = '2025-06-08'""",
    ) == [(4.0, 39.96)]
    assert query(warehouse, "select count(*) from marts.fct_sales_daily where units_sold = 40") == [(0,)]
    assert query(
        warehouse,
        """select source_file_id, units_sold from staging.stg_partner_feeds__sales
           where location_id = 'S001' and period_start = '2025-06-08'""",
    ) == [("acme-sales-0609-v2", 4.0)]


def test_a_weekly_total_is_spread_over_its_days(built_warehouse):
    warehouse = built_warehouse
    rows = query(
        warehouse,
        """select sales_date, units_sold, reported_period_days from marts.fct_sales_daily
           where partner_id = 'NORD' and product_id = 'SKU-100' and sales_date <= '2025-06-08'
           order by sales_date""",
    )
    assert len(rows) == 7
    assert all(units == pytest.approx(3.0) and days == 7 for _, units, days in rows)
    week_total = query(
        warehouse,
        """select sum(units_sold) from marts.fct_sales_daily
           where partner_id = 'NORD' and product_id = 'SKU-300'""",
    )[0][0]
    assert week_total == pytest.approx(7.0)


def test_stock_is_carried_forward_with_its_age_and_marks_stockouts(built_warehouse):
    warehouse = built_warehouse
    rows = query(
        warehouse,
        """select inventory_date, on_hand_qty, observed_date, observation_age_days
           from marts.fct_inventory_daily
           where partner_id = 'ACME' and location_id = 'S001' and product_id = 'SKU-100'
           order by inventory_date""",
    )
    assert [r[1] for r in rows] == [20, 20, 20, 8, 8, 8], "the quarantined 999 count must not appear"
    assert rows[-1] == (AS_OF, 8.0, day(8), 2)
    assert query(warehouse, "select max(inventory_date) from marts.fct_inventory_daily") == [(AS_OF,)]
    stockout_days = query(
        warehouse,
        """select sales_date from marts.fct_sales_daily
           where partner_id = 'NORD' and product_id = 'SKU-100' and is_stockout order by sales_date""",
    )
    assert [r[0] for r in stockout_days] == [day(8), day(9), day(10)]


def test_unknown_items_and_locations_are_listed_not_dropped(built_warehouse):
    warehouse = built_warehouse
    assert query(
        warehouse,
        """select record_type, partner_id, location_id, product_ref, reason, source_file_id
           from intermediate.int_feed_rows_unresolved order by all""",
    ) == [
        ("promotion", "ACME", None, "099999999993", "unknown item", "acme-promo-0520"),
        ("sales", "NORD", "DC1", "N-999", "unknown item", "nord-852-w23"),
        ("stock", "ACME", "S003", UPC_100, "unknown location", "acme-stock-0608"),
    ]


def test_parser_rejects_reach_staging(built_warehouse):
    warehouse = built_warehouse
    rejects = "select source_file_id, reject_reason from staging.stg_partner_feeds__feed_rejects"
    assert query(warehouse, rejects) == [("acme-stock-0609", "header mismatch: no on-hand column")]


def test_policy_terms_resolve_override_then_default_then_product(built_warehouse):
    warehouse = built_warehouse
    assert query(
        warehouse,
        """select partner_id, location_id, product_id, lead_time_days, review_period_days, service_level,
                  moq, case_pack, agreement_source
           from marts.replenishment_policy order by all""",
    ) == [
        ("ACME", "S001", "SKU-100", 4.0, 7, 0.95, 12, 6, "partner_default"),
        ("ACME", "S002", "SKU-200", 6.0, 7, 0.95, 24, 12, "product"),
        ("NORD", "DC1", "SKU-100", 10.0, 14, 0.97, 48, 6, "partner_default"),
        ("NORD", "DC1", "SKU-300", 10.0, 14, 0.97, 48, 4, "partner_default"),
    ]
    # No agreement of the fixture names a forecast bucket: every series is forecast by day.
    assert query(warehouse, "select distinct forecast_bucket from marts.replenishment_policy") == [("day",)]


def test_shipment_status_and_partner_forecasts_follow_the_business_date(built_warehouse):
    warehouse = built_warehouse
    assert query(warehouse, "select shipment_id, status from marts.fct_shipments order by 1") == [
        ("SH-0", "delivered"),
        ("SH-1", "delivered"),
        ("SH-2", "in_transit"),
        ("SH-3", "planned"),
    ]
    # Its file arrived at 07:00 on its own date: the forecast is known from that date's night.
    forecasts = "select forecast_date, known_on, forecast_qty from intermediate.int_partner_forecasts_resolved"
    assert query(warehouse, forecasts) == [(day(9), day(9), 21.0)]


def test_a_date_in_the_vars_brings_its_own_cut_and_dagster_s_dbt_needs_a_date(built_warehouse):
    """The night's cut in the environment does not pair with a date given in --vars; dbt started by dagster-dbt
    (DAGSTER_DBT_CLI) with no date at all stops rather than plan today."""
    scratch = built_warehouse.parent
    inline = ["compile", "--inline", "select {{ as_of_date() }} as d, {{ known_before() }} as k"]
    elsewhere = {"CMI_DBT_KNOWN_BEFORE": "2030-01-01 00:00:00", "DAGSTER_DBT_CLI": "true"}
    # The build's vars, so dbt starts from the build's parse.
    with_date = run_dbt(
        [*inline, "--vars", f"{{as_of_date: {AS_OF.isoformat()}}}"], str(built_warehouse), scratch, elsewhere
    )
    assert with_date.returncode == 0, with_date.stdout[-3000:]
    assert f"cast(date '{AS_OF.isoformat()}' + interval 2 day as timestamp)" in with_date.stdout
    assert "2030-01-01" not in with_date.stdout
    no_date = run_dbt(inline, str(built_warehouse), scratch, {"DAGSTER_DBT_CLI": "true"})
    assert no_date.returncode != 0
    assert "No business date" in no_date.stdout


def test_relative_warehouse_path_is_relative_to_the_project_root(tmp_path):
    """A relative CMI_DUCKDB_PATH is under the project root, as in Dagster (`dbt debug` opens the file)."""
    warehouse = tmp_path / "relative.duckdb"
    relative = os.path.relpath(warehouse, PROJECT_ROOT)
    assert not Path(relative).is_absolute()
    result = run_dbt(["debug"], relative, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert warehouse.exists()
    assert not (DBT_PROJECT_DIR / relative).exists()


def test_a_due_shipment_no_count_contradicts_is_delivered_on_its_expected_date(built_warehouse):
    """SH-1 was due on 06-09 and Acme has not counted S001 since 06-08: nothing says it is late."""
    warehouse = built_warehouse
    assert query(
        warehouse,
        "select shipment_id, status, receipt_date, receipt_source from marts.fct_shipments order by 1",
    ) == [
        ("SH-0", "delivered", day(5), "reported_receipt"),
        ("SH-1", "delivered", day(9), "expected_date"),
        ("SH-2", "in_transit", None, None),
        ("SH-3", "planned", None, None),
    ]


def test_stock_reconciliation_checks_each_count_against_the_previous_one(built_warehouse):
    """Acme S001 counted 20 on 06-05; 2 + 4 sold since (06-07 unreported): 14 expected, 8 counted."""
    warehouse = built_warehouse
    assert query(
        warehouse,
        """select partner_id, location_id, product_id, reconciliation_date, previous_count_date, received_qty,
                  units_sold, unreported_sales_days, expected_on_hand_qty, reported_on_hand_qty, gap_qty,
                  is_above_tolerance
           from marts.stock_reconciliation""",
    ) == [("ACME", "S001", "SKU-100", day(8), day(5), 0.0, 6.0, 1, 14.0, 8.0, -6.0, True)]


def test_feed_files_are_due_the_morning_after_at_the_partners_cut_off(built_warehouse):
    """Acme's cut-off is 06:00 New York (10:00 UTC in June), Nordkauf's 05:00 Berlin (03:00 UTC)."""
    warehouse = built_warehouse
    rows = query(
        warehouse,
        """select source_file_id, business_date, round(hours_late, 2), is_late
           from intermediate.int_feed_files_dated where is_daily_feed order by 1""",
    )
    assert rows == [
        ("acme-sales-0609", day(9), -4.0, False),
        # The corrected resend of 06-08 came on 06-10 at 14:00 UTC.
        ("acme-sales-0609-v2", day(8), 28.0, True),
        ("acme-stock-0605", day(5), -3.83, False),
        # One line is dated 06-11, after the file came: the file still reports 06-08.
        ("acme-stock-0608", day(8), -3.92, False),
        ("acme-stock-0609", day(9), -4.0, False),
        ("nord-852-w23", day(8), 0.0, False),
        ("nord-stock-0608", day(8), 0.08, True),
    ]


def test_the_scorecard_shows_each_partners_weeks(built_warehouse):
    warehouse = built_warehouse
    rows = query(
        warehouse,
        """select partner_id, iso_week, days_in_week, feed_files_received, feed_files_late, files_quarantined,
                  rows_rejected, rows_unknown_item, rows_unknown_location, stock_series_days_reported,
                  series_days_expected, reconciled_rows, reconciled_within_tolerance
           from marts.partner_scorecard order by partner_id, week_start""",
    )
    assert rows == [
        # Acme went live on Thursday 06-05: two stores x two items x four days expected.
        ("ACME", "2025-W23", 4, 3, 1, 0, 0, 0, 1, 3, 16, 1, 0),
        ("ACME", "2025-W24", 2, 2, 0, 1, 1, 0, 0, 0, 8, 0, 0),
        # Nordkauf's weekly 852 starts on Monday 06-02; one line names an item nobody mapped.
        ("NORD", "2025-W23", 7, 2, 1, 0, 0, 1, 0, 2, 14, 0, 0),
        ("NORD", "2025-W24", 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0),
    ]
    # Acme's only forecast is for a week that is not over yet: nothing to score.
    assert query(warehouse, "select count(*) from marts.partner_scorecard where forecast_wape is not null") == [(0,)]


def test_the_partners_reported_receipts_and_stock_outs_reach_the_marts(built_warehouse):
    """Nordkauf's 852 says 48 espresso arrived in week 23 (none of the tea) and 2 tea were out of stock."""
    warehouse = built_warehouse
    assert query(
        warehouse,
        """select product_id, period_start, units_received, is_zero_inferred
           from intermediate.int_partner_receipts_reported order by all""",
    ) == [("SKU-100", day(2), 48.0, False), ("SKU-300", day(2), 0.0, True)]
    assert query(
        warehouse,
        """select receipt_reported_period_start, receipt_reported_period_end, receipt_delay_days
           from marts.fct_shipments where shipment_id = 'SH-0'""",
    ) == [(day(2), day(8), 0)]
    censored = query(
        warehouse,
        """select min(sales_date), max(sales_date), count(*) from marts.fct_sales_daily
           where partner_id = 'NORD' and product_id = 'SKU-300' and is_reported_stockout and is_stockout""",
    )
    assert censored == [(day(2), day(8), 7)], "every day of the week whose total the stock-out cut short"
    assert query(
        warehouse,
        """select count(*) from marts.fct_sales_daily
           where partner_id = 'NORD' and product_id = 'SKU-300' and sales_date > '2025-06-08' and is_stockout""",
    ) == [(0,)]


def test_promotion_days_follow_the_latest_calendar_the_night_knew_at_every_store(built_warehouse):
    rows = query(
        built_warehouse,
        """select location_id, product_id, min(promo_date), max(promo_date), count(*), max(discount_depth),
                  bool_or(is_display), bool_or(is_feature)
           from marts.fct_promotion_days where partner_id = 'ACME' group by all order by all""",
    )
    assert rows == [
        ("S001", "SKU-100", day(13), day(19), 7, 25.0, False, False),
        ("S001", "SKU-200", day(20), day(21), 2, None, False, True),
        ("S002", "SKU-100", day(13), day(19), 7, 25.0, False, False),
        ("S002", "SKU-200", day(20), day(21), 2, None, False, True),
    ]


def test_a_calendar_without_promotion_numbers_restates_the_days_it_spans(built_warehouse):
    rows = query(
        built_warehouse,
        """select min(promo_date), max(promo_date), count(*), max(promotion_count), bool_or(is_feature)
           from marts.fct_promotion_days where partner_id = 'NORD' and product_id = 'SKU-100'
           group by promo_date > '2025-06-10' order by 1""",
    )
    # The moved display counts once, on its new days; the earlier feature, outside the restated span, stays.
    assert rows == [(day(1), day(3), 3, 1, True), (day(17), day(21), 5, 1, False)]


def test_promotion_days_stop_at_the_window_the_forecast_can_use(built_warehouse):
    assert query(
        built_warehouse,
        """select min(promo_date), max(promo_date), count(*) from marts.fct_promotion_days
           where partner_id = 'NORD' and product_id = 'SKU-300'""",
    ) == [(day(12), AS_OF + timedelta(days=92), 91)]
