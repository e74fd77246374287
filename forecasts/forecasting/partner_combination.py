"""The partner's own forecast as evidence: combined with ours by the accuracy each measured on the same past days.

Pure pandas, no I/O. The steps of a night:

1. ``partner_daily``: each partner forecast (a quantity for a target period, often a week) spread evenly over the
   days of its period, the way a weekly sales row is spread over its days (``int_sales_daily``).
2. ``partner_as_known``: for each (series, night, day) wanted, the daily quantity of the newest forecast (latest
   ``forecast_date``; on a tie the narrowest period) whose file had arrived by that night (``known_on <= night``,
   the first business date whose night sees the file, from the ledger's ``received_at`` as
   ``int_partner_forecasts_resolved`` gives it). A past night sees only the files that had arrived by then, however
   early a late file is dated.
3. ``evidence_pairs``: the evidence window. Every forecast of ours made in the last ``EVIDENCE_WINDOW_DAYS`` nights
   for a day whose sales have arrived (uncensored), paired with the partner's forecast of that day as known on the
   same night, and the units sold.
4. ``choose_weights``: per series, weights from inverse mean absolute error (``w_ours = AE_partner / (AE_ours +
   AE_partner)``); the combination is used only when its own error over the evidence window is no worse than the
   better of the two alone, otherwise the better one alone. A series with fewer than ``MIN_EVIDENCE_DAYS`` scored
   days borrows its partner's pooled weights; when the partner has too little evidence too, ours alone.
   **Bias guard**: a partner forecast that errs mostly on one side (its net error over the window is more than
   ``ONE_SIDED_SHARE`` of its absolute error) while ours does not is neither blended nor used alone unless it beats
   ours by more than its bias (``Σ|partner − actual| < Σ|ours − actual| − |Σ(partner − actual)|``): a systematic
   over- or under-forecast goes straight into the plan's stock, which safety stock (sized for noise) does not absorb,
   so a partner biased +25 % with an error close to ours is not blended in.
   Over blocks of series (``partner_evidence``), the pooled judgement is made from sums: ``partner_sums`` of each
   block added by ``pooled_error_sums`` give the pooled weights, ``partner_combined_error`` of each block the
   combination's error, and ``pooled_judgement`` the partner's choice, passed to ``choose_weights`` as
   ``by_partner``.
5. ``combine_night``: the night's rows where the partner has a forecast for the day become
   ``w_ours · ours + w_partner · partner``; p90 keeps its distance above p50 (``p90 − p50`` of ours). The
   statistical forecast stays in ``stat_p50`` / ``stat_p90``, the partner's in ``partner_p50``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SERIES_KEYS = ["partner_id", "location_id", "product_id"]
# Four weeks hold four of a weekly forecaster's issues: enough to judge it, recent enough to follow its changes.
EVIDENCE_WINDOW_DAYS = 28
# Two weeks of scored days before a series is judged on its own; the partner's pooled evidence stands in until then.
MIN_EVIDENCE_DAYS = 14

# A forecast whose net error is more than this share of its absolute error errs mostly on one side (biased): an
# unbiased one's net error over four weeks is a small share of its absolute error, +25 % over-forecasting a large one.
ONE_SIDED_SHARE = 0.5

OURS, PARTNER, COMBINED = "ours", "partner", "combined"
SERIES_LEVEL, PARTNER_LEVEL, NO_EVIDENCE = "series", "partner", "none"

# Each candidate's WAPE over the evidence window, and the bias (Σ(forecast − actual) / Σactual) of ours and theirs.
EVIDENCE_RATIOS = [
    "evidence_wape_ours",
    "evidence_wape_partner",
    "evidence_wape_combined",
    "evidence_bias_ours",
    "evidence_bias_partner",
]
WEIGHT_COLUMNS = ["weight_ours", "weight_partner", "chosen_source", "evidence_level", "evidence_days", *EVIDENCE_RATIOS]


def partner_daily(forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per forecast and day of its target period: ``partner_qty`` = forecast_qty / days in the period.

    ``forecasts`` has the partner forecast contract's resolved columns (series keys, ``forecast_date``,
    ``target_period_start``, ``target_period_end``, ``forecast_qty``) and ``known_on`` (the first night its file
    had arrived by); periods that end before they start are left out (they cannot be spread, as
    ``int_partner_forecasts_resolved`` drops them).
    """
    columns = [*SERIES_KEYS, "forecast_date", "known_on", "date", "period_days", "partner_qty"]
    rows = forecasts.copy()
    for column in ("forecast_date", "known_on", "target_period_start", "target_period_end"):
        rows[column] = pd.to_datetime(rows[column])
    rows = rows[rows["target_period_end"] >= rows["target_period_start"]]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    period_days = (rows["target_period_end"] - rows["target_period_start"]).dt.days.to_numpy() + 1
    expanded = rows.loc[rows.index.repeat(period_days)].reset_index(drop=True)
    offsets = np.concatenate([np.arange(days) for days in period_days])
    expanded["date"] = expanded["target_period_start"] + pd.to_timedelta(offsets, unit="D")
    expanded["period_days"] = np.repeat(period_days, period_days)
    expanded["partner_qty"] = expanded["forecast_qty"].astype(float) / expanded["period_days"]
    return expanded[columns]


