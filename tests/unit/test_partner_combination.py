"""The partner's forecast combined with ours by measured accuracy: spreading, what a night knew, weights, guard."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.forecasting.partner_combination import (
    COMBINED,
    NO_EVIDENCE,
    ONE_SIDED_SHARE,
    OURS,
    PARTNER,
    PARTNER_LEVEL,
    SERIES_LEVEL,
    choose_weights,
    combine_night,
    evidence_pairs,
    partner_as_known,
    partner_combined_error,
    partner_daily,
    partner_sums,
    pooled_error_sums,
    pooled_judgement,
)

KEYS = {"partner_id": "p1", "location_id": "L1", "product_id": "A"}


def _forecast(sent: str, start: str, end: str, qty: float, arrived: str | None = None, **keys) -> dict:
    """A partner forecast issued on ``sent``, its file known from ``arrived``'s night (by default the same day)."""
    return {**KEYS, **keys, "forecast_date": sent, "known_on": arrived or sent, "target_period_start": start,
            "target_period_end": end, "forecast_qty": qty}  # fmt: skip


def test_a_week_is_spread_evenly_over_its_days_and_a_reversed_period_is_left_out():
    daily = partner_daily(
        pd.DataFrame(
            [
                _forecast("2025-01-01", "2025-01-06", "2025-01-12", 70.0),
                _forecast("2025-01-01", "2025-01-13", "2025-01-12", 5.0),
            ]
        )
    )
    assert len(daily) == 7
    assert daily["date"].min() == pd.Timestamp("2025-01-06") and daily["date"].max() == pd.Timestamp("2025-01-12")
    assert np.allclose(daily["partner_qty"], 10.0)


def test_a_night_sees_only_the_forecasts_sent_by_then():
    daily = partner_daily(
        pd.DataFrame(
            [
                _forecast("2025-01-01", "2025-01-06", "2025-01-12", 70.0),
                _forecast("2025-01-06", "2025-01-06", "2025-01-12", 140.0),
                # Sent the same day for one day only: the narrower period wins that day.
                _forecast("2025-01-06", "2025-01-08", "2025-01-08", 3.0),
            ]
        )
    )
    wanted = pd.DataFrame(
        {
            **{k: [v] * 5 for k, v in KEYS.items()},
            "night": ["2024-12-31", "2025-01-05", "2025-01-06", "2025-01-06", "2025-01-06"],
            "date": ["2025-01-07", "2025-01-07", "2025-01-07", "2025-01-08", "2025-01-20"],
        }
    )
    known = partner_as_known(daily, wanted)["partner_qty"].tolist()
    assert np.isnan(known[0])  # nothing sent yet
    assert known[1] == 10.0  # the 1 January forecast: the 6 January one was not sent by the 5th
    assert known[2] == 20.0  # the newer one replaces it on its night
    assert known[3] == 3.0
    assert np.isnan(known[4])  # no forecast covers that day


def test_a_past_night_sees_a_forecast_only_once_its_file_had_arrived_however_early_it_is_dated():
    daily = partner_daily(
        pd.DataFrame(
            [
                _forecast("2025-01-01", "2025-01-06", "2025-01-12", 70.0),
                # Dated 3 January, but the file only arrived for the 8th's night.
                _forecast("2025-01-03", "2025-01-06", "2025-01-12", 140.0, arrived="2025-01-08"),
                # Dated 2 January and arriving even later: the night already had the newer one of the 3rd.
                _forecast("2025-01-02", "2025-01-06", "2025-01-12", 7.0, arrived="2025-01-09"),
            ]
        )
    )
    wanted = pd.DataFrame(
        {
            **{k: [v] * 4 for k, v in KEYS.items()},
            "night": ["2025-01-05", "2025-01-07", "2025-01-08", "2025-01-09"],
            "date": ["2025-01-10"] * 4,
        }
    )
    known = partner_as_known(daily, wanted)["partner_qty"].tolist()
    assert known == [10.0, 10.0, 20.0, 20.0]


def test_evidence_on_a_past_night_pairs_ours_with_the_partner_forecast_that_night_had():
    ours = pd.DataFrame(
        {**KEYS, "night": ["2025-01-05", "2025-01-08"], "date": ["2025-01-10", "2025-01-10"], "ours": [9.0, 9.0]}
    )
    daily = partner_daily(
        pd.DataFrame(
            [
                _forecast("2025-01-01", "2025-01-06", "2025-01-12", 70.0),
                _forecast("2025-01-03", "2025-01-06", "2025-01-12", 140.0, arrived="2025-01-08"),
            ]
        )
    )
    actuals = pd.DataFrame({**KEYS, "date": ["2025-01-10"], "actual": [12.0]})
    pairs = evidence_pairs(ours, daily, actuals)
    assert pairs["partner"].tolist() == [10.0, 20.0]


