"""Landing sensor: which files count as settled deliveries, and one ingestion run request per partner folder."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import PARTNER_FEED_KEYS, SUPPLIER_MASTER_DATA_KEYS, partner_feeds, supplier_master_data
from orchestration.jobs import ingest_job
from orchestration.runtime import settings
from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse
from orchestration.sensors import (
    folder_run_key,
    ingest_run_requests,
    landing_fingerprints,
    landing_sensor,
    new_deliveries,
    partner_limits,
    partner_run_config,
)
from tests.unit.test_partner_config import VALID, write_config

SETTLED = 1_700_000_000


def write(path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_only_settled_files_are_seen(tmp_path):
    write(tmp_path / "redwood" / "sales_1.csv", "a", 1000)
    write(tmp_path / "redwood" / "sales_2.csv", "b", 1095)
    seen = landing_fingerprints(tmp_path, now=1100, quiet_seconds=30)
    assert list(seen) == ["redwood/sales_1.csv"]


def test_new_and_changed_files_are_grouped_by_partner(tmp_path):
    write(tmp_path / "redwood" / "sales_1.csv", "a", 1000)
    write(tmp_path / "_supplier" / "products.csv", "p", 1000)
    first = landing_fingerprints(tmp_path, now=2000)
    assert new_deliveries({}, first) == {"_supplier": ["_supplier/products.csv"], "redwood": ["redwood/sales_1.csv"]}
    assert new_deliveries(first, first) == {}
    write(tmp_path / "redwood" / "sales_1.csv", "corrected", 1500)
    write(tmp_path / "hansa" / "Bestand_1.csv", "x", 1500)
    second = landing_fingerprints(tmp_path, now=2000)
    assert new_deliveries(first, second) == {"hansa": ["hansa/Bestand_1.csv"], "redwood": ["redwood/sales_1.csv"]}


def test_missing_landing_folder_is_no_delivery(tmp_path):
    assert landing_fingerprints(tmp_path / "absent", now=0) == {}


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("redwood/sales_1.csv", True),
        ("redwood/edi/852_1.edi", True),
        ("_supplier/products.csv", True),
        ("notes.txt", False),  # directly in the landing folder: no partner
        ("_archive/redwood/sales_1.csv", False),
        (".tmp/sales_1.csv", False),
        ("redwood/.sales_1.csv.part", False),
        ("redwood/_done/sales_1.csv", False),
    ],
)
def test_deliveries_are_the_files_ingestion_reads(relative, expected, tmp_path):
    write(tmp_path / relative, "x", 1000)
    assert (relative in landing_fingerprints(tmp_path, now=2000)) is expected


def test_each_partner_folder_is_walked_with_its_own_limits(tmp_path):
    landing, configs = tmp_path / "landing", tmp_path / "partners"
    configs.mkdir()
    write_config(configs, {**VALID, "partner_id": "shallow", "limits": {"max_folder_depth": 2}})
    write_config(configs, {**VALID, "partner_id": "deep"})
    (configs / "broken.yaml").write_text("partner_id: [unclosed", encoding="utf-8")
    for partner in ("shallow", "deep", "broken"):
        write(landing / partner / "a" / "sales_1.csv", "x", 1000)
        write(landing / partner / "a" / "b" / "sales_2.csv", "x", 1000)
    limits = partner_limits(configs)
    assert set(limits) == {"shallow", "deep"}, "a broken partner file is left out, the others are read"
    seen = landing_fingerprints(landing, now=2000, limits=limits)
    assert seen == {
        "broken/a/b/sales_2.csv": "1:1000",  # walked with the default limits, as ingestion walks it
        "broken/a/sales_1.csv": "1:1000",
        "deep/a/b/sales_2.csv": "1:1000",
        "deep/a/sales_1.csv": "1:1000",
        "shallow/a/b": "refused",  # deeper than its max_folder_depth of 2: ingestion refuses it
        "shallow/a/sales_1.csv": "1:1000",
    }
    assert partner_limits(tmp_path / "absent") == {}


def test_run_key_names_the_folder_state_not_the_tick():
    current = {"hansa/a.csv": "1:10", "redwood/a.csv": "1:10", "redwood/b.csv": "2:20"}
    key = folder_run_key("redwood", current)
    assert key.startswith("redwood:")
    assert folder_run_key("redwood", dict(reversed(current.items()))) == key, "order does not matter"
    assert folder_run_key("redwood", current | {"hansa/b.csv": "3:30"}) == key, "other partners do not matter"
    assert folder_run_key("redwood", current | {"redwood/b.csv": "2:21"}) != key, "a re-sent file is a new state"
    assert folder_run_key("redwood", current | {"redwood/c.csv": "1:10"}) != key


def test_one_request_per_folder_scoped_to_it():
    files = ["_supplier/products.csv", "hansa/a.csv", "redwood/a.csv", "redwood/b.csv"]
    current = dict.fromkeys(files, "1:10")
    supplier, hansa, redwood = ingest_run_requests({}, current, "2025-06-30")
    assert supplier.asset_selection == SUPPLIER_MASTER_DATA_KEYS and supplier.run_config == {}
    assert hansa.asset_selection == PARTNER_FEED_KEYS and hansa.run_config == partner_run_config("hansa")
    assert redwood.run_config == {"ops": {"partner_feeds": {"config": {"partners": ["redwood"]}}}}
    assert {request.partition_key for request in (hansa, redwood)} == {"2025-06-30"}
    assert supplier.partition_key is None, "master data is unpartitioned"
    assert [request.tags["cmi/partner"] for request in (supplier, hansa, redwood)] == ["_supplier", "hansa", "redwood"]
    assert {request.tags["cmi/trigger"] for request in (supplier, hansa, redwood)} == {"landing"}

    (again,) = ingest_run_requests(current, current | {"redwood/c.csv": "1:20"}, "2025-06-30")
    assert again.tags["cmi/partner"] == "redwood" and again.run_key != redwood.run_key


@pytest.fixture
def landing(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "landing"
    write(root / "redwood_grocers" / "sales_20250629.csv", "store_nbr,upc\n", SETTLED)
    write(root / "redwood_grocers" / "inventory_20250629.csv", "store_nbr,upc\n", SETTLED)
    write(root / "hansa_handel" / "Bestand_20250629.csv", "Filiale;EAN\n", SETTLED)
    write(root / "_supplier" / "products.csv", "product_id\n", SETTLED)
    write(root / "readme.txt", "not a delivery", SETTLED)
    monkeypatch.setenv(settings.LANDING_ENV, str(root))
    monkeypatch.setenv(settings.TIMEZONE_ENV, "UTC")
    return root


@pytest.fixture
def definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[supplier_master_data, partner_feeds],
        jobs=[ingest_job],
        sensors=[landing_sensor(ingest_job)],
        resources={
            "warehouse": Warehouse(),
            "feed_folders": FeedFolders(),
            "artefacts": Artefacts(),
        },  # resolved only when a run opens them
    )


def tick(definitions: dg.Definitions, cursor: str | None = None):
    sensor = definitions.resolve_sensor_def("partner_landing")
    return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, definitions=definitions))


def test_sensor_requests_one_run_per_partner_and_one_for_master_data(landing, definitions):
    first = tick(definitions)
    by_folder = {request.tags["cmi/partner"]: request for request in first.run_requests}
    assert list(by_folder) == ["_supplier", "hansa_handel", "redwood_grocers"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert {by_folder[partner].partition_key for partner in ("hansa_handel", "redwood_grocers")} == {yesterday}
    assert by_folder["_supplier"].partition_key is None
    assert by_folder["redwood_grocers"].run_config == {
        "ops": {"partner_feeds": {"config": {"partners": ["redwood_grocers"]}}}
    }
    assert by_folder["hansa_handel"].asset_selection == PARTNER_FEED_KEYS
    assert by_folder["_supplier"].asset_selection == SUPPLIER_MASTER_DATA_KEYS

    job = definitions.resolve_job_def("ingest_feeds")
    for request in first.run_requests:
        subset = job.get_subset(asset_selection=set(request.asset_selection))
        assert dg.validate_run_config(subset, request.run_config), "the request's config fits its selection"

    assert [request.run_key for request in tick(definitions).run_requests] == [
        request.run_key for request in first.run_requests
    ], "the same landing state gives the same run keys"
    quiet = tick(definitions, cursor=first.cursor)
    assert quiet.run_requests == [] and quiet.skip_message == "no new partner files"


def test_sensor_asks_again_only_for_the_partner_that_delivered(landing, definitions):
    first = tick(definitions)
    write(landing / "hansa_handel" / "Bestand_20250630.csv", "Filiale;EAN\n", SETTLED + 86_400)
    write(landing / "redwood_grocers" / "sales_20250630.csv", "still being written", datetime.now().timestamp())
    (second,) = tick(definitions, cursor=first.cursor).run_requests
    assert second.tags["cmi/partner"] == "hansa_handel"
    assert second.run_config == partner_run_config("hansa_handel")
    first_hansa = next(request for request in first.run_requests if request.tags["cmi/partner"] == "hansa_handel")
    assert second.run_key != first_hansa.run_key


def test_the_sensor_walks_the_landing_as_ingestion_does_and_follows_no_link(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    write(outside / "passwd", "root:x:0:0", 1000)
    write(outside / "elsewhere" / "sales_9.csv", "x", 1000)
    write(landing / "redwood" / "sales_1.csv", "a", 1000)
    write(landing / "redwood" / "_processed" / "sales_0.csv", "old", 1000)
    write(landing / "redwood" / ".sales_2.csv.part", "uploading", 1000)
    write(landing / "_supplier" / "products.csv", "p", 1000)
    (landing / "redwood" / "passwd.csv").symlink_to(outside / "passwd")
    (landing / "redwood" / "linked").symlink_to(outside / "elsewhere")
    (landing / "alias").symlink_to(outside / "elsewhere")
    os.mkfifo(landing / "redwood" / "pipe.csv")
    seen = landing_fingerprints(landing, now=2000)
    assert seen == {
        "_supplier/products.csv": "1:1000",
        "alias": "refused",
        "redwood/linked": "refused",
        "redwood/passwd.csv": "refused",
        "redwood/pipe.csv": "refused",
        "redwood/sales_1.csv": "1:1000",
    }
    assert new_deliveries({}, seen)["redwood"] == [
        "redwood/linked",
        "redwood/passwd.csv",
        "redwood/pipe.csv",
        "redwood/sales_1.csv",
    ]