def partner_as_known(daily: pd.DataFrame, wanted: pd.DataFrame) -> pd.DataFrame:
    """``wanted`` (series keys, ``night``, ``date``) with ``partner_qty``: the day's share of the newest partner
    forecast whose file had arrived by the night (``known_on <= night``); NaN when none covering that day had."""
    left = wanted.copy()
    left["night"] = pd.to_datetime(left["night"]).astype("datetime64[ns]")
    left["date"] = pd.to_datetime(left["date"]).astype("datetime64[ns]")
    left["_order"] = np.arange(len(left))
    if daily.empty or left.empty:
        return left.drop(columns="_order").assign(partner_qty=np.nan)
    by = [*SERIES_KEYS, "date"]
    right = daily.copy()
    for column in ("forecast_date", "known_on", "date"):
        right[column] = pd.to_datetime(right[column]).astype("datetime64[ns]")
    for column in SERIES_KEYS:
        left[column] = left[column].astype(str)
        right[column] = right[column].astype(str)
    # The newer forecast speaks of a day; of two sent on one day, the narrower period speaks of it more precisely.
    right["_rank"] = right["forecast_date"].astype("int64") - right["period_days"].astype("int64")
    # In arrival order, a forecast is the answer from its night on only when it outranks every one that arrived
    # before it: an old forecast arriving late never replaces a newer one the night already had.
    right = right.sort_values([*by, "known_on", "_rank"], ascending=[True] * (len(by) + 1) + [False])
    best_before = right.groupby(by, sort=False)["_rank"].cummax().groupby([right[c] for c in by]).shift()
    right = right[best_before.isna() | (right["_rank"] > best_before)]
    known = pd.merge_asof(
        left.sort_values("night"),
        right[[*by, "known_on", "partner_qty"]].sort_values("known_on"),
        left_on="night",
        right_on="known_on",
        by=by,
        direction="backward",
    )
    return known.sort_values("_order").drop(columns=["_order", "known_on"]).reset_index(drop=True)


