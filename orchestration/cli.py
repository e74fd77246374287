"""`cmi`: the command line for engineers who run the pipeline (demo data, nightly runs, the UI)."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestration.alerts import ALERTS_TAG
from orchestration.runtime import settings

DAGSTER_YAML = """\
# Written by `cmi`: one run at a time, because the DuckDB warehouse has a single writer.
run_queue:
  max_concurrent_runs: 1
telemetry:
  enabled: false
"""


class UsageError(Exception):
    """A bad option value found after parsing (a missing folder, a date outside the nights): exit 2, one line."""


class CliParser(argparse.ArgumentParser):
    """argparse with no option abbreviations (`--partner` is never taken for `--partner-config`) and errors on one
    line: ``cmi run: argument --as-of: expected a date as YYYY-MM-DD, got '30.06.2025' (see cmi run --help)``.

    Sub-commands are made with the parser's own class, so every command of the family inherits both rules.
    """

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse, but an unknown option is reported by the command it was given to (`cmi run: …`)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = _SUBPARSERS.get(getattr(parsed, "command", None) or "", self)
            command.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


# Each command's parser by name, for `CliParser.parse_args` to report an unknown option where it was given.
_SUBPARSERS: dict[str, argparse.ArgumentParser] = {}


def _yesterday_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from error


def check_business_date(business_date: date, first: date, last: date) -> None:
    """A night may run for a date the nightly partitions hold: from the setting's start to today."""
    if business_date < first:
        raise UsageError(
            f"--as-of {business_date} is before the first business date {first} "
            f"(set {settings.PARTITIONS_START_ENV} to run earlier nights)"
        )
    if business_date > last:
        raise UsageError(f"--as-of {business_date} is in the future (the latest night is {last})")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_file(path: Path, what: str, option: str) -> None:
    """A file this run will create or write: not a folder, and its folder can be made and written in.

    Tried for real (make the folder, create and remove a scratch file), since permission bits do not tell
    about read-only mounts, and `root` passes every permission test.
    """
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder, not a {what}")
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".cmi-write-test-"):
            pass
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write in {path.parent} ({error.strerror or error})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: the {what} is not writable")


def check_folder(path: Path, what: str, option: str) -> None:
    """A folder this run reads: it exists and is a folder."""
    if not path.exists():
        raise UsageError(f"{option} {path}: no such {what}")
    if not path.is_dir():
        raise UsageError(f"{option} {path} is not a folder")


@dataclass(frozen=True)
class RunPaths:
    """The paths one command works on: its options win over the environment, the config file and the defaults."""

    warehouse: Path
    landing: Path
    partner_config: Path
    data_dir: Path

    @classmethod
    def from_options(
        cls, warehouse: str | None = None, landing: str | None = None, partner_config: str | None = None
    ) -> RunPaths:
        return cls(
            warehouse=Path(warehouse).resolve() if warehouse else settings.warehouse_path(),
            landing=Path(landing).resolve() if landing else settings.landing_dir(),
            partner_config=Path(partner_config).resolve() if partner_config else settings.partner_config_dir(),
            data_dir=settings.data_dir(),
        )

    def resources_config(self) -> dict:
        """Run configuration that points the Dagster resources at these paths (dbt gets the warehouse as a var)."""
        return {
            "warehouse": {"config": {"path": str(self.warehouse)}},
            "feed_folders": {
                "config": {"landing_dir": str(self.landing), "partner_config_dir": str(self.partner_config)}
            },
            "artefacts": {"config": {"data_dir": str(self.data_dir)}},
        }

    def check(self) -> None:
        """Refuse, before anything starts, paths a night cannot use (exit 2 with one line)."""
        check_folder(self.landing, "landing folder", "--landing")
        check_folder(self.partner_config, "partner config folder", "--partner-config")
        check_writable_file(self.warehouse, "warehouse file", "--warehouse")

    def environment(self) -> dict[str, str]:
        """The same paths as settings, for a process this one starts (`dagster dev` and the runs it launches)."""
        return {
            settings.WAREHOUSE_ENV: str(self.warehouse),
            settings.LANDING_ENV: str(self.landing),
            settings.PARTNER_CONFIG_ENV: str(self.partner_config),
            "DAGSTER_HOME": str(dagster_home(self.data_dir, self.warehouse)),
        }


def warehouse_dagster_home(data_dir: Path, warehouse: Path) -> Path:
    """`<data>/dagster_home/<warehouse stem>-<hash of its full path>`: the warehouse's own Dagster instance folder.

    One home per warehouse: a run on another warehouse (a trial, a broken landing folder) keeps its run history and
    asset statuses out of the demo's, and `cmi ui` on a warehouse shows the runs `cmi run` made on it.
    """
    resolved = str(warehouse.expanduser().resolve())
    digest = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:8]
    return data_dir / "dagster_home" / f"{warehouse.stem}-{digest}"


