"""Incremental facts, resolved feed tables and partner feed staging tables on the small dbt night of
tests/fixtures.py: a night that re-computes only its window (plus late deliveries and new series) must leave exactly
the rows a --full-refresh gives, also when an earlier night is replayed.

Night 1 builds as of 2025-06-08. Before night 2 (2025-06-10, two-day lookback: the window is 06-09..06-10) Acme
resends its 06-06 count, a day outside the window, and the cross-reference learns a Nordkauf item whose counts
came in an old file: a late delivery and a new series, both older than the window. The morning of 06-11 Acme sends
counts for 06-04 (a day before its espresso's first count at S001) and 06-06 (filter coffee at S002) and Nordkauf
a daily figure for 06-06 inside its weekly report: night 2 sees them, the replayed night (06-09, window
06-08..06-09, knowledge cut 06-11 00:00) must not. Before the replay Acme's resend of its 06-05 count and sales
received the evening of 06-10, before that night's cut, reaches the ledger: a delivery older than the window on a
night whose master data did not change, which every table takes incrementally. Also before night 2, files of early
June quarantined when they came load once their partners' configurations were mended (Nordkauf's espresso count of
06-02, Acme's filter coffee sale of 06-03 at S002 and a forecast it issued 06-02): they arrived before anything the
tables hold and are new only by the time they loaded.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt.cli.main import dbtRunner

from assets.feeds.loading.raw_schema import column_definitions
from assets.warehouse import dbt_night_environment
from tests.fixtures import ACME, DBT_PROJECT_DIR, NORD, UPC_100, UPC_200, day, ledger, sales, stock, write_fixture

LOOKBACK_DAYS = 2
# The leading columns the fixture rows give; columns the contract added later stay null (not reported).
LEDGER_COLUMNS = ", ".join(definition.split()[0] for definition in column_definitions("raw.feed_files")[:12])
STOCK_COLUMNS = ", ".join(definition.split()[0] for definition in column_definitions("raw.stock_snapshots")[:10])
SERIES = ["partner_id", "location_id", "product_id"]
# Each incremental fact and its key, to line the rows of two builds up.
MART_KEYS = {
    "fct_inventory_daily": [*SERIES, "inventory_date"],
    "fct_sales_daily": [*SERIES, "sales_date"],
}
INCREMENTAL_FACTS = list(MART_KEYS)
# The incremental resolved feed tables the facts read, and their keys.
RESOLVED_KEYS = {
    "int_stock_resolved": [*SERIES, "snapshot_date"],
    "int_sales_resolved": [*SERIES, "period_start", "period_end"],
    "int_partner_forecasts_resolved": [*SERIES, "forecast_date", "target_period_start", "target_period_end"],
}
# The incremental tables worked out from the resolved feeds and the daily facts.
DERIVED_KEYS = {"int_stock_changes_explained": [*SERIES, "count_date"]}
# The incremental marts worked out from them.
DERIVED_MART_KEYS = {"stock_reconciliation": [*SERIES, "reconciliation_date"]}
# The incremental partner feed staging tables (the latest delivery of each reported key), and their keys.
STAGING_KEYS = {
    "stg_partner_feeds__stock": ["partner_id", "location_id", "product_ref", "snapshot_date"],
    "stg_partner_feeds__sales": ["partner_id", "location_id", "product_ref", "period_start", "period_end"],
    "stg_partner_feeds__forecasts": [
        "partner_id",
        "location_id",
        "product_ref",
        "forecast_date",
        "target_period_start",
        "target_period_end",
    ],
}
# Every incremental table but the daily facts.
KEPT_TABLES = [*RESOLVED_KEYS, *DERIVED_KEYS, *DERIVED_MART_KEYS, *STAGING_KEYS]
TABLE_KEYS = {**{f"marts.{name}": keys for name, keys in {**MART_KEYS, **DERIVED_MART_KEYS}.items()}}
TABLE_KEYS.update({f"intermediate.{name}": keys for name, keys in {**RESOLVED_KEYS, **DERIVED_KEYS}.items()})
TABLE_KEYS.update({f"staging.{name}": keys for name, keys in STAGING_KEYS.items()})
TABLE_KEYS_BY_NAME = {name.split(".")[1]: keys for name, keys in TABLE_KEYS.items()}
# A resolved count the replayed night does not re-build (it reaches back to 06-04 only).
UNTOUCHED_COUNT = "partner_id = 'NORD' and product_id = 'SKU-200' and snapshot_date = '2025-06-03'"
# A row outside night 2's window, older than its series' late delivery: night 2 must leave it as it was.
UNTOUCHED_ROW = "partner_id = 'ACME' and location_id = 'S002' and inventory_date = '2025-06-05'"
# Received after the replayed night's knowledge cut (06-11 00:00), before night 2's (06-12 00:00).
AFTER_REPLAY_CUT = datetime(2025, 6, 11, 6, 0)
ESPRESSO_S001 = (ACME, "S001", "SKU-100")
FILTER_S002 = (ACME, "S002", "SKU-200")
ESPRESSO_NORD = (NORD, "DC1", "SKU-100")
# Files quarantined when they came and loaded on retry before night 2, and what they report.
RETRIED_AT = datetime(2025, 6, 10, 7, 30)
RETRIED_COUNT = (NORD, "DC1", "N-100", date(2025, 6, 2))
RETRIED_SALE = (ACME, "S002", UPC_200, date(2025, 6, 3), date(2025, 6, 3))
# An interval of Acme's S002 espresso the reconciliation tests add counts, sales and reported receipts for.
ESPRESSO_S002_0608 = "location_id = 'S002' and product_id = 'SKU-100' and reconciliation_date = '2025-06-08'"
RECONCILED_RECEIPTS = (
    "select reported_received_qty, received_qty, received_at from marts.stock_reconciliation"
    f" where {ESPRESSO_S002_0608}"
)


def dbt(args: list[str], scratch: Path, succeed: bool = True) -> None:
    """dbt in this process (one start-up for all nights); artefacts go to `scratch`, never into the repo. A run
    that must fail (`succeed=False`) fails, with its reason in the log."""
    result = dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(scratch / "target"),
            "--log-path",
            str(scratch / "logs"),
            "--quiet",
        ]
    )
    assert result.success == succeed, result.exception


def night(
    as_of: date,
    scratch: Path,
    env: pytest.MonkeyPatch,
    full_refresh: bool = False,
    models: tuple[str, ...] = (*MART_KEYS, "int_partner_forecasts_resolved", *DERIVED_MART_KEYS),
) -> None:
    """The incremental facts (or `models`) and what they read; the marts downstream are tables, re-built whole anyway.

    The date reaches dbt as the nightly passes it, in the environment, so the vars stay the same from night to night.
    """
    for name, value in dbt_night_environment(as_of.isoformat()).items():
        env.setenv(name, value)
    variables = f"{{fact_lookback_days: {LOOKBACK_DAYS}}}"
    refresh = ["--full-refresh"] if full_refresh else []
    dbt(["run", "--select", *[f"+{model}" for model in models], "--vars", variables, *refresh], scratch)


def tables(warehouse: Path) -> dict[str, pd.DataFrame]:
    # Read-write like dbt's own connection: DuckDB shares one instance per file and configuration in a process.
    with duckdb.connect(str(warehouse)) as conn:
        return {
            name.split(".")[1]: conn.execute(f"select * from {name}").df().sort_values(keys).reset_index(drop=True)
            for name, keys in TABLE_KEYS.items()
        }


def mark_untouched_row(warehouse: Path, uom: str) -> str:
    """Set the sentinel row's uom and return what it held before."""
    with duckdb.connect(str(warehouse)) as conn:
        (before,) = conn.execute(f"select uom from marts.fct_inventory_daily where {UNTOUCHED_ROW}").fetchone()
        conn.execute(f"update marts.fct_inventory_daily set uom = ? where {UNTOUCHED_ROW}", [uom])
    return before


