"""The forecast history tables (DuckDB I/O only; no Dagster).

- `forecasts.forecast_history`: every forecast run with its as-of date (a rerun of a date replaces that date).
- `forecasts.demand_forecast`: view of the newest as-of date, one row per series and future date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from orchestration.runtime.warehouse_tables import replace_date_rows

SERIES_SEPARATOR = "|"
SERIES_KEYS = ["partner_id", "location_id", "product_id"]


def series_id_for(frame: pd.DataFrame) -> pd.Series:
    """`partner|location|product`: one forecast series per partner location and product."""
    return frame[SERIES_KEYS].astype(str).agg(SERIES_SEPARATOR.join, axis=1)


def utc_now() -> datetime:
    """The current UTC time without a zone, as the history tables' timestamp columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)


HISTORY_COLUMNS = [
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


# Columns added after the table was first released: the partner's forecast as evidence (`partner_evidence`). A
# warehouse created before gains them in place (older rows read NULL: their p50 and p90 are ours alone).
EVIDENCE_COLUMNS = {
    "stat_p50": "double",
    "stat_p90": "double",
    "partner_p50": "double",
    "forecast_source": "varchar",
    "weight_ours": "double",
    "weight_partner": "double",
    "evidence_level": "varchar",
    "evidence_days": "integer",
    "evidence_wape_ours": "double",
    "evidence_wape_partner": "double",
    "evidence_wape_combined": "double",
    "evidence_bias_ours": "double",
    "evidence_bias_partner": "double",
}


# The evidence of the model choice by demand class (`model_choice`): why the class's model was kept or switched, each
# candidate's mean MASE on the class's backtest (JSON), its origins and series. NULL on older rows and on series of
# a class without a choice (zero and short series).
CHOICE_COLUMN_TYPES = {
    "choice_reason": "varchar",
    "choice_scores": "varchar",
    "choice_origins": "integer",
    "choice_series": "integer",
}


def ensure_forecast_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the history table and the newest-forecast view when missing."""
    conn.execute("create schema if not exists forecasts")
    conn.execute(
        """create table if not exists forecasts.forecast_history (
               as_of_date date, partner_id varchar, location_id varchar, product_id varchar, series_id varchar,
               forecast_date date, p50 double, p90 double, model varchar, demand_class varchar, adi double,
               cv2 double, run_id varchar, created_at timestamp)"""
    )
    for name, column_type in {**EVIDENCE_COLUMNS, **CHOICE_COLUMN_TYPES}.items():
        conn.execute(f"alter table forecasts.forecast_history add column if not exists {name} {column_type}")
    conn.execute(
        """create or replace view forecasts.demand_forecast as
           select * from forecasts.forecast_history
           where as_of_date = (select max(as_of_date) from forecasts.forecast_history)"""
    )


def save_forecast(conn: duckdb.DuckDBPyConnection, forecast: pd.DataFrame, *, as_of_date: date, run_id: str) -> int:
    """Store one as-of date's forecast (a frame with string series ids); returns the rows written."""
    rows = forecast.copy()
    rows[SERIES_KEYS] = rows["series_id"].str.split(SERIES_SEPARATOR, n=2, expand=True)
    rows = rows.rename(columns={"date": "forecast_date"})
    rows["as_of_date"] = as_of_date
    rows["run_id"] = run_id
    rows["created_at"] = utc_now()
    rows = rows[HISTORY_COLUMNS + [column for column in CHOICE_COLUMN_TYPES if column in rows.columns]]
    ensure_forecast_tables(conn)
    replace_date_rows(conn, "forecasts.forecast_history", "as_of_date", as_of_date, rows)
    return len(rows)
