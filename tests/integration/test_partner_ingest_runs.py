"""The landing sensor's per-partner runs, in process: one partner's bad file or failing run never stops another.

Each test lets the real sensor look at a temporary landing folder and runs every request it makes through the
`ingest_feeds` job with the request's own selection, run config, partition and tags, as the daemon would.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.feeds.contracts import FEED_LEDGER_TABLE
from assets.feeds.loading import loader
from assets.ingest import PARTNER_FEED_KEYS, partner_feeds, supplier_master_data
from orchestration.jobs import ingest_job
from orchestration.runtime import settings
from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse
from orchestration.sensors import landing_sensor

pytestmark = pytest.mark.integration

PARTNER_CONFIGS = settings.PROJECT_ROOT / "data" / "partners"
DELIVERED = 1_751_275_000  # 2025-06-30, long settled

REDWOOD_STOCK = "store_nbr,upc,inventory_date,on_hand_units\n1042,084215010016,2025-06-29,30\n"
REDWOOD_SALES = (
    "store_nbr,upc,business_date,units_sold,units_returned,net_sales_usd,on_promo\n"
    "1042,084215010016,2025-06-29,7,0,83.65,N\n"
    "1042,084215010023,2025-06-29,2,0,28.46,Y\n"
)
HANSA_STOCK = "Filiale;EAN;Datum;Bestand\r\nF012;0084215010016;29.06.2025;1.204\r\n"


def deliver(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    os.utime(path, (DELIVERED, DELIVERED))


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """Two partners' deliveries, their feed configs and an empty warehouse, all under tmp_path."""
    landing = tmp_path / "landing"
    deliver(landing / "redwood_grocers" / "inventory_20250629.csv", REDWOOD_STOCK)
    deliver(landing / "redwood_grocers" / "sales_20250629.csv", REDWOOD_SALES)
    deliver(landing / "hansa_handel" / "Bestand_20250629.csv", HANSA_STOCK, "utf-8-sig")
    configs = tmp_path / "partners"
    configs.mkdir()
    for partner in ("redwood_grocers", "hansa_handel"):
        shutil.copy(PARTNER_CONFIGS / f"{partner}.yaml", configs)
    monkeypatch.setenv(settings.LANDING_ENV, str(landing))
    monkeypatch.setenv(settings.PARTNER_CONFIG_ENV, str(configs))
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(settings.TIMEZONE_ENV, "UTC")
    return tmp_path


@pytest.fixture
def definitions(site) -> dg.Definitions:
    return dg.Definitions(
        assets=[supplier_master_data, partner_feeds],
        jobs=[ingest_job],
        sensors=[landing_sensor(ingest_job)],
        resources={"warehouse": Warehouse(), "feed_folders": FeedFolders(), "artefacts": Artefacts()},
    )


def run_sensor_requests(definitions: dg.Definitions) -> dict[str, dg.ExecuteInProcessResult]:
    """Evaluate the sensor once and execute each of its run requests; results keyed by the run's partner."""
    sensor = definitions.resolve_sensor_def("partner_landing")
    job = definitions.resolve_job_def("ingest_feeds")
    results = {}
    with dg.DagsterInstance.ephemeral() as instance:
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=definitions))
        for request in tick.run_requests:
            results[request.tags["cmi/partner"]] = job.execute_in_process(
                run_config=request.run_config,
                partition_key=request.partition_key,
                asset_selection=request.asset_selection,
                tags=request.tags,
                instance=instance,
                raise_on_error=False,
            )
    return results


def ledger(site: Path) -> dict[str, str]:
    with duckdb.connect(str(site / "warehouse.duckdb"), read_only=True) as conn:
        return dict(conn.execute(f"select path, status from {FEED_LEDGER_TABLE}").fetchall())


