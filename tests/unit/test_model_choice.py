import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.forecasting import models
from forecasts.forecasting.classify import classify_demand
from forecasts.forecasting.engine import choose_models, forecast_many
from forecasts.forecasting.model_choice import (
    CHOICE_COLUMNS,
    MIN_SERIES,
    ClassChoice,
    choice_lines,
    choice_summary,
    choose,
    decide,
    naive_scale,
    noise_z,
    sample_positions,
)

HORIZON = 4


def noisy_histories(n_series: int, length: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.poisson(rng.uniform(2, 8), length).astype(float) for _ in range(n_series)]


def exact(histories):
    """A candidate that knows the future: the periods after the cut, as they happened."""
    return lambda index, cut: histories[index][cut : cut + HORIZON]


def off_by(histories, amount: float):
    return lambda index, cut: histories[index][cut : cut + HORIZON] + amount


def test_the_clear_winner_replaces_the_default_with_its_evidence():
    histories = noisy_histories(30, 40)
    candidates = {"default": off_by(histories, 3.0), "right": exact(histories), "worse": off_by(histories, 6.0)}

    choice = choose(histories, candidates, "default", HORIZON, min_train=12, cap=200)

    assert choice.model == "right" and choice.switched
    assert choice.series == 30 and choice.origins == 2
    assert choice.scores["right"] == 0.0 and choice.scores["default"] < choice.scores["worse"]
    assert json.loads(choice.scores_json()) == {name: round(score, 4) for name, score in choice.scores.items()}
    assert "right" in choice.reason and "better" in choice.reason


def test_a_winner_under_the_margin_or_within_the_noise_keeps_the_default():
    histories = noisy_histories(30, 40)
    nearly = {"default": off_by(histories, 1.0), "other": off_by(histories, 0.99)}
    assert choose(histories, nearly, "default", HORIZON, min_train=12, cap=200).reason.endswith("margin")

    rng = np.random.default_rng(3)
    # Better on average only through a few series: the paired differences are too spread to trust.
    lucky = set(rng.choice(30, 3, replace=False).tolist())
    spread = {
        "default": off_by(histories, 1.0),
        "other": lambda index, cut: histories[index][cut : cut + HORIZON] + (0.0 if index in lucky else 1.05),
    }
    choice = choose(histories, spread, "default", HORIZON, min_train=12, cap=200)
    assert choice.model == "default" and "standard errors" in choice.reason


def test_too_few_series_or_too_short_a_history_keeps_the_default_and_says_why():
    histories = noisy_histories(MIN_SERIES - 1, 40)
    candidates = {"default": off_by(histories, 3.0), "right": exact(histories)}
    few = choose(histories, candidates, "default", HORIZON, min_train=12, cap=200)
    assert few.model == "default" and "fewer than" in few.reason and few.scores_json() is None

    short = noisy_histories(30, 12 + 2 * HORIZON - 1)
    candidates = {"default": off_by(short, 3.0), "right": exact(short)}
    choice = choose(short, candidates, "default", HORIZON, min_train=12, cap=200)
    assert choice.model == "default" and "too short" in choice.reason and choice.series == 0


def test_only_a_capped_even_sample_is_backtested():
    histories = noisy_histories(100, 40)
    seen = set()

    def default(index, cut):
        seen.add(index)
        return histories[index][cut : cut + HORIZON]

    choice = choose(histories, {"default": default}, "default", HORIZON, min_train=12, cap=20)
    assert len(seen) == choice.series == 20 and "(of 100)" in choice.reason
    assert sample_positions(100, 20).tolist() == sample_positions(100, 20).tolist()
    assert sample_positions(5, 20).tolist() == [0, 1, 2, 3, 4]


def test_the_scale_leaves_unknown_periods_out_and_is_undefined_without_movement():
    assert naive_scale(np.array([1.0, np.nan, 3.0, 5.0])) == 2.0
    assert np.isnan(naive_scale(np.array([2.0, 2.0, 2.0])))


@settings(max_examples=40, deadline=None)
@given(
    default=st.lists(st.floats(0.1, 5.0), min_size=MIN_SERIES, max_size=40),
    extra=st.lists(st.floats(0.0, 2.0), min_size=MIN_SERIES, max_size=40),
)
def test_a_candidate_never_better_on_any_series_never_replaces_the_default(default, extra):
    n = min(len(default), len(extra))
    base = np.asarray(default[:n])
    scores = {"default": base, "other": base + np.asarray(extra[:n])}
    assert decide(scores, "default", origins=2, eligible=n).model == "default"


