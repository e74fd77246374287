"""What the nightly report is made of: plain frames read from the warehouse by the reports asset."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.runtime.warehouse_tables import table_exists

# A query of the report: (table that must exist, SQL with `$day` for the business date).
ReportQuery = tuple[str, str]

# The night's plan as the report shows it: the business date's newest plan version in the history.
PLAN_QUERY: ReportQuery = (
    "replenishment.plan_history",
    """with newest as (select max(version) as version from replenishment.plan_history where plan_date = $day)
       select * exclude (plan_fingerprint) from replenishment.plan_history
       where plan_date = $day and version = (select version from newest)
       order by partner_id, location_id, product_id""",
)


def read_report_frame(conn: duckdb.DuckDBPyConnection, query: ReportQuery, business_date: date) -> pd.DataFrame:
    """One report query's rows for a business date; empty when its table does not exist yet."""
    table, sql = query
    if not table_exists(conn, table):
        return pd.DataFrame()
    return conn.execute(sql, {"day": business_date} if "$day" in sql else {}).df()


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass
class ReportInputs:
    """What the report shows; every frame may be empty (the page then says so instead of hiding the section).

    The first seven are the night's plan, data gate, failed quality checks, forecast and recent sales; the rest
    add names (``products``, ``locations``, ``partners``), history for the trends (``plan_trend`` per plan date
    and partner, ``gate_history``, ``accuracy_history``, ``scorecard``), the drill-down (``explanations``,
    ``inventory_history``, ``receipts``, ``offending_rows``) and files (``feed_ledger``: late or unloaded files).
    """

    plan_date: date
    run_id: str
    plan: pd.DataFrame
    gate: pd.DataFrame
    check_failures: pd.DataFrame
    forecast: pd.DataFrame
    sales_history: pd.DataFrame
    exceptions: pd.DataFrame = field(default_factory=_empty)
    scorecard: pd.DataFrame = field(default_factory=_empty)
    feed_ledger: pd.DataFrame = field(default_factory=_empty)
    products: pd.DataFrame = field(default_factory=_empty)
    locations: pd.DataFrame = field(default_factory=_empty)
    partners: pd.DataFrame = field(default_factory=_empty)
    plan_trend: pd.DataFrame = field(default_factory=_empty)
    gate_history: pd.DataFrame = field(default_factory=_empty)
    accuracy_history: pd.DataFrame = field(default_factory=_empty)
    value_added: pd.DataFrame = field(default_factory=_empty)  # forecasts.forecast_value_added, partner x week
    explanations: pd.DataFrame = field(default_factory=_empty)
    inventory_history: pd.DataFrame = field(default_factory=_empty)
    receipts: pd.DataFrame = field(default_factory=_empty)
    offending_rows: pd.DataFrame = field(default_factory=_empty)
    docs_links: dict[str, Path] = field(default_factory=dict)  # label -> page; only pages that exist are linked
    exports_dir: Path | None = None  # <artefacts>/exports: each partner's files are linked when they exist
