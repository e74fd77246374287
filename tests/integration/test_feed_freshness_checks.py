"""Feed freshness checks in process: a hand-built ledger and partner master data in a temp DuckDB, temp partner YAMLs.

The night of 2025-06-30 is judged as it stood at the end of 1 July in each partner's zone: Hansa's stock file came
3.2 h after its agreed cut-off (WARN), Redwood's stock has been missing since 28 June behind a quarantined file
(ERROR), Hansa's sales and forecast came on time (pass).
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.freshness import FEED_ASSET_KEYS
from orchestration.jobs import (
    FEED_FRESHNESS_JOB_NAME,
    FEED_FRESHNESS_SCHEDULE_NAME,
    NIGHTLY_JOB_NAME,
    feed_freshness_definitions,
)
from orchestration.runtime import settings
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Warehouse

pytestmark = pytest.mark.integration

NIGHT = date(2025, 6, 30)

HANSA_YAML = """\
partner_id: hansa_handel
name: Hansa Handel GmbH
country: DE
timezone: Europe/Berlin
currency: EUR
feed_cutoff: "05:00"   # master data agrees on 06:00, and master data wins
files:
  - record_type: stock
    pattern: "Bestand_*.csv"
    columns: {location_id: Filiale, product_ref: EAN, as_of_date: Datum, on_hand_qty: Bestand}
  - record_type: sales
    pattern: "Abverkauf_*.csv"
    columns: {location_id: Filiale, product_ref: EAN, period_start: Datum, units_sold: Menge}
  - record_type: forecast
    pattern: "Prognose_*.csv"
    columns:
      location_id: Filiale
      product_ref: EAN
      forecast_date: Erstellt
      target_period_start: Von
      target_period_end: Bis
      forecast_qty: Menge
"""

REDWOOD_YAML = """\
partner_id: redwood_grocers
name: Redwood Grocers
country: US
timezone: America/Chicago
currency: USD
feed_cutoff: "06:00"
files:
  - record_type: stock
    pattern: "inventory_*.csv"
    columns: {location_id: store_nbr, product_ref: upc, as_of_date: inventory_date, on_hand_qty: on_hand_units}
