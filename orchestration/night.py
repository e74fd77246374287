"""What `cmi run` keeps of one night besides the warehouse: its log file, what the run produced and why it failed,
and the origin that files the run under the `nightly` job of the code location in the Dagster UI."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import yaml

from orchestration.alerts import StepFailure, step_failures
from orchestration.runtime import settings

# The repository name Dagster gives the one `Definitions` of a code location.
REPOSITORY_NAME = "__repository__"


class NightLog:
    """The night's dbt log, ``<logs>/nightly-<date>.log``, replaced only by a night that succeeded.

    A run writes to a partial file first. A success renames it over the night's log; a failure keeps it as
    ``nightly-<date>.failed.log``, so the log of the last good run of that night is never emptied by a bad one.
    """

    def __init__(self, folder: Path, business_date: date):
        self.folder = folder
        self.good = folder / f"nightly-{business_date.isoformat()}.log"
        self.failed = folder / f"nightly-{business_date.isoformat()}.failed.log"
        self.partial = folder / f".nightly-{business_date.isoformat()}.{os.getpid()}.partial.log"
        self.path = self.partial

    @contextlib.contextmanager
    def writing(self) -> Iterator[IO[str]]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.partial.open("w", encoding="utf-8") as log:
            try:
                yield log
            finally:
                log.flush()
        if self.partial.exists() and self.path == self.partial:
            # Interrupted before `finish`: keep what was written as the failed log.
            os.replace(self.partial, self.failed)
            self.path = self.failed

    def finish(self, success: bool) -> Path:
        """Move the partial log to its place (called while it is still open: the rename does not disturb it)."""
        self.path = self.good if success else self.failed
        os.replace(self.partial, self.path)
        return self.path


@dataclass(frozen=True)
class RunOutcome:
    """What one run did: its id, whether it succeeded, the assets it materialized and the steps that failed."""

    run_id: str
    success: bool
    materialized: frozenset[str] = field(default_factory=frozenset)
    failures: list[StepFailure] = field(default_factory=list)

    def produced(self, asset: str) -> bool:
        """Whether this run wrote ``asset`` (``schema/table``): only then may its content be shown as the night's."""
        return asset in self.materialized


def run_outcome(result) -> RunOutcome:
    """The outcome of an in-process Dagster run (``ExecuteInProcessResult``)."""
    materialized = frozenset(
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    )
    return RunOutcome(result.run_id, result.success, materialized, step_failures(result.all_events))


def code_location_name(workspace: Path | None = None) -> str:
    """The code location `workspace.yaml` names, as `dagster dev` loads it."""
    path = workspace or settings.PROJECT_ROOT / "workspace.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for entry in loaded.get("load_from", []):
        for target in entry.values():
            if isinstance(target, dict) and target.get("location_name"):
                return str(target["location_name"])
    raise ValueError(f"{path}: no location_name")


def code_location_tags(workspace: Path | None = None) -> dict[str, str]:
    """The tag that lists a run under the code location's jobs (the run list of the `nightly` job)."""
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

    return {REPOSITORY_LABEL_TAG: f"{REPOSITORY_NAME}@{code_location_name(workspace)}"}


def code_location_origin(job_name: str, workspace: Path | None = None):
    """The origin `dagster dev` gives runs it launches of ``job_name``: the timeline groups runs by it."""
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    target = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name="orchestration.definitions",
        attribute="defs",
        working_directory=str(settings.PROJECT_ROOT),
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, code_location_name(workspace))
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job_name)


def attach_to_code_location(instance, job_name: str, workspace: Path | None = None):
    """Make runs that ``instance`` creates for ``job_name`` carry the code location's origin.

    `execute_in_process` has no parameter for it, so the instance's `create_run_for_job` is given the origin; the
    run then shows on the UI's timeline and under its job like a run the UI launched.
    """
    origin = code_location_origin(job_name, workspace)
    create = instance.create_run_for_job

    def create_with_origin(*args, **kwargs):
        kwargs.setdefault("remote_job_origin", origin)
        return create(*args, **kwargs)

    instance.create_run_for_job = create_with_origin
    return instance