def deliver_between_nights(warehouse: Path) -> None:
    """What arrives after night 1: a resend of an old count, a cross-reference for an item sent long ago, and
    Acme's count and sales received after the replayed night's knowledge cut."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            f"insert into raw.feed_files ({LEDGER_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ledger("acme-stock-0606-fix", ACME, datetime(2025, 6, 10, 7, 0), "stock"),
        )
        conn.execute(
            f"insert into raw.stock_snapshots ({STOCK_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            stock(ACME, "S001", UPC_100, date(2025, 6, 6), 17.0, "acme-stock-0606-fix", 2),
        )
        conn.execute("insert into raw.partner_items values (?, ?, ?, ?)", (NORD, "N-200", "SKU-200", "sku"))
    deliver_retried_files(warehouse)
    received = AFTER_REPLAY_CUT
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [
                ledger("acme-stock-late", ACME, received, "stock"),
                ledger("nord-sales-0606", NORD, received, "sales"),
            ],
            "raw.stock_snapshots": [
                stock(ACME, "S001", UPC_100, date(2025, 6, 4), 19.0, "acme-stock-late", 2),
                stock(ACME, "S002", UPC_200, date(2025, 6, 6), 13.0, "acme-stock-late", 3),
            ],
            "raw.sales": [
                sales(NORD, "DC1", "N-100", date(2025, 6, 6), date(2025, 6, 6), 9.0, 81.00, "nord-sales-0606", 2)
            ],
        },
    )


def retried(file_id: str, partner_id: str, record_type: str, received: datetime) -> tuple:
    """A ledger row of a file quarantined when it came and loaded on retry the morning of 06-10."""
    row = list(ledger(file_id, partner_id, received, record_type))
    row[LEDGER_COLUMNS.split(", ").index("loaded_at")] = RETRIED_AT
    return tuple(row)


def deliver_retried_files(warehouse: Path) -> None:
    """Early-June files, older than every row the tables hold, load between the nights."""
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [
                retried("nord-stock-0604", NORD, "stock", datetime(2025, 6, 5, 3, 0)),
                retried("acme-sales-0603", ACME, "sales", datetime(2025, 6, 4, 6, 0)),
                retried("acme-fcst-0602", ACME, "forecast", datetime(2025, 6, 2, 7, 0)),
            ],
            "raw.stock_snapshots": [stock(*RETRIED_COUNT, 25.0, "nord-stock-0604", 2)],
            "raw.sales": [sales(*RETRIED_SALE, 6.0, 23.94, "acme-sales-0603", 2)],
            "raw.partner_forecasts": [
                (ACME, "S001", UPC_100, date(2025, 6, 2), date(2025, 6, 3), date(2025, 6, 9), 30.0, "acme-fcst-0602", 2)
            ],
        },
    )


def mark_untouched_count(warehouse: Path, merged_lines: int | None) -> int | None:
    """Set the sentinel resolved count's merged_lines (which nothing downstream reads) and return what it held."""
    with duckdb.connect(str(warehouse)) as conn:
        table = "intermediate.int_stock_resolved"
        (before,) = conn.execute(f"select merged_lines from {table} where {UNTOUCHED_COUNT}").fetchone()
        conn.execute(f"update {table} set merged_lines = ? where {UNTOUCHED_COUNT}", [merged_lines])
    return before