def evidence_pairs(ours: pd.DataFrame, daily: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Past forecasts of both against what sold: series keys, ``night``, ``date``, ``ours``, ``partner``, ``actual``.

    ``ours``: series keys, ``night`` (as-of date), ``date`` (forecast date), ``ours`` (our statistical p50), for the
    nights of the window; ``daily``: ``partner_daily`` of the partner forecasts; ``actuals``: series keys, ``date``,
    ``actual`` for the days whose sales arrived, censored (stock-out) days left out. Only days with all three stay.
    """
    columns = [*SERIES_KEYS, "night", "date", "ours", "partner", "actual"]
    known = partner_as_known(daily, ours[[*SERIES_KEYS, "night", "date"]])
    pairs = ours.reset_index(drop=True).assign(partner=known["partner_qty"].to_numpy())
    pairs["date"] = pd.to_datetime(pairs["date"]).astype("datetime64[ns]")
    sold = actuals.copy()
    sold["date"] = pd.to_datetime(sold["date"]).astype("datetime64[ns]")
    for column in SERIES_KEYS:
        pairs[column] = pairs[column].astype(str)
        sold[column] = sold[column].astype(str)
    pairs = pairs.merge(sold[[*SERIES_KEYS, "date", "actual"]], on=[*SERIES_KEYS, "date"], how="inner")
    pairs = pairs.dropna(subset=["ours", "partner", "actual"])
    return pairs[columns].reset_index(drop=True)


def _judge(evidence: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """Weights and the chosen source per group of evidence rows, with each candidate's WAPE over the window."""
    sums = _error_sums(evidence, group)
    sums["weight_ours"] = _inverse_error_weight(sums)
    sums["error_combined"] = _combined_error(evidence, group, sums["weight_ours"])
    return _decide(sums)


def _error_sums(evidence: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """Per group: each forecaster's absolute and net error, the units sold and the scored days (sums, so a group's
    rows split over several frames add up)."""
    rows = evidence.assign(
        error_ours=(evidence["ours"] - evidence["actual"]).abs(),
        error_partner=(evidence["partner"] - evidence["actual"]).abs(),
        net_ours=evidence["ours"] - evidence["actual"],
        net_partner=evidence["partner"] - evidence["actual"],
    )
    sums = rows.groupby(group, sort=True).agg(
        error_ours=("error_ours", "sum"),
        error_partner=("error_partner", "sum"),
        net_ours=("net_ours", "sum"),
        net_partner=("net_partner", "sum"),
        actual=("actual", "sum"),
    )
    # Scored days: distinct series-days (a day forecast on several nights counts once).
    day_keys = list(dict.fromkeys([*group, "location_id", "product_id", "date"]))
    sums["evidence_days"] = rows.drop_duplicates(day_keys).groupby(group, sort=True).size()
    return sums


def _inverse_error_weight(sums: pd.DataFrame) -> np.ndarray:
    """Inverse mean absolute error: the smaller a forecaster's error, the larger its weight (equal when both are 0)."""
    both = sums["error_ours"] + sums["error_partner"]
    return np.where(both > 0, sums["error_partner"] / both.where(both > 0, 1.0), 0.5)


def _combined_error(evidence: pd.DataFrame, group: list[str], weight_ours: pd.Series) -> pd.Series:
    """Per group: the absolute error of the combination ``weight_ours`` (indexed by group) over the rows."""
    weights = evidence[group].merge(weight_ours.rename("weight_ours"), left_on=group, right_index=True, how="left")
    weights = weights["weight_ours"].to_numpy()
    combined = weights * evidence["ours"] + (1.0 - weights) * evidence["partner"]
    return (combined - evidence["actual"]).abs().groupby([evidence[column] for column in group], sort=True).sum()


def _decide(sums: pd.DataFrame) -> pd.DataFrame:
    """The chosen source and final weights of each group from its error sums, and the evidence ratios."""
    best_alone = np.minimum(sums["error_ours"], sums["error_partner"])
    sums["chosen_source"] = np.where(
        sums["error_combined"] <= best_alone,
        COMBINED,
        np.where(sums["error_ours"] <= sums["error_partner"], OURS, PARTNER),
    )
    sums.loc[_partner_bias_guarded(sums), "chosen_source"] = OURS
    sums.loc[sums["chosen_source"] == OURS, "weight_ours"] = 1.0
    sums.loc[sums["chosen_source"] == PARTNER, "weight_ours"] = 0.0
    sums["weight_partner"] = 1.0 - sums["weight_ours"]
    sold = sums["actual"].where(sums["actual"] > 0)
    for source in (OURS, PARTNER, COMBINED):
        sums[f"evidence_wape_{source}"] = sums[f"error_{source}"] / sold
    for source in (OURS, PARTNER):
        sums[f"evidence_bias_{source}"] = sums[f"net_{source}"] / sold
    return sums


def pooled_error_sums(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Each partner's error sums (``partner_sums`` of the blocks of series) added up, with the pooled weight of ours:
    the first pass of judging a partner's pooled evidence block by block."""
    sums = pd.concat(parts).groupby(level=0, sort=True).sum() if parts else pd.DataFrame()
    if not sums.empty:
        sums["weight_ours"] = _inverse_error_weight(sums)
    return sums


def partner_sums(evidence: pd.DataFrame) -> pd.DataFrame:
    """One block of series' evidence as error sums per partner (``pooled_error_sums`` adds the blocks up)."""
    if evidence.empty:
        return pd.DataFrame()
    return _error_sums(evidence.astype(dict.fromkeys(SERIES_KEYS, str)), ["partner_id"])


def partner_combined_error(evidence: pd.DataFrame, pooled: pd.DataFrame) -> pd.Series:
    """One block of series' absolute error of each partner's pooled combination (the second pass; add the blocks)."""
    if evidence.empty or pooled.empty:
        return pd.Series(dtype=float)
    evidence = evidence.astype(dict.fromkeys(SERIES_KEYS, str))
    return _combined_error(evidence, ["partner_id"], pooled["weight_ours"])


def pooled_judgement(pooled: pd.DataFrame, combined_errors: list[pd.Series], min_days: int) -> pd.DataFrame:
    """Each partner's pooled weights from its added-up sums and combination errors (``choose_weights``'
    ``by_partner``): the same judgement as over the partner's evidence rows at once."""
    if pooled.empty:
        return pd.DataFrame(columns=WEIGHT_COLUMNS)
    sums = pooled.copy()
    sums["error_combined"] = pd.concat(combined_errors).groupby(level=0, sort=True).sum()
    return _pooled_level(_decide(sums), min_days)


def _pooled_level(by_partner: pd.DataFrame, min_days: int) -> pd.DataFrame:
    return by_partner[by_partner["evidence_days"] >= min_days].assign(evidence_level=PARTNER_LEVEL)


def _partner_bias_guarded(sums: pd.DataFrame) -> pd.Series:
    """Groups whose partner forecast errs mostly on one side while ours does not, and does not beat ours by more
    than its bias: ours alone there (the bias guard of the module docstring)."""

    def one_sided(source: str) -> pd.Series:
        return sums[f"net_{source}"].abs() > ONE_SIDED_SHARE * sums[f"error_{source}"]

    lead = sums["error_ours"] - sums["error_partner"]
    return one_sided(PARTNER) & ~one_sided(OURS) & (lead <= sums["net_partner"].abs())


def choose_weights(
    evidence: pd.DataFrame,
    series: pd.DataFrame,
    min_days: int = MIN_EVIDENCE_DAYS,
    by_partner: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per row of ``series`` (series keys): ``WEIGHT_COLUMNS`` from the evidence window.

    A series with at least ``min_days`` scored days is judged on its own evidence; otherwise on its partner's
    pooled evidence when that holds ``min_days`` scored series-days; otherwise it keeps ours alone. ``by_partner``:
    the partners' pooled judgement when ``evidence`` holds only some of their series (``pooled_judgement`` over the
    blocks of series); by default it is judged from ``evidence``.
    """
    out = series[SERIES_KEYS].drop_duplicates().astype(str).reset_index(drop=True)
    out["weight_ours"], out["weight_partner"], out["chosen_source"] = 1.0, 0.0, OURS
    out["evidence_level"], out["evidence_days"] = NO_EVIDENCE, 0
    for column in EVIDENCE_RATIOS:
        out[column] = np.nan
    if by_partner is None:
        if evidence.empty:
            return out
        evidence = evidence.astype(dict.fromkeys(SERIES_KEYS, str))
        by_partner = _pooled_level(_judge(evidence, ["partner_id"]), min_days)
    if out.empty or (evidence.empty and by_partner.empty):
        return out
    columns = WEIGHT_COLUMNS
    indexed = out.set_index(SERIES_KEYS)
    pooled = out[["partner_id"]].join(by_partner[columns], on="partner_id")
    pooled.index = indexed.index
    has_pooled = pooled["evidence_level"].notna()
    indexed.loc[has_pooled, columns] = pooled.loc[has_pooled, columns]
    if not evidence.empty:
        by_series = _judge(evidence.astype(dict.fromkeys(SERIES_KEYS, str)), SERIES_KEYS)
        by_series = by_series[by_series["evidence_days"] >= min_days].assign(evidence_level=SERIES_LEVEL)
        own = by_series[columns].reindex(indexed.index)
        has_own = own["evidence_level"].notna()
        indexed.loc[has_own, columns] = own.loc[has_own, columns]
    out = indexed.reset_index()
    out["evidence_days"] = out["evidence_days"].astype(int)
    for column in ("weight_ours", "weight_partner", *EVIDENCE_RATIOS):
        out[column] = out[column].astype(float)
    return out


def combine_night(night: pd.DataFrame, partner_qty: pd.Series, weights: pd.DataFrame) -> pd.DataFrame:
    """The night's forecast rows with the partner's evidence applied.

    ``night``: series keys, ``forecast_date``, ``p50``, ``p90`` (ours, statistical); ``partner_qty``: the partner's
    daily forecast of each row as known tonight (aligned with ``night``, NaN where it has none); ``weights``: the
    output of ``choose_weights``. Adds ``stat_p50``, ``stat_p90``, ``partner_p50``, ``forecast_source`` (what the
    row's p50 is: ours, partner or combined), the row's weights and the series' evidence (``evidence_level``,
    ``evidence_days``, ``evidence_wape_*``); p50 and p90 become the combination.
    """
    rows = night.reset_index(drop=True).copy()
    rows["stat_p50"], rows["stat_p90"] = rows["p50"].astype(float), rows["p90"].astype(float)
    rows["partner_p50"] = np.asarray(partner_qty, dtype=float)
    keys = rows[SERIES_KEYS].astype(str)
    joined = keys.merge(weights[[*SERIES_KEYS, *WEIGHT_COLUMNS]], on=SERIES_KEYS, how="left")
    for column in WEIGHT_COLUMNS:
        rows[column] = joined[column].to_numpy()
    rows["weight_ours"] = rows["weight_ours"].fillna(1.0).astype(float)
    rows["weight_partner"] = rows["weight_partner"].fillna(0.0).astype(float)
    rows["chosen_source"] = rows["chosen_source"].fillna(OURS)
    rows["evidence_level"] = rows["evidence_level"].fillna(NO_EVIDENCE)
    rows["evidence_days"] = rows["evidence_days"].fillna(0).astype(int)
    has_partner = rows["partner_p50"].notna()
    rows["forecast_source"] = np.where(has_partner, rows.pop("chosen_source"), OURS)
    # A day the partner did not forecast is ours alone, whatever the series' weights.
    rows.loc[~has_partner, ["weight_ours", "weight_partner"]] = [1.0, 0.0]
    used = has_partner & (rows["weight_partner"] > 0)
    spread = rows["stat_p90"] - rows["stat_p50"]
    p50 = rows["weight_ours"] * rows["stat_p50"] + rows["weight_partner"] * rows["partner_p50"]
    rows.loc[used, "p50"] = p50[used].clip(lower=0.0)
    rows.loc[used, "p90"] = rows.loc[used, "p50"] + spread[used]
    return rows