def sales_rows(site: Path, partner_id: str) -> int:
    with duckdb.connect(str(site / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute("select count(*) from raw.sales where partner_id = ?", [partner_id]).fetchone()[0]


def ledger_metadata(result: dg.ExecuteInProcessResult) -> dict:
    (materialization,) = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey(["raw", "feed_files"])
    ]
    return materialization.metadata


def test_a_bad_file_stays_in_its_partners_run_and_both_runs_load(site, definitions):
    deliver(site / "landing" / "hansa_handel" / "Bestand_20250630.csv", HANSA_STOCK, "utf-16")
    results = run_sensor_requests(definitions)
    assert set(results) == {"hansa_handel", "redwood_grocers"}
    assert all(result.success for result in results.values())
    assert ledger(site) == {
        "hansa_handel/Bestand_20250629.csv": "loaded",
        "hansa_handel/Bestand_20250630.csv": "quarantined",
        "redwood_grocers/inventory_20250629.csv": "loaded",
        "redwood_grocers/sales_20250629.csv": "loaded",
    }
    assert sales_rows(site, "redwood_grocers") == 2
    hansa = ledger_metadata(results["hansa_handel"])
    assert hansa["partners"].value == ["hansa_handel"]
    assert hansa["new_files_by_status"].value == {"loaded": 1, "quarantined": 1, "duplicate": 0}
    assert ledger_metadata(results["redwood_grocers"])["new_files_by_status"].value["quarantined"] == 0
    materialized = {event.asset_key for event in results["redwood_grocers"].get_asset_materialization_events()}
    assert materialized == set(PARTNER_FEED_KEYS), "a partner run does not reload supplier master data"


def test_a_broken_partner_config_quarantines_only_that_partners_files(site, definitions):
    (site / "partners" / "hansa_handel.yaml").write_text("partner_id: hansa_handel\nfiles: [\n")
    results = run_sensor_requests(definitions)
    assert results["redwood_grocers"].success
    assert results["hansa_handel"].success, "recorded in the ledger, not a run that fails every time"
    broken = ledger_metadata(results["hansa_handel"])["broken_partner_configs"].value
    assert list(broken) == ["hansa_handel"] and "invalid YAML" in broken["hansa_handel"]
    assert sales_rows(site, "redwood_grocers") == 2
    assert ledger(site) == {
        "hansa_handel/Bestand_20250629.csv": "quarantined",
        "redwood_grocers/inventory_20250629.csv": "loaded",
        "redwood_grocers/sales_20250629.csv": "loaded",
    }


def test_a_run_that_crashes_mid_load_does_not_touch_the_other_partner(site, definitions, monkeypatch):
    real_ledger_row = loader.insert_ledger_row

    # The ledger row is written last in a file's transaction, after its rows (by pandas or by DuckDB's reader).
    def fail_for_redwood(connection, row):
        if row["partner_id"] == "redwood_grocers" and row["status"] == "loaded":
            raise RuntimeError("disk full")
        real_ledger_row(connection, row)

    monkeypatch.setattr(loader, "insert_ledger_row", fail_for_redwood)
    results = run_sensor_requests(definitions)
    assert not results["redwood_grocers"].success
    assert results["hansa_handel"].success
    assert ledger(site) == {"hansa_handel/Bestand_20250629.csv": "loaded"}
    assert sales_rows(site, "redwood_grocers") == 0, "the failed file left nothing behind"


def test_without_partner_config_a_run_ingests_every_partner(site, definitions):
    result = definitions.resolve_job_def("ingest_feeds").execute_in_process(
        partition_key="2025-06-30", asset_selection=PARTNER_FEED_KEYS
    )
    assert result.success
    assert ledger_metadata(result)["partners"].value == ["hansa_handel", "redwood_grocers"]
    assert ledger_metadata(result)["partner_scope"].value == "all partners"
    assert set(ledger(site)) == {
        "hansa_handel/Bestand_20250629.csv",
        "redwood_grocers/inventory_20250629.csv",
        "redwood_grocers/sales_20250629.csv",
    }
