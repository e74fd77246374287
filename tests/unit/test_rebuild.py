"""`cmi rebuild`: nights replayed in order from the archive, each seeing exactly the files it could have had."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from assets.feeds.loading.archive import FeedArchive
from orchestration.commands.rebuild import nights_to_replay, rebuild, restore_landing
from tests.unit.test_hostile_landing import build_env, ingest


def stamp(path: Path, when: datetime) -> None:
    os.utime(path, (when.replace(tzinfo=UTC).timestamp(),) * 2)


def snapshot_landing(landing: Path) -> dict[bytes, tuple[bytes, int]]:
    found = {}
    for dirpath, _, filenames in os.walk(os.fsencode(landing)):
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, os.fsencode(landing))] = (
                Path(os.fsdecode(path)).read_bytes(),
                int(os.stat(path).st_mtime),
            )
    return found


def test_every_delivery_is_archived_once_read_only_and_replayed_per_night(tmp_path):
    env = build_env(tmp_path)
    archive_dir = env.landing.parent / "archive"
    redwood = env.landing / "redwood_grocers"
    stamp(redwood / "sales_20250629.csv", datetime(2025, 6, 30, 9))
    odd_name = os.path.join(os.fsencode(redwood), b"sales_\xff.csv")
    with open(odd_name, "wb") as file:
        file.write(b"store_nbr\n")
    os.utime(odd_name, (datetime(2025, 6, 30, 10, tzinfo=UTC).timestamp(),) * 2)
    with duckdb.connect() as conn:
        ingest(env, conn)
        first = snapshot_landing(env.landing)
        # The partner overwrites a file two days later and deletes another: the archive keeps both versions.
        (redwood / "sales_20250629.csv").write_text("store_nbr,upc,business_date,units_sold\n1042,1,2025-06-29,9\n")
        stamp(redwood / "sales_20250629.csv", datetime(2025, 7, 2, 9))
        os.remove(odd_name)
        ingest(env, conn)
        ingest(env, conn)
    archive = FeedArchive(archive_dir)
    deliveries = archive.deliveries()
    assert len(deliveries) == len(first) + 1, "one line per (content, path), never repeated"
    for delivery in deliveries:
        stored = archive.object_path(delivery.source_file_id)
        assert not os.access(stored, os.W_OK) or os.geteuid() == 0
        assert stored.stat().st_mode & 0o222 == 0, "objects are read-only"

    june_30 = tmp_path / "night-0630"
    june_30.mkdir()
    restore_landing(archive, date(2025, 6, 30), june_30)
    assert snapshot_landing(june_30) == first, "the night of 06-30 sees what had arrived, names and times exact"
    july_1 = tmp_path / "night-0701"
    july_1.mkdir()
    restore_landing(archive, date(2025, 7, 1), july_1)
    replayed = snapshot_landing(july_1)
    assert replayed[b"redwood_grocers/sales_20250629.csv"][0].endswith(b"1042,1,2025-06-29,9\n")


def test_rebuild_replays_the_nights_in_order_and_stops_at_a_failed_one(tmp_path):
    env = build_env(tmp_path)
    with duckdb.connect() as conn:
        ingest(env, conn)
    archive = FeedArchive(env.landing.parent / "archive")
    seen = []

    def runner(night, landing, warehouse, out):
        seen.append((night, sorted(snapshot_landing(landing))))
        return night != date(2025, 7, 2)

    nights = nights_to_replay(date(2025, 6, 30), date(2025, 7, 3), lambda: [])
    failed = rebuild(archive, reversed(nights), tmp_path / "new.duckdb", tmp_path / "out", runner)
    assert failed == date(2025, 7, 2)
    assert [night for night, _ in seen] == [date(2025, 6, 30), date(2025, 7, 1), date(2025, 7, 2)]
    assert all(files == seen[0][1] for _, files in seen)
    recorded = [date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 5)]
    assert nights_to_replay(date(2025, 6, 15), None, lambda: recorded) == recorded[1:]


def test_a_quarantine_reason_is_the_same_whichever_folder_the_landing_is_in(tmp_path):
    """A rebuild reads the archive's copies from a scratch landing: the ledger must not tell the two apart."""
    reasons = []
    for place in ("live", "rebuild-scratch"):
        env = build_env(tmp_path / place)
        (env.landing / "redwood_grocers" / "852_20250630.x12").write_text("ISA*00*truncated")
        with duckdb.connect() as conn:
            ingest(env, conn)
            reasons.append(conn.execute("select path, reason from raw.feed_files order by path").fetchall())
    assert reasons[0] == reasons[1]
    assert any(reason and reason.startswith("redwood_grocers/852_20250630.x12: ") for _, reason in reasons[0])
