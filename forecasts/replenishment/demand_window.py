"""The demand a plan line protects: the forecast averaged over the line's own risk period.

The policy applies one mean daily demand over the risk period ``w + L + R`` (``policy``), and ``R`` depends on the
ship days chosen for the location, so the mean is taken after they are chosen, over exactly those days: the days
1 … ⌈w + L + R⌉ after the plan date. A promotion late in a weekly truck's risk period then counts; a mean over a
fixed shorter horizon would miss it. σ_d is averaged the same way from the forecast's p50 and p90.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from forecasts.forecasting.quantiles import Z_P90

KEY_COLUMNS = ["partner_id", "location_id", "product_id"]
FORECAST_COLUMNS = [*KEY_COLUMNS, "forecast_date", "p50", "p90"]
# The longest risk period a line can have is ⌈6 + L + max(review, 7)⌉ days, whatever ship days are chosen: six
# days of sales before a weekly truck leaves, the lead time, then the week (or the review period, when longer).
LONGEST_WAIT_DAYS = 6
LONGEST_GAP_DAYS = 7


def demand_over_risk_window(
    keys: pd.DataFrame, forecast: pd.DataFrame, plan_date: date, risk_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``keys`` (partner, location, product), the mean daily p50 and σ_d (``(p90 − p50) / z(0.9)``) over
    the days 1 … ⌈risk_days⌉ after ``plan_date``; NaN where the forecast (``FORECAST_COLUMNS``, one row per series
    and day) has no such day. A window longer than the forecast is averaged over the days it has."""
    mean, std = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    if forecast is None or forecast.empty:
        return mean, std
    offset = (pd.to_datetime(forecast["forecast_date"]) - pd.Timestamp(plan_date)).dt.days.to_numpy()
    days = forecast.assign(
        offset=offset,
        p50=pd.to_numeric(forecast["p50"]).clip(lower=0.0),
        spread=np.clip((pd.to_numeric(forecast["p90"]) - pd.to_numeric(forecast["p50"])) / Z_P90, 0.0, None),
    )[offset >= 1]
    # Day by day within a series, whatever order the rows came in: a mean of floats depends on the order it sums in.
    days = days.sort_values("offset", kind="stable")
    by_series = {key: frame for key, frame in days.groupby(KEY_COLUMNS, sort=False)}
    last_day = np.ceil(np.asarray(risk_days, dtype=float) - 1e-9)
    for row, key in enumerate(keys[KEY_COLUMNS].itertuples(index=False, name=None)):
        series = by_series.get(key)
        if series is None:
            continue
        window = series[series["offset"] <= last_day[row]]
        if not window.empty:
            mean[row], std[row] = window["p50"].mean(), window["spread"].mean()
    return mean, std
