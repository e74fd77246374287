"""`quality.check_results`: every expectation outcome per run, partner and check, queryable by analysts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from expectations.runner import ExpectationOutcome
from orchestration.runtime.warehouse_tables import replace_date_rows

CHECK_RESULTS_TABLE = "quality.check_results"

_DDL = """
    run_id varchar, as_of_date date, checked_at timestamp, asset_key varchar, check_name varchar,
    suite varchar, partner_id varchar, expectation varchar, "column" varchar, severity varchar, passed boolean,
    element_count bigint, unexpected_count bigint, observed_value varchar, threshold varchar, examples varchar
"""


def ensure_quality_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists quality")
    conn.execute(f"create table if not exists {CHECK_RESULTS_TABLE} ({_DDL})")


def store_outcomes(
    conn: duckdb.DuckDBPyConnection,
    outcomes: Sequence[ExpectationOutcome],
    *,
    run_id: str,
    as_of_date: date,
    asset_key: str,
    check_name: str,
) -> int:
    """Replace this check's results for the business date, so a rerun of a night leaves one set of rows."""
    ensure_quality_schema(conn)
    frame = pd.DataFrame([outcome.as_row() for outcome in outcomes])
    frame.insert(0, "check_name", check_name)
    frame.insert(0, "asset_key", asset_key)
    frame.insert(0, "checked_at", datetime.now(UTC).replace(tzinfo=None))
    frame.insert(0, "as_of_date", as_of_date)
    frame.insert(0, "run_id", run_id)
    return replace_date_rows(
        conn, CHECK_RESULTS_TABLE, "as_of_date", as_of_date, frame, also_where={"check_name": check_name}
    )