def dagster_home_path(data_dir: Path, warehouse: Path) -> Path:
    """Dagster's instance folder for a command on ``warehouse``: `$DAGSTER_HOME` if set, else the warehouse's own."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    return warehouse_dagster_home(data_dir, warehouse)


def dagster_home(data_dir: Path, warehouse: Path) -> Path:
    """The warehouse's Dagster home (see `dagster_home_path`), made with its one-run-at-a-time config."""
    home = dagster_home_path(data_dir, warehouse)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def cmd_demo(args: argparse.Namespace) -> int:
    from assets.feeds.demo import generate_demo

    out = Path(args.out).resolve()
    end = args.end or _yesterday_in(settings.schedule_timezone())
    days = f"{args.days} days" if args.days else "730 days, or the landing's own start,"
    print(f"writing demo partner feeds to {out} (seed {args.seed}, {days} to {end})", file=sys.stderr)
    summary = generate_demo(
        out,
        settings.partner_config_dir(),
        seed=args.seed,
        days=args.days,
        end_date=end,
        scale=args.scale,
        locations=args.locations_per_partner,
        products=args.products,
        partners=args.partners,
    )
    print(summary)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    paths = RunPaths.from_options(args.warehouse, args.landing, args.partner_config)
    paths.check()
    from orchestration.runtime.partitions import nightly_partitions

    business_date = args.as_of or _yesterday_in(settings.schedule_timezone())
    nights = nightly_partitions(settings.partitions_start())
    check_business_date(
        business_date,
        date.fromisoformat(settings.partitions_start()),
        date.fromisoformat(nights.get_last_partition_key()),
    )
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions
    from orchestration.jobs import NIGHTLY_JOB_NAME
    from orchestration.night import NightLog, attach_to_code_location, code_location_tags, run_outcome
    from orchestration.run_console import CONCISE_LOGGER
    from orchestration.run_watch import fail_abandoned_runs, process_tags
    from orchestration.summary import print_failure, print_summary

    night = NightLog(paths.data_dir / "logs", business_date)
    print(f"nightly run for {business_date} on {paths.warehouse}", file=sys.stderr)
    job = build_definitions(paths.partner_config).resolve_job_def(NIGHTLY_JOB_NAME)
    logger = "console" if args.verbose else CONCISE_LOGGER
    run_config = {
        "loggers": {logger: {"config": {"log_level": "DEBUG" if args.verbose else "INFO"}}},
        "resources": paths.resources_config(),
    }
    # dbt's own console output is long; it goes to the night's log file unless asked for.
    with night.writing() as log, contextlib.redirect_stdout(sys.stdout if args.verbose else log):
        instance = DagsterInstance.from_config(str(dagster_home(paths.data_dir, paths.warehouse)))
        attach_to_code_location(instance, NIGHTLY_JOB_NAME)
        for run, outcomes in fail_abandoned_runs(instance, paths.data_dir, settings.alert_webhook_url()):
            print(
                f"run {run.run_id} was killed or crashed earlier: marked failed; {'; '.join(outcomes)}", file=sys.stderr
            )
        result = job.execute_in_process(
            partition_key=business_date.isoformat(),
            instance=instance,
            run_config=run_config,
            # Files the run under the `nightly` job of the `cmi` code location in the UI, beside scheduled nights;
            # the process tags let the next start tell a killed run from a running one.
            tags={ALERTS_TAG: "cli", **code_location_tags(), **process_tags()},
            raise_on_error=False,
        )
        night.finish(result.success)
    outcome = run_outcome(result)
    _raise_alerts(instance, result, business_date, outcome.failures, paths.data_dir)
    if not result.success:
        print_failure(business_date, outcome, night.path)
        return 1
    if not args.verbose:
        print(f"dbt output: {night.path}", file=sys.stderr)
    print_summary(paths, business_date, outcome)
    print(f"nightly run for {business_date} succeeded (run {result.run_id})", file=sys.stderr)
    return 0


def _raise_alerts(instance, result, business_date: date, failures: list, data_dir: Path) -> None:
    """The alerts the daemon's sensors raise for scheduled runs, raised here for a run the CLI executed."""
    from orchestration.alert_sensors import held_partners_of_run
    from orchestration.alerts import deliver, failure_alert, held_partners_alert

    job, partition = result.job_def.name, business_date.isoformat()
    if not result.success:
        alert = failure_alert(job, result.run_id, partition, failures)
    elif held := held_partners_of_run(instance, result.run_id):
        alert = held_partners_alert(job, result.run_id, partition, held)
    else:
        return
    for outcome in deliver(alert, data_dir, settings.alert_webhook_url()):
        print(f"alert: {outcome}", file=sys.stderr)