"""


def naive_utc(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)


BERLIN, CHICAGO = "Europe/Berlin", "America/Chicago"
LEDGER = [
    # source_file_id, partner_id, path, received_at (naive UTC), record_type, status
    ("h-stock-29", "hansa_handel", "Bestand_20250629.csv", naive_utc(BERLIN, 2025, 6, 30, 3), "stock", "loaded"),
    ("h-stock-30", "hansa_handel", "Bestand_20250630.csv", naive_utc(BERLIN, 2025, 7, 1, 9, 12), "stock", "loaded"),
    ("h-sales-30", "hansa_handel", "Abverkauf_20250630.csv", naive_utc(BERLIN, 2025, 7, 1, 4), "sales", "loaded"),
    ("h-fc-30", "hansa_handel", "Prognose_20250630.csv", naive_utc(BERLIN, 2025, 6, 30, 4), "forecast", "loaded"),
    ("r-stock-27", "redwood_grocers", "inventory_20250627.csv", naive_utc(CHICAGO, 2025, 6, 28, 3), "stock", "loaded"),
    (
        "r-stock-30",
        "redwood_grocers",
        "inventory_20250630.csv",
        naive_utc(CHICAGO, 2025, 7, 1, 3),
        "stock",
        "quarantined",
    ),
]


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    configs = tmp_path / "partners"
    configs.mkdir()
    (configs / "hansa_handel.yaml").write_text(HANSA_YAML, encoding="utf-8")
    (configs / "redwood_grocers.yaml").write_text(REDWOOD_YAML, encoding="utf-8")
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(path))
    monkeypatch.setenv(settings.PARTNER_CONFIG_ENV, str(configs))
    monkeypatch.setenv(settings.TIMEZONE_ENV, "UTC")
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path))
    with duckdb.connect(str(path)) as conn:
        ensure_raw_schema(conn)
        conn.executemany(
            "insert into raw.partners values (?, ?, ?, ?, ?, ?)",
            [
                ("hansa_handel", "Hansa Handel GmbH", "DE", BERLIN, "EUR", "06:00"),
                ("redwood_grocers", "Redwood Grocers", "US", CHICAGO, "USD", "06:00"),
            ],
        )
        conn.executemany(
            "insert into raw.feed_files (source_file_id, partner_id, path, received_at, record_type, status) "
            "values (?, ?, ?, ?, ?, ?)",
            LEDGER,
        )
        # The late stock file reports the 30th; its line dated 5 July (a planned count) does not make it newer.
        conn.executemany(
            "insert into raw.stock_snapshots (partner_id, location_id, product_ref, as_of_date, on_hand_qty, "
            "source_file_id) values ('hansa_handel', 'F012', '4012345000016', ?, 5, 'h-stock-30')",
            [[date(2025, 6, 30)], [date(2025, 7, 5)]],
        )
        conn.execute(
            "insert into raw.partner_forecasts (partner_id, location_id, product_ref, forecast_date, forecast_qty, "
            "source_file_id) values ('hansa_handel', 'F012', '4012345000016', ?, 12, 'h-fc-30')",
            [date(2025, 6, 30)],
        )
    return path


def freshness():
    return feed_freshness_definitions(settings.partner_config_dir(), settings.schedule_timezone())


@dg.multi_asset(specs=[dg.AssetSpec(key) for key in FEED_ASSET_KEYS.values()], partitions_def=NIGHTLY_PARTITIONS)
def raw_feeds_already_loaded():
    """Stands in for ingestion, which the hand-built ledger replaces."""
    for key in FEED_ASSET_KEYS.values():
        yield dg.MaterializeResult(asset_key=key)


def results_by_check(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def stored(path, as_of: date):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(
            'select check_name, asset_key, partner_id, "column", severity, passed, '
            "json_extract_string(observed_value, '$.status') as status, "
            "cast(json_extract(observed_value, '$.hours_late') as double) as hours_late, "
            "cast(json_extract(observed_value, '$.hours_overdue') as double) as hours_overdue "
            "from quality.check_results where suite = 'feed_freshness' and as_of_date = ? order by check_name",
            [as_of],
        ).df()


def run_night(path) -> dg.ExecuteInProcessResult:
    """As the nightly job runs them: after the raw feed assets, in a run for the night's partition."""
    return dg.materialize(
        [raw_feeds_already_loaded, *freshness().asset_checks],
        partition_key=NIGHT.isoformat(),
        resources={"warehouse": Warehouse(path=str(path))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_late_is_a_warning_missing_is_an_error_and_on_time_passes(warehouse):
    result = run_night(warehouse)
    assert result.success, "freshness checks never fail the run"
    checks = results_by_check(result)
    assert set(checks) == {
        "hansa_handel__stock_fresh",
        "hansa_handel__sales_fresh",
        "hansa_handel__forecast_fresh",
        "redwood_grocers__stock_fresh",
    }

    late = checks["hansa_handel__stock_fresh"]
    assert late.asset_key == dg.AssetKey(["raw", "stock_snapshots"])
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    metadata = {name: value.value for name, value in late.metadata.items()}
    assert metadata["status"] == "late"
    assert metadata["hours_late"] == pytest.approx(3.2)  # against the agreed 06:00, not the YAML's 05:00
    assert metadata["last_delivered_business_date"] == "2025-06-30"
    assert metadata["due_at_local"] == "2025-07-01T06:00+02:00"
    assert metadata["due_at_utc"] == "2025-07-01T04:00+00:00"

    missing = checks["redwood_grocers__stock_fresh"]
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.ERROR
    metadata = {name: value.value for name, value in missing.metadata.items()}
    assert metadata["status"] == "missing"
    assert metadata["business_date"] == "2025-06-28"  # the quarantined file of the 30th does not count
    assert metadata["last_delivered_business_date"] == "2025-06-27"
    assert metadata["hours_overdue"] == pytest.approx(66.0)  # 29 June 06:00 CDT to 2 July 00:00 CDT
    assert metadata["due_at_local"] == "2025-06-29T06:00-05:00"

    assert checks["hansa_handel__sales_fresh"].passed
    assert checks["hansa_handel__forecast_fresh"].passed
    assert {name: value.value for name, value in checks["hansa_handel__forecast_fresh"].metadata.items()}[
        "business_date"
    ] == "2025-06-30"


def test_results_are_stored_for_analysts_once_per_night(warehouse):
    run_night(warehouse)
    rows = stored(warehouse, NIGHT).set_index("check_name")
    assert list(rows.index) == [
        "hansa_handel__forecast_fresh",
        "hansa_handel__sales_fresh",
        "hansa_handel__stock_fresh",
        "redwood_grocers__stock_fresh",
    ]
    assert rows.loc["hansa_handel__stock_fresh", "status"] == "late"
    assert rows.loc["hansa_handel__stock_fresh", "hours_late"] == pytest.approx(3.2)
    assert rows.loc["hansa_handel__stock_fresh", "asset_key"] == "raw/stock_snapshots"
    assert rows.loc["hansa_handel__stock_fresh", "column"] == "stock"
    assert rows.loc["redwood_grocers__stock_fresh", "status"] == "missing"
    assert rows.loc["redwood_grocers__stock_fresh", "hours_overdue"] == pytest.approx(66.0)
    assert rows["passed"].tolist() == [True, True, False, False]
    # Never `error`: that would hold the partner at the data gate, and a late feed is no reason to stop shipping.
    assert set(rows["severity"]) == {"warning"}
    run_night(warehouse)
    assert len(stored(warehouse, NIGHT)) == 4


def test_the_check_only_job_judges_now_without_loading_anything(warehouse):
    definitions = freshness()
    job = dg.Definitions(
        assets=[raw_feeds_already_loaded],
        asset_checks=definitions.asset_checks,
        jobs=definitions.jobs,
        resources={"warehouse": Warehouse(path=str(warehouse))},
    ).resolve_job_def(FEED_FRESHNESS_JOB_NAME)
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert result.get_asset_materialization_events() == []
    checks = results_by_check(result)
    assert len(checks) == 4
    # Judged today, long after the last delivery: every feed is missing past its cut-off and grace.
    assert {evaluation.severity for evaluation in checks.values()} == {dg.AssetCheckSeverity.ERROR}
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert len(stored(warehouse, yesterday)) == 4


def test_the_code_location_has_the_checks_their_job_and_a_stopped_hourly_schedule():
    from orchestration.definitions import defs

    definitions = defs()
    expected = {
        dg.AssetCheckKey(FEED_ASSET_KEYS[record_type], f"{partner}__{record_type}_fresh")
        for partner in ("hansa_handel", "huaxin_retail", "redwood_grocers")
        for record_type in ("stock", "sales", "forecast")
    }
    job = definitions.resolve_job_def(FEED_FRESHNESS_JOB_NAME)
    assert set(job.asset_layer.asset_graph.asset_check_keys) == expected
    assert not job.asset_layer.executable_asset_keys
    nightly = definitions.resolve_job_def(NIGHTLY_JOB_NAME)
    assert expected <= set(nightly.asset_layer.asset_graph.asset_check_keys)
    schedule = definitions.resolve_schedule_def(FEED_FRESHNESS_SCHEDULE_NAME)
    assert schedule.cron_schedule == "15 * * * *"
    assert schedule.job_name == FEED_FRESHNESS_JOB_NAME
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