def deliver_before_replay(warehouse: Path) -> None:
    """Acme's resend of its 06-05 count and sales, received the evening of 06-10, reaches the ledger."""
    received = datetime(2025, 6, 10, 20, 0)
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [
                ledger("acme-stock-0605-fix", ACME, received, "stock"),
                ledger("acme-sales-0605-fix", ACME, received, "sales"),
            ],
            "raw.stock_snapshots": [stock(ACME, "S001", UPC_100, date(2025, 6, 5), 14.0, "acme-stock-0605-fix", 2)],
            "raw.sales": [
                sales(ACME, "S001", UPC_100, date(2025, 6, 5), date(2025, 6, 5), 5.0, 49.95, "acme-sales-0605-fix", 2)
            ],
        },
    )


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> dict:
    scratch = tmp_path_factory.mktemp("dbt_incremental")
    warehouse = scratch / "warehouse.duckdb"
    write_fixture(warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        # Counted in Nordkauf's 06-08 file (received 06-09), unmapped until the cross-reference learns it.
        conn.execute(
            f"insert into raw.stock_snapshots ({STOCK_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            stock(NORD, "DC1", "N-200", date(2025, 6, 3), 11.0, "nord-stock-0608", 4),
        )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CMI_DUCKDB_PATH", str(warehouse))
        night(date(2025, 6, 8), scratch, env)
        original_uom = mark_untouched_row(warehouse, "night 1")
        deliver_between_nights(warehouse)
        night(date(2025, 6, 10), scratch, env)
        # Still marked: night 2 re-computed its window and the late series, not all history.
        untouched_after_night_2 = mark_untouched_row(warehouse, original_uom)
        incremental = tables(warehouse)
        night(date(2025, 6, 10), scratch, env, full_refresh=True)
        full = tables(warehouse)
        deliver_before_replay(warehouse)
        original_merged_lines = mark_untouched_count(warehouse, -2)
        # Replaying an earlier night on top of a later one must not leave the later days behind.
        night(date(2025, 6, 9), scratch, env)
        untouched_after_replay = mark_untouched_count(warehouse, original_merged_lines)
        replayed = tables(warehouse)
        night(date(2025, 6, 9), scratch, env, full_refresh=True)
        replayed_full = tables(warehouse)
        # The night after the replay takes back what the replay dropped as received after its cut.
        night(date(2025, 6, 10), scratch, env)
        next_night = tables(warehouse)
        night(date(2025, 6, 10), scratch, env, full_refresh=True)
        next_night_full = tables(warehouse)
    return {
        "incremental": incremental,
        "full": full,
        "replayed": replayed,
        "replayed_full": replayed_full,
        "next_night": next_night,
        "next_night_full": next_night_full,
        "untouched_after_night_2": untouched_after_night_2,
        "untouched_after_replay": untouched_after_replay,
        "dbt_log": (scratch / "logs" / "dbt.log").read_text(encoding="utf-8"),
    }


def test_only_the_first_night_parses_the_whole_project(nights):
    """The nights share dbt's target folder, as nightly runs share the project's: from the second night on, dbt
    starts from the parse the night before saved, though the business date changed."""
    log = nights["dbt_log"]
    assert log.count("Unable to do partial parsing") == 1, [line for line in log.splitlines() if "partial pars" in line]
    assert "Unable to do partial parsing because config vars" not in log


def test_night_2_left_rows_outside_its_window_alone(nights):
    assert nights["untouched_after_night_2"] == "night 1"


def test_the_replayed_night_left_resolved_rows_before_its_late_resend_alone(nights):
    assert nights["untouched_after_replay"] == -2


@pytest.mark.parametrize("name", [*MART_KEYS, *KEPT_TABLES])
def test_an_incremental_night_gives_the_rows_of_a_full_refresh(nights, name):
    pd.testing.assert_frame_equal(nights["incremental"][name], nights["full"][name])


@pytest.mark.parametrize("name", [*INCREMENTAL_FACTS, *KEPT_TABLES])
def test_a_replayed_earlier_night_gives_the_rows_of_a_full_refresh(nights, name):
    replayed = nights["replayed"][name]
    if name not in STAGING_KEYS:  # staging keeps what was known, whatever day it reports (a count dated ahead)
        day_column = "forecast_date" if name == "int_partner_forecasts_resolved" else TABLE_KEYS_BY_NAME[name][-1]
        last_day = replayed[day_column].max()
        # The facts hold every day up to the business date; the resolved tables the days reported (none on 06-09).
        assert last_day == pd.Timestamp(2025, 6, 9) if name in MART_KEYS else last_day <= pd.Timestamp(2025, 6, 9)
    pd.testing.assert_frame_equal(replayed, nights["replayed_full"][name])


@pytest.mark.parametrize("name", [*INCREMENTAL_FACTS, *KEPT_TABLES])
def test_the_night_after_a_replay_gives_the_rows_of_a_full_refresh(nights, name):
    assert len(nights["next_night"][name]) >= len(nights["replayed"][name])
    pd.testing.assert_frame_equal(nights["next_night"][name], nights["next_night_full"][name])


def test_files_loaded_late_reach_every_table_though_they_arrived_before_its_rows(nights):
    """The retried early-June files arrived before every row night 1 built from, so only the time they loaded tells
    night 2 they are new: each table holds their rows, Nordkauf's espresso counted from 06-02 (six days before its
    first count) and Acme's filter coffee sold at S002 on 06-03."""
    tables = nights["incremental"]
    partner, location, ref, counted = RETRIED_COUNT
    staged_count = tables["stg_partner_feeds__stock"].set_index(["partner_id", "location_id", "product_ref"])
    staged = staged_count.loc[(partner, location, ref)].set_index("snapshot_date")
    assert staged.loc[pd.Timestamp(counted), "loaded_at"] == RETRIED_AT
    inventory = tables["fct_inventory_daily"].set_index([*SERIES, "inventory_date"]).loc[ESPRESSO_NORD, "on_hand_qty"]
    assert inventory.loc[pd.Timestamp(counted)] == 25.0
    assert inventory.loc[pd.Timestamp(2025, 6, 7)] == 25.0
    _, _, _, sold, _ = RETRIED_SALE
    sales_days = tables["fct_sales_daily"].set_index([*SERIES, "sales_date"])
    assert sales_days.loc[(*FILTER_S002, pd.Timestamp(sold)), "units_sold"] == 6.0
    forecasts = tables["stg_partner_feeds__forecasts"]
    assert (forecasts["source_file_id"] == "acme-fcst-0602").sum() == 1


def test_the_replayed_night_took_the_late_resend_older_than_its_window(nights):
    stock_counts = nights["replayed"]["int_stock_resolved"].set_index([*SERIES, "snapshot_date"])
    assert stock_counts.loc[(*ESPRESSO_S001, pd.Timestamp(2025, 6, 5)), "on_hand_qty"] == 14.0
    sales_periods = nights["replayed"]["int_sales_resolved"].set_index([*SERIES, "period_end"])
    assert sales_periods.loc[(*ESPRESSO_S001, pd.Timestamp(2025, 6, 5)), "units_sold"] == 5.0


def test_the_replayed_facts_drop_days_older_than_the_window_received_after_its_cut(nights):
    """Night 2's facts hold the counts and the daily figure received after the replayed night's cut, all older than
    that night's window; the replayed night starts the espresso's days at its first count known then, and carries
    the filter coffee's 06-05 count and spreads Nordkauf's week over the days after the rows it kept."""
    before = nights["incremental"]
    inventory = before["fct_inventory_daily"].set_index([*SERIES, "inventory_date"])
    columns = ["on_hand_qty", "received_at"]
    assert inventory.loc[(*ESPRESSO_S001, pd.Timestamp(2025, 6, 4)), columns].tolist() == [19.0, AFTER_REPLAY_CUT]
    assert inventory.loc[(*FILTER_S002, pd.Timestamp(2025, 6, 6)), columns].tolist() == [13.0, AFTER_REPLAY_CUT]
    sales_days = before["fct_sales_daily"].set_index([*SERIES, "sales_date"])
    columns = ["units_sold", "received_at"]
    assert sales_days.loc[(*ESPRESSO_NORD, pd.Timestamp(2025, 6, 6)), columns].tolist() == [9.0, AFTER_REPLAY_CUT]

    replayed = nights["replayed"]
    inventory = replayed["fct_inventory_daily"].set_index([*SERIES, "inventory_date"])
    assert inventory.loc[ESPRESSO_S001].index.min() == pd.Timestamp(2025, 6, 5)
    assert inventory.loc[(*ESPRESSO_S001, pd.Timestamp(2025, 6, 5)), "on_hand_qty"] == 14.0
    filter_coffee = inventory.loc[FILTER_S002]
    assert list(filter_coffee.index.day) == [5, 6, 7, 8, 9]
    assert (filter_coffee["on_hand_qty"] == 15.0).all()
    sales_days = replayed["fct_sales_daily"].set_index([*SERIES, "sales_date"]).loc[ESPRESSO_NORD]
    assert list(sales_days.index.day) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert sales_days.loc[pd.Timestamp(2025, 6, 6), "units_sold"] == 3.0


def test_the_late_resend_and_the_new_series_reach_back_before_the_window(nights):
    inventory = nights["incremental"]["fct_inventory_daily"].set_index([*SERIES, "inventory_date"])
    assert inventory.loc[(ACME, "S001", "SKU-100", pd.Timestamp(2025, 6, 6)), "on_hand_qty"] == 17.0
    assert inventory.loc[(ACME, "S001", "SKU-100", pd.Timestamp(2025, 6, 7)), "on_hand_qty"] == 17.0
    new_series = inventory.loc[(NORD, "DC1", "SKU-200")]
    assert new_series.index.min() == pd.Timestamp(2025, 6, 3)
    assert len(new_series) == 8


def test_a_fact_built_before_the_reported_stockout_column_is_rebuilt_whole(tmp_path, monkeypatch):
    """A warehouse whose daily sales (int_sales_daily, which the mart shows) predate is_reported_stockout get every
    row re-computed, not only the window: appending the column to old rows would leave it null where the partner did
    report a stock-out."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    night(date(2025, 6, 10), tmp_path, monkeypatch)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("alter table intermediate.int_sales_daily drop column is_reported_stockout")
    night(date(2025, 6, 10), tmp_path, monkeypatch)
    sales = tables(warehouse)["fct_sales_daily"]
    nord_tea = sales[(sales["partner_id"] == NORD) & (sales["product_id"] == "SKU-300")]
    censored = nord_tea.loc[nord_tea["is_reported_stockout"], "sales_date"]
    assert list(censored.dt.day) == [2, 3, 4, 5, 6, 7, 8], "the 852's week 23 reports the tea out of stock"
    assert nord_tea["is_stockout"][nord_tea["is_reported_stockout"]].all()
    assert sales["is_reported_stockout"].notna().all()
    # The mart shows exactly the spine's rows.
    with duckdb.connect(str(warehouse)) as conn:
        spine = conn.execute("select * from intermediate.int_sales_daily").df()
    keys = [*SERIES, "sales_date"]
    pd.testing.assert_frame_equal(
        sales.sort_values(keys).reset_index(drop=True),
        spine[list(sales.columns)].sort_values(keys).reset_index(drop=True),
    )


def warehouse_with_a_resend_received_06_11(tmp_path: Path, env: pytest.MonkeyPatch) -> Path:
    """The fixture warehouse with Acme's resend of its 06-05 count at S002, received 06-11 at 06:00."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [ledger("acme-stock-0605-fix", ACME, datetime(2025, 6, 11, 6, 0), "stock")],
            "raw.stock_snapshots": [stock(ACME, "S002", UPC_200, date(2025, 6, 5), 14.0, "acme-stock-0605-fix", 2)],
        },
    )
    env.setenv("CMI_DUCKDB_PATH", str(warehouse))
    return warehouse


