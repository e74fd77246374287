"""The plan history tables (DuckDB I/O only; no Dagster).

- `replenishment.plan_history`: append-only versions of each plan date's plan; a rerun that reproduces the stored
  plan adds no rows, a changed plan adds a new version, so history can be audited without duplicates.
- `replenishment.replenishment_plan`: the newest plan date's newest version, one row per location x product.
- `replenishment.exceptions`: each plan date's planner exceptions (a rerun of a night replaces that night's).
- `replenishment.plan_explanations`: each plan date's explanation of every plan line, one row per line and step
  (`forecasts.replenishment.explain`), for the plan's version of that night (a rerun replaces them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from forecasts.forecasting.forecast_history import utc_now
from orchestration.runtime.warehouse_tables import replace_date_rows_in_parts, table_exists

# Decision columns added to the plan after its first version.
DECIDED_SINCE = ("ship_days",)


@dataclass(frozen=True)
class SavedPlan:
    """What ``save_plan`` did: the rows of the plan, its version for the plan date, and whether it was appended."""

    rows: int
    version: int
    appended: bool

    @property
    def version_note(self) -> str:
        return f"version {self.version}" + ("" if self.appended else " (unchanged: rerun added no history rows)")


def _plan_fingerprint(plan: pd.DataFrame) -> str:
    """Content hash of the decision columns, to tell a reproduced plan from a changed one: what ships, why, and on
    which days (a plan made before the ship days were chosen has no such column, and its hash stays as it was)."""
    columns = ["partner_id", "location_id", "product_id", "ship_qty", "reason_code"]
    columns += [column for column in DECIDED_SINCE if column in plan.columns]
    decision = plan[columns].sort_values(["partner_id", "location_id", "product_id"])
    return hashlib.sha256(decision.to_csv(index=False).encode()).hexdigest()


def _add_new_columns(conn: duckdb.DuckDBPyConnection, table: str, frame_view: str) -> None:
    """History tables are extended, never rebuilt: a column the plan gained is added; old versions read NULL.

    A table first made from an empty plan (a night that planned nothing) has text and date columns typed NULL,
    since an empty frame gives them no type; the first plan with rows gives them theirs."""
    existing = dict(conn.execute(f"select column_name, column_type from (describe {table})").fetchall())
    for name, column_type, *_ in conn.execute(f"describe {frame_view}").fetchall():
        if name not in existing:
            conn.execute(f'alter table {table} add column "{name}" {column_type}')
        elif existing[name] == '"NULL"' and column_type != '"NULL"':
            conn.execute(f'alter table {table} alter column "{name}" set data type {column_type}')


def save_plan(conn: duckdb.DuckDBPyConnection, plan: pd.DataFrame, *, plan_date: date, run_id: str) -> SavedPlan:
    """Append the plan to history when it differs from the stored version, and refresh the current plan table."""
    conn.execute("create schema if not exists replenishment")
    rows = plan.copy()
    fingerprint = _plan_fingerprint(rows)
    exists = table_exists(conn, "replenishment.plan_history")
    latest = None
    if exists:
        latest = conn.execute(
            "select version, plan_fingerprint from replenishment.plan_history where plan_date = ? "
            "order by version desc limit 1",
            [plan_date],
        ).fetchone()
    appended = latest is None or latest[1] != fingerprint
    version = 1 if latest is None else latest[0] + int(appended)
    rows.insert(0, "version", version)
    rows.insert(0, "run_id", run_id)
    rows["plan_fingerprint"] = fingerprint
    rows["planned_at"] = utc_now()
    conn.execute("begin")
    try:
        conn.register("plan_frame", rows)
        if not exists:
            conn.execute("create table replenishment.plan_history as select * from plan_frame limit 0")
        else:
            _add_new_columns(conn, "replenishment.plan_history", "plan_frame")
        if appended:
            conn.execute("insert into replenishment.plan_history by name select * from plan_frame")
        newest = conn.execute("select max(plan_date) from replenishment.plan_history").fetchone()[0]
        conn.execute(
            """create or replace table replenishment.replenishment_plan as
               select * exclude (plan_fingerprint) from replenishment.plan_history
               where plan_date = $newest
                 and version = (select max(version) from replenishment.plan_history where plan_date = $newest)
               order by partner_id, location_id, product_id""",
            {"newest": newest},
        )
        conn.unregister("plan_frame")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return SavedPlan(rows=len(rows), version=version, appended=appended)


def plan_version(
    conn: duckdb.DuckDBPyConnection, plan_date: date, *, before: bool = False, within: str | None = None
) -> pd.DataFrame:
    """The newest version of the plan for `plan_date` (or, with `before`, of the latest plan date before it).

    ``within`` names a table or view whose key columns (some of partner_id, location_id, product_id) bound the rows
    read: a block of the plan instead of all of it."""
    if not table_exists(conn, "replenishment.plan_history"):
        return pd.DataFrame()
    date_filter = "plan_date < $day" if before else "plan_date = $day"
    block = ""
    if within is not None:
        keys = [name for name, *_ in conn.execute(f"describe {within}").fetchall()]
        block = f"semi join {within} using ({', '.join(keys)})"
    return conn.execute(
        f"""
        with wanted as (select max(plan_date) as plan_date from replenishment.plan_history where {date_filter}),
        newest as (
            select plan_date, max(version) as version from replenishment.plan_history
            where plan_date = (select plan_date from wanted) group by plan_date
        )
        select history.* exclude (plan_fingerprint)
        from replenishment.plan_history as history
        join newest using (plan_date, version)
        {block}
        order by partner_id, location_id, product_id
        """,
        {"day": plan_date},
    ).df()


def save_planner_exceptions(
    conn: duckdb.DuckDBPyConnection, exceptions: pd.DataFrame | Iterable[pd.DataFrame], *, plan_date: date
) -> int:
    """Replace the plan date's planner exceptions, so a rerun of a night leaves one set (``exceptions`` may come
    in parts, a block of the plan's series at a time: all of them are written in one transaction)."""
    conn.execute("create schema if not exists replenishment")
    conn.execute(
        """create table if not exists replenishment.exceptions (
               plan_date date, partner_id varchar, location_id varchar, product_id varchar,
               exception_type varchar, severity varchar, detail varchar)"""
    )
    columns = ["plan_date::date as plan_date", "partner_id", "location_id", "product_id"]
    columns += ["exception_type", "severity", "detail"]
    parts = [exceptions] if isinstance(exceptions, pd.DataFrame) else exceptions
    return replace_date_rows_in_parts(conn, "replenishment.exceptions", "plan_date", plan_date, parts, columns=columns)