@settings(max_examples=40, deadline=None)
@given(default=st.lists(st.floats(0.5, 5.0), min_size=MIN_SERIES, max_size=40), share=st.floats(0.0, 0.9))
def test_a_candidate_better_on_every_series_by_a_tenth_or_more_replaces_the_default(default, share):
    base = np.asarray(default)
    scores = {"default": base, "other": base * share}
    assert decide(scores, "default", origins=2, eligible=len(base)).model == "other"


def intermittent_months(n_series: int, months: int = 36, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-01", periods=months, freq="MS")
    qty = np.where(rng.random((n_series, months)) < 0.3, 1 + rng.poisson(3, (n_series, months)), 0)
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"s{i:02d}" for i in range(n_series)], months),
            "date": np.tile(dates, n_series),
            "qty": qty.ravel().astype(float),
        }
    )


def test_a_switched_class_is_forecast_with_the_chosen_model_and_every_series_carries_the_evidence():
    frame = intermittent_months(14)
    switched = ClassChoice(models.ADIDA, models.TSB, "adida clearly better", 2, 14, {"tsb": 1.0, "adida": 0.8})
    forecast = forecast_many(frame, horizon=3, freq="M", choices={"intermittent": switched})

    intermittent = forecast[forecast["demand_class"] == "intermittent"]
    assert len(intermittent) > 0 and set(intermittent["model"]) == {models.ADIDA}
    series_id = intermittent["series_id"].iloc[0]
    y = frame.loc[frame["series_id"] == series_id, "qty"].to_numpy()
    np.testing.assert_allclose(
        intermittent.loc[intermittent["series_id"] == series_id, "p50"], models.adida_forecast(y, 3).p50
    )
    assert set(intermittent["choice_reason"]) == {"adida clearly better"}
    assert set(intermittent["choice_origins"]) == {2} and set(intermittent["choice_series"]) == {14}
    assert set(CHOICE_COLUMNS) <= set(forecast.columns)

    unchosen = forecast_many(frame, horizon=3, freq="M", choose_by_class=False)
    assert set(unchosen.loc[unchosen["demand_class"] == "intermittent", "model"]) == {models.TSB}
    assert unchosen["choice_reason"].isna().all()


def test_the_engine_backtests_each_class_on_its_own_series_and_keeps_the_default_on_short_histories():
    frame = intermittent_months(20, months=24)
    labels = {
        series_id: classify_demand(rows["qty"].to_numpy(), min_obs=12).label
        for series_id, rows in frame.groupby("series_id")
    }
    intermittent = sum(label == "intermittent" for label in labels.values())
    assert intermittent >= MIN_SERIES
    choices = choose_models(frame, None, 3, "M", {}, None)
    assert set(choices) == set(labels.values()) & {"intermittent", "lumpy", "smooth", "erratic"}
    assert choices["intermittent"].series == intermittent and choices["intermittent"].origins == 2
    assert set(choices["intermittent"].scores) == {models.TSB, models.ADIDA, models.IMAPA}

    # A year of months must stay before the two origins: 16 months leave too little.
    short = choose_models(intermittent_months(20, months=16), None, 3, "M", {}, None)
    assert short["intermittent"].model == models.TSB and "too short" in short["intermittent"].reason


@pytest.mark.parametrize("freq", ["D", "W"])
def test_the_prophet_route_is_named_by_what_it_forecasts_with(freq):
    rng = np.random.default_rng(1)
    periods = 140 if freq == "D" else 80
    dates = pd.date_range("2024-01-01", periods=periods, freq="D" if freq == "D" else "W-MON")
    frame = pd.DataFrame(
        {
            "series_id": np.repeat([f"s{i:02d}" for i in range(MIN_SERIES)], periods),
            "date": np.tile(dates, MIN_SERIES),
            "qty": rng.poisson(20, MIN_SERIES * periods).astype(float),
        }
    )
    choice = choose_models(frame, None, 7, freq, {}, None)["smooth"]
    default = models.PROPHET if freq == "D" else models.PROPHET_BLEND
    assert choice.default == default and set(choice.scores) == {default, models.SEASONAL_NAIVE, models.MOVING_AVERAGE}