def test_a_replayed_night_drops_resolved_rows_received_after_its_knowledge_cut(tmp_path, monkeypatch):
    """Night 06-10 (its cut 06-12 00:00) takes Acme's resend of its 06-05 count received 06-11; the replayed night
    06-09 (cut 06-11 00:00) could not know it, so it re-builds back to that day and has the original count again,
    though the day is older than its window and no file arrived since."""
    warehouse = warehouse_with_a_resend_received_06_11(tmp_path, monkeypatch)
    count = "partner_id = 'ACME' and location_id = 'S002' and snapshot_date = '2025-06-05'"
    read = f"select on_hand_qty, source_file_id from intermediate.int_stock_resolved where {count}"
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=("int_stock_resolved",))
    with duckdb.connect(str(warehouse)) as conn:
        assert conn.execute(read).fetchall() == [(14.0, "acme-stock-0605-fix")]
    night(date(2025, 6, 9), tmp_path, monkeypatch, models=("int_stock_resolved",))
    with duckdb.connect(str(warehouse)) as conn:
        assert conn.execute(read).fetchall() == [(15.0, "acme-stock-0605")]


def test_tables_built_before_rows_carried_their_load_time_are_extended_not_rebuilt(tmp_path, monkeypatch):
    """A warehouse whose resolved tables and facts predate `loaded_at` gets the column on the next night, which
    goes by arrival time alone this once: the rows outside its window stay as they were (their load time unknown),
    and the rows are a full refresh's otherwise."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    night(date(2025, 6, 8), tmp_path, monkeypatch)
    upgraded = ["intermediate.int_stock_resolved", "intermediate.int_sales_resolved", "intermediate.int_sales_daily"]
    upgraded.append("marts.fct_inventory_daily")
    with duckdb.connect(str(warehouse)) as conn:
        for table in upgraded:
            conn.execute(f"alter table {table} drop column loaded_at")
    night(date(2025, 6, 10), tmp_path, monkeypatch)
    extended = tables(warehouse)
    night(date(2025, 6, 10), tmp_path, monkeypatch, full_refresh=True)
    full = tables(warehouse)
    # Extended, not re-built: rows from before the upgrade keep no load time, where a full refresh gives each one.
    for name in ["int_stock_resolved", "fct_inventory_daily"]:
        assert extended[name]["loaded_at"].isna().any(), name
        assert full[name]["loaded_at"].notna().all(), name
    for name in ["int_stock_resolved", "int_sales_resolved", "fct_inventory_daily", "fct_sales_daily"]:
        columns = [column for column in full[name].columns if column != "loaded_at"]
        pd.testing.assert_frame_equal(extended[name][columns], full[name][columns], obj=name)


def test_a_resolved_table_is_not_built_from_staging_built_for_a_later_night(tmp_path, monkeypatch):
    """The staging tables hold what their night knew. Building a resolved table alone for an earlier night would
    resolve rows received after that night's cut: the build stops and says to build the staging models with it."""
    warehouse_with_a_resend_received_06_11(tmp_path, monkeypatch)
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=("int_stock_resolved",))
    for name, value in dbt_night_environment("2025-06-09").items():
        monkeypatch.setenv(name, value)
    dbt(["run", "--select", "int_stock_resolved"], tmp_path, succeed=False)
    log = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "was built for a later night" in log


