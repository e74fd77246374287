"""Monthly buckets in the nightly forecast: slow movers forecast in calendar months, written back as days.

An agreement's ``forecast_bucket`` of ``month`` puts its series here. Their daily history is summed into the
calendar months it covers completely (a partial first month, before the series' first row, and the month still
running on the night are left out), a month with a stock-out day counts as unknown demand (censored: its sum is
not the month's demand), the engine forecasts the months with ``freq="M"``, and each month's p50 and p90 are
spread evenly over its days for the nightly horizon. Spreading p90 is an approximation: a month's 90th
percentile divided by its days is a share of the month's upper bound, lower than a single day's own 90th
percentile, but its sum over a lead time of weeks stays close to the month's. Rows name the model
``<model> (monthly)``; their ``adi`` counts months. A series without one complete month is forecast by day.
"""

from __future__ import annotations

import pandas as pd

DAY_BUCKET = "day"
MONTH_BUCKET = "month"
FORECAST_BUCKETS = (DAY_BUCKET, MONTH_BUCKET)
MONTHLY_MODEL_SUFFIX = " (monthly)"


def complete_months(rows: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """Daily ``series_id, date, qty, censored`` -> one row per series and calendar month it covers completely.

    A month is complete when it starts on or after the series' first row and ends by ``last_day`` (the night's
    last sales date). ``qty`` is the month's sum, ``censored`` whether any of its days was (or had no quantity);
    the month is dated by its first day. The last complete month before ``last_day`` gets a zero row when the
    series sold nothing in it, so every series' months end in the same month and its forecast starts in the month
    after.
    """
    if rows.empty:
        return pd.DataFrame({"series_id": [], "date": pd.to_datetime([]), "qty": [], "censored": []})
    last_day = pd.Timestamp(last_day)
    dates = pd.to_datetime(rows["date"])
    month = dates.dt.to_period("M")
    last_month = _last_complete_month(last_day)
    first_row = dates.groupby(rows["series_id"]).transform("min")
    first_month = first_row.dt.to_period("M") + (first_row.dt.day > 1).astype(int)
    keep = (month >= first_month) & (month <= last_month)
    qty = pd.to_numeric(rows["qty"][keep], errors="coerce")
    censored = rows["censored"][keep].fillna(False).astype(bool) if "censored" in rows else False
    # As by day: net returns are zero demand, a missing quantity is unknown demand.
    kept = pd.DataFrame(
        {
            "series_id": rows["series_id"][keep],
            "month": month[keep],
            "qty": qty.clip(lower=0.0).fillna(0.0),
            "censored": qty.isna() | censored,
        }
    )
    months = kept.groupby(["series_id", "month"], as_index=False, sort=True).agg(
        qty=("qty", "sum"), censored=("censored", "any")
    )
    ends = pd.DataFrame({"series_id": months["series_id"].unique(), "month": last_month})
    months = (
        pd.concat([months, ends.assign(qty=0.0, censored=False)], ignore_index=True)
        .drop_duplicates(["series_id", "month"], keep="first")
        .sort_values(["series_id", "month"], kind="stable")
    )
    months["date"] = months["month"].dt.to_timestamp()
    return months[["series_id", "date", "qty", "censored"]].reset_index(drop=True)


def months_to_cover(last_day: pd.Timestamp, horizon: int) -> int:
    """Months the engine forecasts after the last complete month so that the ``horizon`` days after
    ``last_day`` are all in one of them."""
    return int(
        ((pd.Timestamp(last_day) + pd.Timedelta(days=horizon)).to_period("M") - _last_complete_month(last_day)).n
    )


def spread_over_days(monthly: pd.DataFrame, last_day: pd.Timestamp, horizon: int) -> pd.DataFrame:
    """The engine's monthly forecast (``series_id, date, p50, p90, model, ...``, months dated by their first day)
    as daily rows for the ``horizon`` days after ``last_day``: each day gets its month's p50 and p90 divided by
    the month's days, and the model is marked monthly."""
    days = pd.date_range(pd.Timestamp(last_day) + pd.Timedelta(days=1), periods=horizon, freq="D")
    calendar = pd.DataFrame({"day": days, "month": days.to_period("M").to_timestamp()})
    daily = monthly.rename(columns={"date": "month"}).merge(calendar, on="month", how="inner", sort=False)
    share = 1.0 / daily["month"].dt.days_in_month.to_numpy(dtype=float)
    daily["p50"] = daily["p50"].to_numpy(dtype=float) * share
    daily["p90"] = daily["p90"].to_numpy(dtype=float) * share
    daily["model"] = daily["model"].astype(str) + MONTHLY_MODEL_SUFFIX
    daily = daily.drop(columns="month").rename(columns={"day": "date"})
    daily = daily.sort_values(["series_id", "date"], kind="stable").reset_index(drop=True)
    return daily[list(monthly.columns)]


def split_buckets(
    engine_rows: pd.DataFrame, monthly_ids: set, last_day: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The engine's daily rows of the series forecast by day, and the complete months of those forecast by month
    (``monthly_ids`` with at least one complete month; the others stay daily)."""
    wanted = engine_rows["series_id"].isin(monthly_ids)
    first_rows = pd.to_datetime(engine_rows.loc[wanted, "date"]).groupby(engine_rows.loc[wanted, "series_id"]).min()
    first_months = first_rows.dt.to_period("M") + (first_rows.dt.day > 1).astype(int)
    by_month = set(first_months.index[first_months <= _last_complete_month(last_day)])
    monthly = engine_rows["series_id"].isin(by_month)
    months = complete_months(engine_rows.loc[monthly, ["series_id", "date", "qty", "censored"]], last_day)
    return engine_rows[~monthly], months


def _last_complete_month(last_day: pd.Timestamp) -> pd.Period:
    return (pd.Timestamp(last_day) + pd.Timedelta(days=1)).to_period("M") - 1