def cmd_config(args: argparse.Namespace) -> int:
    print(f"config file: {settings.config_file()}{'' if settings.config_file().is_file() else ' (not present)'}")
    width = max(len(name) for name in settings.SETTINGS)
    for name, value, source in settings.describe():
        print(f"{name:<{width}}  {value or '(unset)'}  [{source}]")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    paths = RunPaths.from_options(args.warehouse, args.landing, args.partner_config)
    paths.check()
    dagster = Path(sys.executable).with_name("dagster")
    command = [
        str(dagster),
        "dev",
        "-w",
        str(settings.PROJECT_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
    ]
    print(f"Dagster UI on http://127.0.0.1:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    os.chdir(settings.PROJECT_ROOT)
    os.execve(command[0], command, settings.child_environment(paths.environment()))
    return 0  # pragma: no cover - execv does not return


def _add_path_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        metavar="PATH",
        help=f"DuckDB file (default: ${settings.WAREHOUSE_ENV} or {settings.DEFAULT_WAREHOUSE})",
    )
    parser.add_argument(
        "--landing",
        metavar="DIR",
        help=f"partner landing folder (default: ${settings.LANDING_ENV} or data/landing)",
    )
    parser.add_argument(
        "--partner-config",
        metavar="DIR",
        help=f"partner feed configs (default: ${settings.PARTNER_CONFIG_ENV} or data/partners)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="cmi",
        description="Customer Managed Inventory pipeline: partner feeds in, quality-checked forecasts and "
        "replenishment plans out.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="write deterministic demo partner feeds and master data",
        description="Write demo partner feeds (one dialect per partner), supplier master "
        "data and shipment history. Same seed and dates give byte-identical files; a later --end on a landing "
        "written with the same options only adds the new days' deliveries.",
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument(
        "--days",
        type=int,
        help="days of daily history (default 730; when extending a landing, the days it was written with)",
    )
    demo.add_argument("--end", type=_parse_date, help="last business date (default: yesterday)")
    demo.add_argument(
        "--locations-per-partner",
        type=int,
        metavar="N",
        help="stores per partner (default: the scale's); past the configured stores, more in their cities",
    )
    demo.add_argument(
        "--products",
        type=int,
        metavar="N",
        help="products each partner carries (default: the scale's); the catalogue grows to match",
    )
    demo.add_argument(
        "--partners",
        type=int,
        metavar="N",
        help="partners (default: the configured three); past them, more made from them in turn, with every "
        "partner's config written to the landing's _partners folder (pass it to --partner-config)",
    )
    demo.add_argument(
        "--out", default=str(settings.landing_dir()), help="landing folder to write (default data/landing)"
    )
    demo.add_argument(
        "--scale",
        choices=["full", "small"],
        default="full",
        help="full: ~190 series; small: a handful, for tests",
    )
    demo.set_defaults(handler=cmd_demo)

    run = commands.add_parser(
        "run",
        help="run the nightly job for one business date",
        description="Materialize the nightly job (ingest, dbt build, quality checks, "
        "forecast, replenishment plan) for one date. Exits non-zero if any step fails.",
    )
    run.add_argument("--as-of", type=_parse_date, help="business date YYYY-MM-DD (default: yesterday)")
    run.add_argument("--verbose", action="store_true", help="show every Dagster event and dbt's full output")
    _add_path_options(run)
    run.set_defaults(handler=cmd_run)

    config = commands.add_parser(
        "config",
        help="show every setting, its value and where it came from",
        description="Show each setting (environment variable) with its value and source: the environment, the "
        "config file (cmi.env or $CMI_CONFIG_FILE) or the default. Secrets are never printed.",
    )
    config.set_defaults(handler=cmd_config)

    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on 127.0.0.1",
        description="Start `dagster dev` on workspace.yaml, bound to 127.0.0.1.",
    )
    ui.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    _add_path_options(ui)
    ui.set_defaults(handler=cmd_ui)
    for module in _command_modules():
        module.register(commands)
    _SUBPARSERS.update(commands.choices)
    return parser


def _command_modules() -> list:
    """Further command families, each registering its own sub-commands (see orchestration/commands/)."""
    import importlib
    import pkgutil

    from orchestration import commands as package

    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings.read_config_file(settings.config_file())
    except settings.ConfigFileError as error:
        print(f"cmi: {error}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"cmi {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. `| head`) has gone: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
