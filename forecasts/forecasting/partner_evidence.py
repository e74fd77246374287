"""The night's forecast with the partners' own forecasts as evidence (DuckDB I/O only; no Dagster).

``apply_partner_forecasts(conn, as_of_date)`` runs after the night's statistical forecast is stored in
``forecasts.forecast_history``. It reads the partner forecasts whose files had arrived by the night
(``intermediate.int_partner_forecasts_resolved``, ``known_on``), our statistical forecasts of the last
``EVIDENCE_WINDOW_DAYS`` nights and the uncensored sales since, weighs the two per series
(``partner_combination``), and rewrites the night's rows in place: ``p50`` / ``p90`` become the forecast the plan
uses (ours, the partner's or the combination), ``stat_p50`` / ``stat_p90`` keep ours, ``partner_p50`` the partner's
daily share, with the weights and the evidence-window errors beside them. Rerunning it gives the same rows: it always
starts from ``stat_p50``.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import duckdb
import pandas as pd

from forecasts.forecasting.forecast_history import EVIDENCE_COLUMNS, ensure_forecast_tables
from forecasts.forecasting.partner_combination import (
    EVIDENCE_WINDOW_DAYS,
    MIN_EVIDENCE_DAYS,
    OURS,
    SERIES_KEYS,
    choose_weights,
    combine_night,
    evidence_pairs,
    partner_as_known,
    partner_daily,
)
from orchestration.runtime.warehouse_tables import table_exists

PARTNER_FORECASTS = "intermediate.int_partner_forecasts_resolved"

_NIGHT_SQL = """
select partner_id, location_id, product_id, forecast_date,
       coalesce(stat_p50, p50) as p50, coalesce(stat_p90, p90) as p90
from forecasts.forecast_history
where as_of_date = $night
"""

_PARTNER_SQL = f"""
select partner_id, location_id, product_id, forecast_date, known_on, target_period_start, target_period_end,
       forecast_qty
from {PARTNER_FORECASTS}
where known_on <= $night and target_period_end > $night - $window
  and partner_id in (select distinct partner_id from forecasts.forecast_history where as_of_date = $night)
"""

# Our statistical forecasts of the window's nights for days whose sales have arrived by tonight.
_OURS_SQL = """
select partner_id, location_id, product_id, as_of_date as night, forecast_date as date,
       coalesce(stat_p50, p50) as ours
from forecasts.forecast_history
where as_of_date between $night - $window and $night - 1 and forecast_date <= $night
"""

_ACTUALS_SQL = """
select partner_id, location_id, product_id, sales_date as date, units_sold as actual
from marts.fct_sales_daily
where sales_date between $night - $window + 1 and $night and not coalesce(is_stockout, false)
"""

_UPDATE_COLUMNS = ["p50", "p90", *EVIDENCE_COLUMNS]


def apply_partner_forecasts(
    conn: duckdb.DuckDBPyConnection,
    as_of_date: date,
    *,
    window_days: int = EVIDENCE_WINDOW_DAYS,
    min_days: int = MIN_EVIDENCE_DAYS,
) -> Counter:
    """Rewrite ``as_of_date``'s forecast rows with the partners' evidence; returns the rows per forecast source."""
    ensure_forecast_tables(conn)
    parameters = {"night": as_of_date, "window": window_days}
    night = conn.execute(_NIGHT_SQL, {"night": as_of_date}).df()
    if night.empty:
        return Counter()
    has_table = table_exists(conn, PARTNER_FORECASTS)
    forecasts = conn.execute(_PARTNER_SQL, parameters).df() if has_table else pd.DataFrame()
    daily = partner_daily(forecasts) if not forecasts.empty else pd.DataFrame()
    wanted = night[SERIES_KEYS].assign(night=pd.Timestamp(as_of_date), date=night["forecast_date"])
    tonight = partner_as_known(daily, wanted)["partner_qty"]
    with_partner = night.loc[tonight.notna().to_numpy(), SERIES_KEYS].drop_duplicates()
    evidence = pd.DataFrame()
    if not with_partner.empty:
        ours = conn.execute(_OURS_SQL, parameters).df()
        actuals = conn.execute(_ACTUALS_SQL, parameters).df()
        if not ours.empty and not actuals.empty:
            evidence = evidence_pairs(ours, daily, actuals)
    weights = choose_weights(evidence, with_partner, min_days=min_days)
    rows = combine_night(night, tonight, weights)
    _write(conn, rows, as_of_date)
    return Counter(rows["forecast_source"].tolist()) if not rows.empty else Counter({OURS: 0})


def _write(conn: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of_date: date) -> None:
    rows = rows.assign(forecast_date=pd.to_datetime(rows["forecast_date"]).dt.date)
    assignments = ", ".join(f'"{column}" = e."{column}"' for column in _UPDATE_COLUMNS)
    conn.execute("begin")
    conn.register("night_evidence", rows[[*SERIES_KEYS, "forecast_date", *_UPDATE_COLUMNS]])
    try:
        conn.execute(
            f"""update forecasts.forecast_history as h set {assignments}
                from night_evidence as e
                where h.as_of_date = $night and h.partner_id = e.partner_id and h.location_id = e.location_id
                  and h.product_id = e.product_id and h.forecast_date = e.forecast_date""",
            {"night": as_of_date},
        )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    finally:
        conn.unregister("night_evidence")