def _evidence(ours, partner, actual, partner_id="p1", location_id="L1", start=date(2025, 1, 1)):
    n = len(actual)
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": location_id,
            "product_id": "A",
            "night": [start] * n,
            "date": [start + timedelta(days=i + 1) for i in range(n)],
            "ours": ours,
            "partner": partner,
            "actual": actual,
        }
    )


SERIES = pd.DataFrame([KEYS])


def test_evidence_pairs_keep_only_days_with_both_forecasts_and_sales():
    ours = pd.DataFrame(
        {
            **{k: [v] * 3 for k, v in KEYS.items()},
            "night": ["2025-01-05"] * 3,
            "date": ["2025-01-06", "2025-01-07", "2025-01-13"],
            "ours": [8.0, 9.0, 9.0],
        }  # fmt: skip
    )
    daily = partner_daily(pd.DataFrame([_forecast("2025-01-01", "2025-01-06", "2025-01-12", 70.0)]))
    actuals = pd.DataFrame({**{k: [v] * 2 for k, v in KEYS.items()}, "date": ["2025-01-06", "2025-01-13"],
                            "actual": [11.0, 4.0]})  # fmt: skip
    pairs = evidence_pairs(ours, daily, actuals)
    assert pairs[["ours", "partner", "actual"]].values.tolist() == [[8.0, 10.0, 11.0]]


def test_weights_follow_inverse_error_and_a_better_combination_is_used():
    rng = np.random.default_rng(1)
    actual = rng.uniform(5, 15, 20)
    # Ours errs high by 2, the partner low by 2: the average is exact.
    weights = choose_weights(_evidence(actual + 2, actual - 2, actual), SERIES, min_days=14)
    row = weights.iloc[0]
    assert row["chosen_source"] == COMBINED and row["evidence_level"] == SERIES_LEVEL
    assert row["weight_ours"] == 0.5 and row["evidence_days"] == 20
    assert row["evidence_wape_combined"] < 1e-12 < row["evidence_wape_ours"]


def test_a_combination_worse_than_the_better_one_falls_back_to_it():
    actual = np.full(20, 10.0)
    # Both err the same way; the partner by little, ours by a lot: any blend is worse than the partner alone.
    weights = choose_weights(_evidence(actual + 10, actual + 1, actual), SERIES, min_days=14)
    row = weights.iloc[0]
    assert row["chosen_source"] == PARTNER
    assert (row["weight_ours"], row["weight_partner"]) == (0.0, 1.0)


def test_a_short_series_borrows_its_partners_weights_and_without_evidence_keeps_ours():
    actual = np.full(20, 10.0)
    long_history = _evidence(actual + 4, actual + 1, actual, location_id="L2")
    short = _evidence(actual[:5] + 1, actual[:5] + 4, actual[:5])
    series = pd.DataFrame([KEYS, {**KEYS, "location_id": "L2"}, {**KEYS, "partner_id": "p2"}])
    weights = choose_weights(pd.concat([long_history, short]), series, min_days=14)
    p1 = weights[weights["partner_id"] == "p1"].set_index("location_id")
    assert p1.loc["L2", "evidence_level"] == SERIES_LEVEL
    assert p1.loc["L1", "evidence_level"] == PARTNER_LEVEL and p1.loc["L1", "evidence_days"] == 25
    # Pooled over the partner the partner's forecast is better (40 units of error to ours' 85) and no blend beats
    # it, so the short series takes the partner's alone although its own five days favour ours.
    assert (p1.loc["L1", "weight_ours"], p1.loc["L1", "evidence_wape_partner"]) == (0.0, 40 / 250)
    p2 = weights[weights["partner_id"] == "p2"].iloc[0]
    assert p2["evidence_level"] == NO_EVIDENCE and p2["chosen_source"] == OURS and p2["weight_ours"] == 1.0