def test_the_night_summary_and_log_lines_say_which_class_switched_and_why():
    choices = {
        "M": {"intermittent": ClassChoice("adida", "tsb", "adida 5 % better", 2, 40, {"tsb": 1.0, "adida": 0.95})},
        "D": {"smooth": ClassChoice("prophet", "prophet", "the default scores best", 2, 24, {"prophet": 0.8})},
    }
    assert choice_summary(choices) == {
        "D": {
            "smooth": {
                "model": "prophet",
                "default": "prophet",
                "reason": "the default scores best",
                "scores": {"prophet": 0.8},
            }
        },
        "M": {
            "intermittent": {
                "model": "adida",
                "default": "tsb",
                "reason": "adida 5 % better",
                "scores": {"tsb": 1.0, "adida": 0.95},
            }
        },
    }
    assert choice_lines(choices) == [
        "model choice, freq D, smooth: prophet (default); the default scores best",
        "model choice, freq M, intermittent: adida instead of tsb; adida 5 % better",
    ]


def test_one_nearly_flat_series_cannot_decide_the_class():
    histories = noisy_histories(20, 40)
    # Flat but for one sale before the origins: a tiny naive scale, so any error on it is a huge MASE.
    flat = np.zeros(40)
    flat[3] = 1.0
    histories.append(flat)
    candidates = {
        "default": lambda index, cut: histories[index][cut : cut + HORIZON] + (0.0 if index == 20 else 1.0),
        "right": lambda index, cut: histories[index][cut : cut + HORIZON] + (1.0 if index == 20 else 0.0),
    }

    choice = choose(histories, candidates, "default", HORIZON, min_train=12, cap=200)

    assert choice.model == "right" and choice.series == 21


def test_series_without_a_scale_are_left_out_before_the_sample_is_drawn():
    moving = noisy_histories(20, 40)
    histories = [y for pair in zip(moving, [np.full(40, 2.0)] * 20, strict=True) for y in pair]
    candidates = {"default": off_by(histories, 3.0), "right": exact(histories)}

    choice = choose(histories, candidates, "default", HORIZON, min_train=12, cap=MIN_SERIES)

    assert choice.model == "right" and choice.series == MIN_SERIES and "(of 20)" in choice.reason


def test_the_best_of_two_challengers_must_clear_a_higher_noise_bar_than_a_single_challenger():
    n = 16
    base = np.full(n, 10.0)
    # Paired gains of mean m and standard deviation s: m / (s / sqrt(n)) = 2.15 standard errors, 5.5 % better.
    signs = np.tile([1.0, -1.0], n // 2)
    gains = 2.15 * math.sqrt(n / (n - 1)) / 4 + signs
    assert float(gains.mean() / (gains.std(ddof=1) / math.sqrt(n))) == pytest.approx(2.15)
    one = {"default": base, "other": base - gains}
    two = {**one, "worse": base + 1.0}

    assert decide(one, "default", origins=2, eligible=n).model == "other"
    kept = decide(two, "default", origins=2, eligible=n)
    assert kept.model == "default" and "within 2.28 standard errors" in kept.reason
    assert noise_z(1) == pytest.approx(2.0) and noise_z(2) > 2.25


def test_the_monthly_benchmark_forecasts_every_intermittent_series_with_the_model_asked_for():
    from benchmarks.monthly_intermittent import intermittent_model

    frame = intermittent_months(20)
    with intermittent_model("adida"):
        forecast = forecast_many(frame, horizon=3, freq="M")
        assert choose_models(frame, None, 3, "M", {}, None).keys().isdisjoint({"intermittent", "lumpy"})
    sparse = forecast[forecast["demand_class"].isin(["intermittent", "lumpy"])]
    assert len(sparse) > 0 and set(sparse["model"]) == {models.TSB}
    for series_id, rows in sparse.groupby("series_id"):
        y = frame.loc[frame["series_id"] == series_id, "qty"].to_numpy()
        np.testing.assert_allclose(rows["p50"], models.adida_forecast(y, 3).p50)
    assert models.tsb_forecast is not models.adida_forecast