def test_a_shipment_received_in_an_interval_older_than_the_window_reaches_the_reconciliation(tmp_path, monkeypatch):
    """Our shipments carry no delivery time. The supplier's file of the morning after night 06-10 adds a shipment
    it had left out, due at Acme's S001 on 06-06, between its counts of 06-05 and 06-08 and before the two-day
    window: the rerun of the night re-builds that interval from the receipts it compares, and gives a full
    refresh's rows."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    interval = "location_id = 'S001' and product_id = 'SKU-100' and reconciliation_date = '2025-06-08'"
    read = f"select received_qty, shipments_received from marts.stock_reconciliation where {interval}"
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=("stock_reconciliation",))
    with duckdb.connect(str(warehouse)) as conn:
        (before,) = conn.execute(read).fetchall()
        conn.execute(
            "insert into raw.shipments values ('SH-LATE', 'ACME', 'S001', 'SKU-100', ?, ?, 10.0)", [day(5), day(6)]
        )
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=("stock_reconciliation",))
    with duckdb.connect(str(warehouse)) as conn:
        (after,) = conn.execute(read).fetchall()
        incremental = conn.execute("select * from marts.stock_reconciliation order by all").df()
    assert after == (before[0] + 10.0, before[1] + 1)
    night(date(2025, 6, 10), tmp_path, monkeypatch, full_refresh=True, models=("stock_reconciliation",))
    with duckdb.connect(str(warehouse)) as conn:
        full = conn.execute("select * from marts.stock_reconciliation order by all").df()
    pd.testing.assert_frame_equal(incremental, full)


def test_a_replay_brings_back_reported_receipts_a_later_wider_period_superseded(tmp_path, monkeypatch):
    """Acme's S002 espresso counted 06-04 and 06-08; daily sales 06-05..06-08 (06-06 reports 10 received) received
    06-09. A weekly 852 for 06-02..06-08 (30 received) arrives 06-12 06:00: it straddles the 06-04 count, so it fits
    no interval, but int_partner_receipts_reported lets it supersede the daily ones. Replaying the night of 06-10
    (cut 06-12 00:00) must bring the daily receipts back into the 06-08 row, as a full refresh does."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    early = datetime(2025, 6, 9, 8, 0)
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [
                ledger("acme-s003-stock-0604", ACME, datetime(2025, 6, 5, 6, 0), "stock"),
                ledger("acme-s003-sales-daily", ACME, early, "sales"),
                ledger("acme-s003-sales-week", ACME, datetime(2025, 6, 12, 6, 0), "sales"),
            ],
            "raw.stock_snapshots": [
                stock(ACME, "S002", UPC_100, day(4), 9.0, "acme-s003-stock-0604", 2),
                stock(ACME, "S002", UPC_100, day(8), 15.0, "acme-s003-stock-0604", 3),
            ],
            "raw.sales": [
                sales(ACME, "S002", UPC_100, day(5), day(5), 1.0, 9.99, "acme-s003-sales-daily", 2),
                sales(ACME, "S002", UPC_100, day(6), day(6), 1.0, 9.99, "acme-s003-sales-daily", 3, received=10.0),
                sales(ACME, "S002", UPC_100, day(7), day(7), 1.0, 9.99, "acme-s003-sales-daily", 4),
                sales(ACME, "S002", UPC_100, day(8), day(8), 1.0, 9.99, "acme-s003-sales-daily", 5),
                sales(ACME, "S002", UPC_100, day(2), day(8), 7.0, 69.93, "acme-s003-sales-week", 2, received=30.0),
            ],
        },
    )
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    models = ("stock_reconciliation",)
    night(date(2025, 6, 12), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        seen_later = conn.execute(RECONCILED_RECEIPTS).fetchall()
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        replayed = conn.execute(RECONCILED_RECEIPTS).fetchall()
        replayed_all = conn.execute("select * from marts.stock_reconciliation order by all").df()
    night(date(2025, 6, 10), tmp_path, monkeypatch, full_refresh=True, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        full = conn.execute(RECONCILED_RECEIPTS).fetchall()
        full_all = conn.execute("select * from marts.stock_reconciliation order by all").df()
    assert seen_later[0][0] is None  # the weekly period straddles the 06-04 count: no interval holds it
    assert replayed == full
    pd.testing.assert_frame_equal(replayed_all, full_all)


def test_a_changed_tolerance_reaches_the_rows_older_than_the_window(tmp_path, monkeypatch):
    """The tolerance is a var: a full refresh applies a new one to every row, an incremental night only to its
    window."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=("stock_reconciliation",))
    variables = "{fact_lookback_days: 2, reconciliation_tolerance_units: 50}"
    read = "select reconciliation_date, tolerance_qty from marts.stock_reconciliation order by all"
    dbt(["run", "--select", "stock_reconciliation", "--vars", variables], tmp_path)
    with duckdb.connect(str(warehouse)) as conn:
        incremental = conn.execute(read).fetchall()
    dbt(["run", "--select", "stock_reconciliation", "--vars", variables, "--full-refresh"], tmp_path)
    with duckdb.connect(str(warehouse)) as conn:
        full = conn.execute(read).fetchall()
    assert incremental == full


def test_a_count_without_on_hand_before_the_window_stays_without_it(tmp_path, monkeypatch):
    """S002's espresso counted 06-04 (9), 06-07 with no on-hand figure, 06-09 (10). The rerun re-builds from the
    window (06-09): the count before the window keeps its missing on-hand figure, as the full refresh's lag does."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [ledger("acme-s002-stock", ACME, datetime(2025, 6, 9, 8, 0), "stock")],
            "raw.stock_snapshots": [
                stock(ACME, "S002", UPC_100, day(4), 9.0, "acme-s002-stock", 2),
                stock(ACME, "S002", UPC_100, day(7), None, "acme-s002-stock", 3),
                stock(ACME, "S002", UPC_100, day(9), 10.0, "acme-s002-stock", 4),
            ],
        },
    )
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    read = (
        "select count_date, previous_count_date, previous_on_hand_qty from intermediate.int_stock_changes_explained"
        " where location_id = 'S002' and product_id = 'SKU-100' order by all"
    )
    models = ("int_stock_changes_explained",)
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=models)
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        incremental = conn.execute(read).fetchall()
    night(date(2025, 6, 10), tmp_path, monkeypatch, full_refresh=True, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        full = conn.execute(read).fetchall()
    assert incremental == full


def test_a_resend_without_receipts_takes_the_reported_receipts_out(tmp_path, monkeypatch):
    """S002's espresso counted 06-04 and 06-08, with daily sales for 06-05..06-08 and a four-day 852 line for
    06-05..06-08 reporting 10 received. The 852 is resent 06-12 from a file that reports no receipts: the resend wins
    the key in int_sales_resolved, so the line leaves int_partner_receipts_reported; the daily lines keep winning
    every day in int_sales_daily, so no stock change is new. A normal rerun of 06-12 must drop the 10, as a full
    refresh does."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [
                ledger("acme-s002-stock", ACME, datetime(2025, 6, 9, 8, 0), "stock"),
                ledger("acme-s002-daily", ACME, datetime(2025, 6, 9, 8, 0), "sales"),
                ledger("acme-s002-852", ACME, datetime(2025, 6, 9, 9, 0), "sales"),
            ],
            "raw.stock_snapshots": [
                stock(ACME, "S002", UPC_100, day(4), 9.0, "acme-s002-stock", 2),
                stock(ACME, "S002", UPC_100, day(8), 15.0, "acme-s002-stock", 3),
            ],
            "raw.sales": [
                *[sales(ACME, "S002", UPC_100, day(d), day(d), 1.0, 9.99, "acme-s002-daily", d) for d in (5, 6, 7, 8)],
                sales(ACME, "S002", UPC_100, day(5), day(8), 4.0, 39.96, "acme-s002-852", 2, received=10.0),
            ],
        },
    )
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    models = ("stock_reconciliation",)
    night(date(2025, 6, 12), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        before = conn.execute(RECONCILED_RECEIPTS).fetchall()
    write_fixture(
        warehouse,
        {
            "raw.feed_files": [ledger("acme-s002-852-resend", ACME, datetime(2025, 6, 12, 10, 0), "sales")],
            "raw.sales": [sales(ACME, "S002", UPC_100, day(5), day(8), 4.0, 39.96, "acme-s002-852-resend", 2)],
        },
    )
    night(date(2025, 6, 12), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        incremental = conn.execute(RECONCILED_RECEIPTS).fetchall()
    night(date(2025, 6, 12), tmp_path, monkeypatch, full_refresh=True, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        full = conn.execute(RECONCILED_RECEIPTS).fetchall()
    assert before[0][:2] == (10.0, 10.0)
    assert incremental == full


def test_receipts_kept_in_another_shape_rebuild_the_reconciliation_whole(tmp_path, monkeypatch):
    """The receipts a build kept, in a shape an earlier version wrote, cannot be compared: the next night builds the
    reconciliation whole (a row marked outside the window goes back to what a full refresh gives) and keeps the
    receipts in the current shape."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_fixture(warehouse)
    monkeypatch.setenv("CMI_DUCKDB_PATH", str(warehouse))
    models = ("stock_reconciliation",)
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=models)
    kept = "intermediate.stock_reconciliation_receipts_used"
    with duckdb.connect(str(warehouse)) as conn:
        columns = [row[0] for row in conn.execute(f"describe {kept}").fetchall()]
        conn.execute(f"create or replace table {kept} as select shipment_id, first_day, qty from {kept}")
        marked = conn.execute(
            "update marts.stock_reconciliation set gap_qty = -999 where reconciliation_date < '2025-06-09'"
        ).fetchone()[0]
    assert marked > 0
    night(date(2025, 6, 10), tmp_path, monkeypatch, models=models)
    with duckdb.connect(str(warehouse)) as conn:
        assert [row[0] for row in conn.execute(f"describe {kept}").fetchall()] == columns
        assert conn.execute("select count(*) from marts.stock_reconciliation where gap_qty = -999").fetchone() == (0,)