def test_the_pooled_judgement_added_up_over_blocks_is_the_one_over_all_rows():
    actual = np.full(20, 10.0)
    long_history = _evidence(actual + 4, actual + 1, actual, location_id="L2")
    short = _evidence(actual[:5] + 1, actual[:5] + 4, actual[:5])
    series = pd.DataFrame([KEYS, {**KEYS, "location_id": "L2"}])
    whole = choose_weights(pd.concat([long_history, short]), series, min_days=14)
    pooled = pooled_error_sums([partner_sums(short), partner_sums(long_history)])
    combined = [partner_combined_error(short, pooled), partner_combined_error(long_history, pooled)]
    by_partner = pooled_judgement(pooled, combined, min_days=14)
    # Each series judged with only its own block's evidence, and the partner's from the blocks' sums.
    blocks = pd.concat(
        [
            choose_weights(short, series.iloc[[0]], min_days=14, by_partner=by_partner),
            choose_weights(long_history, series.iloc[[1]], min_days=14, by_partner=by_partner),
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(blocks, whole, check_exact=True)
    assert set(blocks["evidence_level"]) == {PARTNER_LEVEL, SERIES_LEVEL}
    # Without the partner's judgement the short series' block alone has too little evidence for a pooled one.
    alone = choose_weights(short, series.iloc[[0]], min_days=14)
    assert alone["evidence_level"].iloc[0] == NO_EVIDENCE


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 50, allow_nan=False), st.floats(0, 50, allow_nan=False), st.floats(0, 50, allow_nan=False)
        ),
        min_size=3,
        max_size=30,
    )
)
def test_the_chosen_forecast_is_never_worse_over_the_evidence_than_either_alone_but_for_a_bias_it_refuses(days):
    ours, partner, actual = (np.array(column) for column in zip(*days, strict=True))
    evidence = _evidence(ours, partner, actual)
    row = choose_weights(evidence, SERIES, min_days=1).iloc[0]
    chosen = row["weight_ours"] * ours + row["weight_partner"] * partner
    error = np.abs(chosen - actual).sum()
    error_ours, error_partner = np.abs(ours - actual).sum(), np.abs(partner - actual).sum()
    net_partner = (partner - actual).sum()
    refused = abs(net_partner) > ONE_SIDED_SHARE * error_partner and row["chosen_source"] == OURS
    # Refusing a one-sided partner costs at most its bias over the window.
    assert error <= min(error_ours, error_partner) + 1e-9 or (refused and error <= error_partner + abs(net_partner))


def _noisy(actual: np.ndarray, spread: float) -> np.ndarray:
    """A forecast off by ``spread`` a day, high and low in turn: errs on no side."""
    return actual + spread * np.where(np.arange(len(actual)) % 2 == 0, 1.0, -1.0)


def test_a_partner_over_forecasting_by_a_quarter_with_an_error_close_to_ours_is_not_blended_in():
    actual = np.random.default_rng(7).uniform(5, 15, 28)
    weights = choose_weights(_evidence(_noisy(actual, 3.0), 1.25 * actual, actual), SERIES, min_days=14)
    row = weights.iloc[0]
    assert row["evidence_wape_partner"] < row["evidence_wape_ours"] < 1.3 * row["evidence_wape_partner"]
    assert row["evidence_bias_partner"] == pytest.approx(0.25) and abs(row["evidence_bias_ours"]) < 0.01
    assert (row["chosen_source"], row["weight_ours"], row["weight_partner"]) == (OURS, 1.0, 0.0)


def test_a_biased_partner_that_beats_ours_by_more_than_its_bias_is_still_used():
    actual = np.random.default_rng(7).uniform(5, 15, 28)
    weights = choose_weights(_evidence(_noisy(actual, 6.0), 1.05 * actual, actual), SERIES, min_days=14)
    row = weights.iloc[0]
    assert row["evidence_bias_partner"] == pytest.approx(0.05)
    assert row["chosen_source"] in (PARTNER, COMBINED) and row["weight_partner"] > 0.5
    assert row["weight_ours"] + row["weight_partner"] == 1.0


def test_the_night_takes_the_combination_only_where_the_partner_forecast_a_day_and_keeps_p90_above():
    night = pd.DataFrame(
        {
            **{k: [v] * 2 for k, v in KEYS.items()},
            "forecast_date": ["2025-01-06", "2025-01-20"],
            "p50": [8.0, 8.0],
            "p90": [12.0, 12.0],
        }  # fmt: skip
    )
    actual = np.full(20, 10.0)
    weights = choose_weights(_evidence(actual + 2, actual - 2, actual), SERIES, min_days=14)
    rows = combine_night(night, pd.Series([12.0, np.nan]), weights)
    assert rows["p50"].tolist() == [10.0, 8.0]
    assert rows["p90"].tolist() == [14.0, 12.0]
    assert rows["stat_p50"].tolist() == [8.0, 8.0] and rows["stat_p90"].tolist() == [12.0, 12.0]
    assert rows["forecast_source"].tolist() == [COMBINED, OURS]
    assert rows["weight_ours"].tolist() == [0.5, 1.0]
