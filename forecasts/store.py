"""Warehouse tables for forecasts and plans (DuckDB I/O only; no Dagster).

- `forecasts.forecast_history`: every forecast run with its as-of date (a rerun of a date replaces that date).
- `forecasts.demand_forecast`: view of the newest as-of date, one row per series and future date.
- `replenishment.plan_history`: append-only versions of each plan date's plan; a rerun that reproduces the stored
  plan adds no rows, a changed plan adds a new version, so history can be audited without duplicates.
- `replenishment.replenishment_plan`: the newest plan date's newest version, one row per location x product.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

SERIES_SEPARATOR = "|"
SERIES_KEYS = ["partner_id", "location_id", "product_id"]


def series_id_for(frame: pd.DataFrame) -> pd.Series:
    """`partner|location|product`: one forecast series per partner location and product."""
    return frame[SERIES_KEYS].astype(str).agg(SERIES_SEPARATOR.join, axis=1)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def save_forecast(conn: duckdb.DuckDBPyConnection, forecast: pd.DataFrame, *, as_of_date: date, run_id: str) -> int:
    """Store one as-of date's forecast; returns the rows written."""
    rows = forecast.copy()
    rows[SERIES_KEYS] = rows["series_id"].str.split(SERIES_SEPARATOR, n=2, expand=True)
    rows = rows.rename(columns={"date": "forecast_date"})
    rows["as_of_date"] = as_of_date
    rows["run_id"] = run_id
    rows["created_at"] = _utc_now()
    columns = [
        "as_of_date",
        "partner_id",
        "location_id",
        "product_id",
        "series_id",
        "forecast_date",
        "p50",
        "p90",
        "model",
        "demand_class",
        "adi",
        "cv2",
        "run_id",
        "created_at",
    ]
    rows = rows[columns]
    conn.execute("create schema if not exists forecasts")
    conn.execute(
        """create table if not exists forecasts.forecast_history (
               as_of_date date, partner_id varchar, location_id varchar, product_id varchar, series_id varchar,
               forecast_date date, p50 double, p90 double, model varchar, demand_class varchar, adi double,
               cv2 double, run_id varchar, created_at timestamp)"""
    )
    conn.execute("begin")
    try:
        conn.execute("delete from forecasts.forecast_history where as_of_date = ?", [as_of_date])
        conn.register("forecast_frame", rows)
        conn.execute(f"insert into forecasts.forecast_history select {', '.join(columns)} from forecast_frame")
        conn.unregister("forecast_frame")
        conn.execute(
            """create or replace view forecasts.demand_forecast as
               select * from forecasts.forecast_history
               where as_of_date = (select max(as_of_date) from forecasts.forecast_history)"""
        )
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return len(rows)


@dataclass(frozen=True)
class SavedPlan:
    rows: int
    version: int
    appended: bool

    @property
    def version_note(self) -> str:
        return f"version {self.version}" + ("" if self.appended else " (unchanged: rerun added no history rows)")


def _plan_fingerprint(plan: pd.DataFrame) -> str:
    """Content hash of the decision columns, to tell a reproduced plan from a changed one."""
    decision = plan[["partner_id", "location_id", "product_id", "ship_qty", "reason_code"]].sort_values(
        ["partner_id", "location_id", "product_id"]
    )
    return hashlib.sha256(decision.to_csv(index=False).encode()).hexdigest()


def _add_new_columns(conn: duckdb.DuckDBPyConnection, table: str, frame_view: str) -> None:
    """History tables are extended, never rebuilt: a column the plan gained is added; old versions read NULL."""
    existing = {row[0] for row in conn.execute(f"select column_name from (describe {table})").fetchall()}
    for name, column_type, *_ in conn.execute(f"describe {frame_view}").fetchall():
        if name not in existing:
            conn.execute(f'alter table {table} add column "{name}" {column_type}')


def save_plan(conn: duckdb.DuckDBPyConnection, plan: pd.DataFrame, *, plan_date: date, run_id: str) -> SavedPlan:
    """Append the plan to history when it differs from the stored version, and refresh the current plan table."""
    conn.execute("create schema if not exists replenishment")
    rows = plan.copy()
    fingerprint = _plan_fingerprint(rows)
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'replenishment' and table_name = 'plan_history'"
    ).fetchone()[0]
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
    rows["planned_at"] = _utc_now()
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


def plan_version(conn: duckdb.DuckDBPyConnection, plan_date: date, *, before: bool = False) -> pd.DataFrame:
    """The newest version of the plan for `plan_date` (or, with `before`, of the latest plan date before it)."""
    exists = conn.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'replenishment' and table_name = 'plan_history'"
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame()
    date_filter = "plan_date < $day" if before else "plan_date = $day"
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
        order by partner_id, location_id, product_id
        """,
        {"day": plan_date},
    ).df()


def save_exceptions(conn: duckdb.DuckDBPyConnection, exceptions: pd.DataFrame, *, plan_date: date) -> int:
    """Replace the plan date's exceptions, so a rerun of a night leaves one set."""
    conn.execute("create schema if not exists replenishment")
    conn.execute(
        """create table if not exists replenishment.exceptions (
               plan_date date, partner_id varchar, location_id varchar, product_id varchar,
               exception_type varchar, severity varchar, detail varchar)"""
    )
    conn.execute("begin")
    try:
        conn.execute("delete from replenishment.exceptions where plan_date = ?", [plan_date])
        if not exceptions.empty:
            conn.register("exceptions_frame", exceptions)
            conn.execute(
                "insert into replenishment.exceptions select plan_date::date, partner_id, location_id, product_id, "
                "exception_type, severity, detail from exceptions_frame"
            )
            conn.unregister("exceptions_frame")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return len(exceptions)