def save_plan_explanations(
    conn: duckdb.DuckDBPyConnection,
    explanations: pd.DataFrame | Iterable[pd.DataFrame],
    *,
    plan_date: date,
    version: int,
) -> int:
    """Replace the plan date's explanations with those of the plan version just saved (``explanations`` may come
    in parts, a block of plan lines at a time: all of them are written in one transaction)."""
    conn.execute("create schema if not exists replenishment")
    conn.execute(
        """create table if not exists replenishment.plan_explanations (
               plan_date date, version bigint, partner_id varchar, location_id varchar, product_id varchar,
               step_number integer, step varchar, label varchar, value double, unit varchar, detail varchar,
               source varchar)"""
    )
    parts = [explanations] if isinstance(explanations, pd.DataFrame) else explanations
    columns = ["plan_date::date as plan_date", "version", "partner_id", "location_id", "product_id"]
    columns += ["step_number", "step", "label", "value", "unit", "detail", "source"]
    return replace_date_rows_in_parts(
        conn,
        "replenishment.plan_explanations",
        "plan_date",
        plan_date,
        (rows.assign(version=version) for rows in parts),
        columns=columns,
    )


PREVIOUS_CADENCE_COLUMNS = ["partner_id", "location_id", "product_id", "previous_ship_days", "previous_ship_date"]


def previous_cadence(conn: duckdb.DuckDBPyConnection, plan_date: date, *, within: str | None = None) -> pd.DataFrame:
    """Per line, the ship days and ship date of the newest plan of the latest plan date before `plan_date`: the
    cadence the goods on their way were sized for. A rerun of a night never reads its own plan. ``within``: as in
    ``plan_version``."""
    previous = plan_version(conn, plan_date, before=True, within=within)
    if previous.empty or "ship_days" not in previous.columns:
        return pd.DataFrame(columns=PREVIOUS_CADENCE_COLUMNS)
    return previous.rename(columns={"ship_days": "previous_ship_days", "ship_date": "previous_ship_date"})[
        PREVIOUS_CADENCE_COLUMNS
    ]
