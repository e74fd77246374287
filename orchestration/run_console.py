"""A short console log for `cmi run`: one line per message a step writes (progress, warnings), without Dagster's
date, job name and run id on every line, and without its per-event chatter.

Dagster's own console logger stays the default for runs launched from the UI; `cmi run --verbose` uses it too.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import dagster as dg

CONCISE_LOGGER = "cmi_console"
MAX_MESSAGE_CHARS = 160

# What dagster-dbt says before every command: true, but nothing a person running the night acts on.
_QUIET_PREFIXES = ("A dbt subsetted execution is not being performed",)


class ConciseFormatter(logging.Formatter):
    """``15:14:23  warehouse_models   dbt build: 10/31 models, 120/402 tests`` (warnings and errors say so)."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = meta.get("orig_message") or record.getMessage()
        step = meta.get("step_key") or "run"
        line = next((part for part in str(message).splitlines() if part.strip()), "")
        if len(line) > MAX_MESSAGE_CHARS:
            line = line[: MAX_MESSAGE_CHARS - 1] + "…"
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        return f"  {clock}  {step:<28} {level}{line}"


class _SkipEventsAndChatter(logging.Filter):
    """Keep what steps log themselves. Dagster's structured events (step started, failed, skipped because an
    upstream step failed, …) are for the UI; `cmi run` prints each failed step with its cause when the run ends."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None) or {}
        if meta.get("dagster_event") is not None:
            return False
        return not str(meta.get("orig_message") or "").startswith(_QUIET_PREFIXES)


@dg.logger(
    config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
    description="One short line per message a step logs, on stderr: what `cmi run` shows while the night runs.",
)
def concise_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger(CONCISE_LOGGER, level=init_context.logger_config["log_level"])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConciseFormatter())
    handler.addFilter(_SkipEventsAndChatter())
    logger.addHandler(handler)
    return logger


# What the composition root gives every job: Dagster's console logger (the default, used when a run names none)
# and the concise one `cmi run` asks for.
LOGGERS = {"console": dg.colored_console_logger, CONCISE_LOGGER: concise_console_logger}
