"""dbt's saved parse of the project is kept in the project's target folder, where the next dbt starts from it."""

import pytest

from orchestration.runtime import dbt as runtime_dbt
from orchestration.runtime.dbt import PARTIAL_PARSE, keep_partial_parse, prune_run_targets


def test_the_newest_invocation_s_parse_is_kept_whole_for_the_next(tmp_path):
    target = tmp_path / "target"
    first, second = target / "warehouse_models-run1-abc", target / "warehouse_models-run2-def"
    for folder, content in ((first, b"night 1"), (second, b"night 2")):
        folder.mkdir(parents=True)
        (folder / PARTIAL_PARSE).write_bytes(content)
    assert keep_partial_parse(first, target) == target / PARTIAL_PARSE
    assert keep_partial_parse(second, target) == target / PARTIAL_PARSE
    assert (target / PARTIAL_PARSE).read_bytes() == b"night 2"
    assert sorted(path.name for path in target.iterdir()) == sorted([first.name, second.name, PARTIAL_PARSE])
    # Pruning old invocation folders keeps it.
    prune_run_targets(target, keep=0)
    assert [path.name for path in target.iterdir()] == [PARTIAL_PARSE]


def test_an_invocation_that_saved_no_parse_leaves_the_kept_one(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / PARTIAL_PARSE).write_bytes(b"kept")
    failed_early = target / "warehouse_models-run3-ghi"
    failed_early.mkdir()
    assert keep_partial_parse(failed_early, target) is None
    assert (target / PARTIAL_PARSE).read_bytes() == b"kept"


def test_a_parse_that_cannot_be_renamed_into_place_leaves_no_copy_behind(tmp_path, monkeypatch):
    target = tmp_path / "target"
    run = target / "warehouse_models-run4-jkl"
    run.mkdir(parents=True)
    (run / PARTIAL_PARSE).write_bytes(b"night 4")
    (target / PARTIAL_PARSE).write_bytes(b"kept")

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(runtime_dbt.os, "replace", refuse)
    with pytest.raises(PermissionError):
        keep_partial_parse(run, target)
    assert sorted(path.name for path in target.iterdir()) == sorted([run.name, PARTIAL_PARSE])
    assert (target / PARTIAL_PARSE).read_bytes() == b"kept"
