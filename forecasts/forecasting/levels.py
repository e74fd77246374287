"""Forecast at a coarser level than the plan: aggregate history, then split the forecast back to locations.

A partner's product often sells too thinly per store to forecast well; summed over its stores the series is smoother.
The plan still needs one row per location, so each location gets the aggregate forecast times its recent share.
"""

from __future__ import annotations

import pandas as pd

LOCATION = "location"  # partner x location x product: one series per shelf (the default)
PARTNER = "partner"  # partner x product: one series per partner item, split to locations by recent sales
LEVELS = (LOCATION, PARTNER)

# Shares come from the last eight weeks: recent enough to follow store openings, long enough to be stable.
SHARE_DAYS = 56
SEPARATOR = "|"


def aggregate_history(history: pd.DataFrame, level: str) -> pd.DataFrame:
    """`partner_id, location_id, product_id, date, qty, censored` -> the engine's `series_id, date, qty, censored`.

    At the partner level a day is censored only when every location carrying the product was out of stock: a
    stock-out in one store understates that day's total, but the other stores' sales are still real demand.
    """
    if level not in LEVELS:
        raise ValueError(f"forecast level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level == LOCATION:
        series = history["partner_id"] + SEPARATOR + history["location_id"] + SEPARATOR + history["product_id"]
        return history.assign(series_id=series)[["series_id", "date", "qty", "censored"]]
    grouped = (
        history.groupby(["partner_id", "product_id", "date"], as_index=False)
        .agg(qty=("qty", "sum"), censored=("censored", "all"))
        .sort_values(["partner_id", "product_id", "date"])
    )
    grouped["series_id"] = grouped["partner_id"] + SEPARATOR + grouped["product_id"]
    return grouped[["series_id", "date", "qty", "censored"]]


def location_shares(
    history: pd.DataFrame, share_days: int = SHARE_DAYS, last_date: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Each location's share of its partner's sales of a product over the last `share_days` days (sums to 1).

    A product with no recent sales anywhere is shared equally among the locations that carry it. The window ends on
    `last_date` (default: the last date in `history`).
    """
    last = history["date"].max() if last_date is None else last_date
    recent = history[history["date"] > last - pd.Timedelta(days=share_days)]
    sold = recent.groupby(["partner_id", "product_id", "location_id"], as_index=False)["qty"].sum()
    carried = history[["partner_id", "product_id", "location_id"]].drop_duplicates()
    shares = carried.merge(sold, how="left", on=["partner_id", "product_id", "location_id"]).fillna({"qty": 0.0})
    shares["qty"] = shares["qty"].clip(lower=0.0)
    totals = shares.groupby(["partner_id", "product_id"])["qty"].transform("sum")
    counts = shares.groupby(["partner_id", "product_id"])["qty"].transform("size")
    shares["share"] = (shares["qty"] / totals).where(totals > 0, 1.0 / counts)
    return shares[["partner_id", "product_id", "location_id", "share"]]


def split_to_locations(forecast: pd.DataFrame, history: pd.DataFrame, level: str) -> pd.DataFrame:
    """Bring an engine forecast back to one series per partner location and product.

    p50 and p90 are both scaled by the share; scaling a quantile understates a single store's spread a little
    (store noise partly cancels in the sum), which the plan's safety stock inherits.
    """
    if level == LOCATION:
        return forecast
    keys = forecast["series_id"].str.split(SEPARATOR, n=1, expand=True)
    forecast = forecast.assign(partner_id=keys[0], product_id=keys[1])
    split = forecast.merge(location_shares(history), on=["partner_id", "product_id"], how="inner")
    split["p50"] = split["p50"] * split["share"]
    split["p90"] = split["p90"] * split["share"]
    split["series_id"] = split["partner_id"] + SEPARATOR + split["location_id"] + SEPARATOR + split["product_id"]
    split["model"] = split["model"] + "@" + PARTNER
    return split[list(forecast.columns.drop(["partner_id", "product_id"]))].reset_index(drop=True)


# The same two steps on a chunk of numbered series, as the nightly reads them from the warehouse: `series_id` is the
# number of the engine's series (a partner x product at the partner level) and `location_series` the number of the
# partner location x product series a row belongs to; ids are mapped back to names by a join when the rows are
# written. Only whole engine series are ever in a chunk, so aggregating and splitting a chunk gives the rows the
# frame-wide functions above give for those series.


def aggregate_chunk(rows: pd.DataFrame, level: str) -> pd.DataFrame:
    """`series_id, location_series, date, qty, censored` -> the engine's `series_id, date, qty, censored`."""
    if level not in LEVELS:
        raise ValueError(f"forecast level must be one of {', '.join(LEVELS)}, got {level!r}")
    if level == LOCATION:
        return rows[["series_id", "date", "qty", "censored"]]
    return (
        rows.groupby(["series_id", "date"], as_index=False)
        .agg(qty=("qty", "sum"), censored=("censored", "all"))
        .sort_values(["series_id", "date"])[["series_id", "date", "qty", "censored"]]
    )


def split_chunk(forecast: pd.DataFrame, rows: pd.DataFrame, level: str, last_date: pd.Timestamp) -> pd.DataFrame:
    """`split_to_locations` for a numbered chunk: the forecast's `series_id` becomes the location series number.

    `last_date` is the last sales date of the whole night (not of the chunk), so every chunk's shares cover the same
    eight weeks.
    """
    if level == LOCATION:
        return forecast
    keyed = rows.rename(columns={"series_id": "partner_id", "location_series": "location_id"}).assign(product_id=0)
    shares = location_shares(keyed, last_date=last_date).rename(
        columns={"partner_id": "series_id", "location_id": "location_series"}
    )
    split = forecast.merge(shares[["series_id", "location_series", "share"]], on="series_id", how="inner")
    split["p50"] = split["p50"] * split["share"]
    split["p90"] = split["p90"] * split["share"]
    split["series_id"] = split["location_series"]
    split["model"] = split["model"] + "@" + PARTNER
    return split[list(forecast.columns)].reset_index(drop=True)
