"""Hostile and careless deliveries (``hostile_cases.py``) against a small demo landing, one case at a time.

For each case: the other partners' loaded rows are exactly those of a clean landing, the delivery is in the ledger
with its reason, and nothing outside the data folder is read into the warehouse, quarantine or archive, or written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from assets.feeds.contracts import FEED_LEDGER_TABLE, FEED_REJECTS_TABLE, RAW_FEED_TABLES
from assets.feeds.loading.loader import ingest_landing
from assets.ingest import partner_configs_for
from tests.unit.hostile_cases import CASES, SECRET, HostileEnv
from tests.unit.test_loader import CONFIG_DIR, HANSA_STOCK, HUAXIN_SALES, NOW, REDWOOD_SALES, REDWOOD_STOCK, deliver

PARTNERS = ("hansa_handel", "huaxin_retail", "redwood_grocers")


def build_env(root: Path) -> HostileEnv:
    data = root / "data"
    landing = data / "landing"
    deliver(landing, "redwood_grocers/inventory_20250629.csv", REDWOOD_STOCK)
    deliver(landing, "redwood_grocers/sales_20250629.csv", REDWOOD_SALES)
    deliver(landing, "hansa_handel/Bestand_20250629.csv", HANSA_STOCK, "utf-8-sig")
    deliver(landing, "huaxin_retail/xiaoshou_20250629.txt", HUAXIN_SALES, "gbk")
    configs = data / "partners"
    shutil.copytree(CONFIG_DIR, configs)
    outside = root / "outside"
    outside.mkdir()
    (outside / "passwd").write_text(f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    return HostileEnv(landing, configs, outside)


def ingest(env: HostileEnv, conn: duckdb.DuckDBPyConnection):
    configs, errors = partner_configs_for(env.partner_configs, [])
    data = env.landing.parent
    return ingest_landing(
        conn,
        env.landing,
        configs,
        quarantine_dir=data / "quarantine",
        archive_dir=data / "archive",
        now=NOW,
        config_errors=errors,
    )


def loaded_rows(conn, partner: str) -> dict[str, list[tuple]]:
    return {
        table: conn.execute(
            f"select * exclude (source_file_id) from {table} where partner_id = ? order by all", [partner]
        ).fetchall()
        for table in RAW_FEED_TABLES.values()
    }


def tree(folder: Path) -> dict[str, tuple]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    env = build_env(tmp_path_factory.mktemp("clean"))
    with duckdb.connect() as conn:
        ingest(env, conn)
        return {partner: loaded_rows(conn, partner) for partner in PARTNERS}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_delivery_fails_only_itself(case, clean, tmp_path):
    env = build_env(tmp_path)
    expected = CASES[case](env)
    outside_before = tree(env.outside)
    with duckdb.connect() as conn:
        report = ingest(env, conn)
        for partner in PARTNERS:
            if partner not in expected.touches:
                assert loaded_rows(conn, partner) == clean[partner], f"{partner}'s rows changed"
        rows = conn.execute(
            f"select status, reason from {FEED_LEDGER_TABLE} where path = ?", [expected.path]
        ).fetchall()
        assert rows, f"{expected.path} is not in the ledger: {[o.path for o in report.outcomes]}"
        ((status, reason),) = rows
        assert status == expected.status
        assert expected.reason in reason
        every_text = conn.execute(
            f"""select string_agg(coalesce(reason, '') || path, ' ') from {FEED_LEDGER_TABLE}
                union all select string_agg(coalesce(raw_record, '') || coalesce(reason, ''), ' ')
                from {FEED_REJECTS_TABLE}"""
        ).fetchall()
        assert SECRET not in str(every_text)
        # Every ledger row is safe text: no control characters, no undecodable bytes.
        for (text,) in conn.execute(f"select path || coalesce(reason, '') from {FEED_LEDGER_TABLE}").fetchall():
            assert text.isprintable(), text
    assert tree(env.outside) == outside_before, "something outside the data folder was written"
    assert not (env.outside / "pwned").exists()
    for dirpath, _, filenames in os.walk(env.landing.parent):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink() and "landing" not in path.parts:
                assert SECRET.encode() not in path.read_bytes(), f"{path} holds data from outside the landing"


def test_a_partner_that_sends_more_files_than_a_run_takes_waits_for_the_next(tmp_path):
    env = build_env(tmp_path)
    CASES["many_small_files"](env, count=600)
    (env.partner_configs / "new_flood.yaml").write_text(
        (CONFIG_DIR / "redwood_grocers.yaml")
        .read_text()
        .replace("partner_id: redwood_grocers", "partner_id: new_flood")
        + "limits:\n  max_files_per_run: 250\n"
    )
    with duckdb.connect() as conn:
        first = ingest(env, conn)
        assert first.deferred == {"new_flood": 350}
        flood = [o for o in first.outcomes if o.partner_id == "new_flood"]
        assert len(flood) == 250 and {o.status for o in flood} == {"quarantined"}
        second = ingest(env, conn)
        assert second.deferred == {"new_flood": 100}, "the next run takes the next files"
        assert len(second.outcomes) == 250 and second.unchanged >= 250


def test_a_quarantine_for_a_fixable_reason_loads_once_the_fix_ships(tmp_path):
    env = build_env(tmp_path)
    original = (env.partner_configs / "hansa_handel.yaml").read_text()
    CASES["invalid_yaml_with_python_tag"](env)
    with duckdb.connect() as conn:
        ingest(env, conn)
        assert loaded_rows(conn, "hansa_handel")["raw.stock_snapshots"] == []
        (env.partner_configs / "hansa_handel.yaml").write_text(original)
        report = ingest(env, conn)
        assert [(o.path, o.status) for o in report.outcomes] == [("hansa_handel/Bestand_20250629.csv", "loaded")]
        assert conn.execute(f"select status from {FEED_LEDGER_TABLE} where partner_id = 'hansa_handel'").fetchall() == [
            ("loaded",)
        ]


def test_content_quarantined_for_its_name_loads_when_resent_under_a_good_name(tmp_path):
    env = build_env(tmp_path)
    content = REDWOOD_SALES.replace("2025-06-29", "2025-06-30").encode()
    with open(os.path.join(os.fsencode(env.landing / "redwood_grocers"), b"sales_\xff.csv"), "wb") as file:
        file.write(content)
    with duckdb.connect() as conn:
        ingest(env, conn)
        (env.landing / "redwood_grocers" / "sales_20250630.csv").write_bytes(content)
        report = ingest(env, conn)
        assert [(o.path, o.status) for o in report.outcomes] == [("redwood_grocers/sales_20250630.csv", "loaded")]


def test_an_alias_folder_with_copies_of_a_partners_files_never_makes_them_duplicates(tmp_path):
    env = build_env(tmp_path)
    shutil.copytree(env.landing / "redwood_grocers", env.landing / "aaa_alias")  # sorts, and loads, first
    with duckdb.connect() as conn:
        report = ingest(env, conn)
        statuses = {o.path: o.status for o in report.outcomes}
        assert statuses["aaa_alias/sales_20250629.csv"] == "quarantined"
        assert statuses["redwood_grocers/sales_20250629.csv"] == "loaded"
