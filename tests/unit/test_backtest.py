import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting import models
from forecasts.forecasting.backtest import ENGINE, NAIVE, SEASONAL_NAIVE, run_backtest, summarise

START = pd.Timestamp("2024-01-01")
BASE_WEEK = np.arange(1.0, 8.0)  # 1..7


def weekly_pattern_series(series_id: str = "shop") -> pd.DataFrame:
    """Eight weeks of the pattern 1..7 plus a weekly level: 0, 1, 0, 1, 0, 1 in training, then 2, 2."""
    levels = [0, 1, 0, 1, 0, 1, 2, 2]
    qty = np.concatenate([BASE_WEEK + level for level in levels])
    return pd.DataFrame({"series_id": series_id, "date": pd.date_range(START, periods=56), "qty": qty})


def test_backtest_numbers_by_hand():
    # Origin 1 trains on weeks 0-5 and forecasts week 6 (pattern + 2); origin 2 trains on weeks 0-6 and
    # forecasts week 7 (pattern + 2). Actuals total 2 x (3 + ... + 9) = 84.
    # Seasonal naive: last week repeated. Origin 1 is 1 under every day (7 units), origin 2 exact.
    # Naive: last value repeated. Origin 1 forecasts 8 against 3..9 (|errors| 16, signed +14); origin 2 forecasts
    # 9 against 3..9 (|errors| 21, signed +21).
    # MASE scale: in the six training weeks every day differs from a week before by exactly 1.
    # The engine sees 42 and 49 days: fewer than 8 weeks, so the series is "short" and gets the seasonal naive.
    summary = summarise(run_backtest(weekly_pattern_series(), horizon=7, origins=2, freq="D"), by_series=True)
    seasonal, naive, engine = (summary["methods"][method] for method in (SEASONAL_NAIVE, NAIVE, ENGINE))
    assert seasonal["wape"] == pytest.approx(7 / 84, abs=1e-6)
    assert seasonal["bias"] == pytest.approx(-7 / 84, abs=1e-6)
    assert seasonal["mase"] == pytest.approx((7 / 14) / 1.0, abs=1e-6)
    assert naive["wape"] == pytest.approx(37 / 84, abs=1e-6)
    assert naive["bias"] == pytest.approx(35 / 84, abs=1e-6)
    assert naive["mase"] == pytest.approx((37 / 14) / 1.0, abs=1e-6)
    assert engine == seasonal
    assert summary["engine_models"] == {models.SEASONAL_NAIVE: 2}
    assert (summary["series"], summary["periods_scored"], summary["season"]) == (1, 14, 7)
    assert summary["by_series"]["shop"][NAIVE]["wape"] == pytest.approx(37 / 84, abs=1e-6)


def test_origins_are_the_last_periods_of_each_series_and_every_method_forecasts_them():
    frame = pd.concat([weekly_pattern_series("a"), weekly_pattern_series("b").iloc[7:]])
    backtest = run_backtest(frame, horizon=7, origins=2, freq="D")
    forecasts = backtest.forecasts
    assert set(forecasts["method"]) == {ENGINE, SEASONAL_NAIVE, NAIVE}
    for method, rows in forecasts.groupby("method"):
        assert len(rows) == 2 * 2 * 7, method
    last_training_dates = sorted(forecasts["origin"].unique())
    assert last_training_dates == [START + pd.Timedelta(days=41), START + pd.Timedelta(days=48)]


def test_censored_actuals_are_not_scored_and_long_smooth_series_go_to_the_engine_model():
    qty = np.full(91, 10.0)
    censored = np.zeros(91, dtype=bool)
    censored[-3:] = True
    frame = pd.DataFrame(
        {"series_id": "flat", "date": pd.date_range(START, periods=91), "qty": qty, "censored": censored}
    )
    summary = summarise(run_backtest(frame, horizon=7, origins=2, freq="D"))
    # A constant history is forecast exactly by Prophet; its MASE scale is zero, so MASE is undefined.
    assert summary["engine_models"] == {models.PROPHET: 2}
    assert summary["periods_scored"] == 11
    assert summary["methods"][ENGINE]["wape"] == pytest.approx(0.0, abs=1e-9)
    assert summary["methods"][ENGINE]["mase"] is None


def test_regressors_known_in_advance_reach_the_engine():
    rng = np.random.default_rng(2)
    promo = (np.arange(140) % 10 < 2).astype(float)
    frame = pd.DataFrame(
        {
            "series_id": "promo",
            "date": pd.date_range(START, periods=140),
            "qty": rng.poisson(20 + 30 * promo).astype(float),
            "promo": promo,
        }
    )
    with_promo = summarise(run_backtest(frame, horizon=14, origins=2, regressors=["promo"]))
    without = summarise(run_backtest(frame.drop(columns="promo"), horizon=14, origins=2))
    assert with_promo["methods"][ENGINE]["wape"] < without["methods"][ENGINE]["wape"] / 2


def test_bad_arguments_are_rejected():
    frame = weekly_pattern_series()
    with pytest.raises(ValueError, match="at least 1"):
        run_backtest(frame, horizon=0, origins=2)
    with pytest.raises(ValueError, match="missing columns: promo"):
        run_backtest(frame, horizon=7, origins=1, regressors=["promo"])


def test_the_model_choice_in_the_backtest_sees_only_each_origins_training_part():
    """Sixteen series buying every seventh day, more after day 40: on the last origin the choice switches their
    class to ADIDA. Making
    the periods no origin trains on busy every day (which would favour the higher forecasts of TSB and IMAPA, had
    the choice seen them) changes no forecast of the engine."""
    rng = np.random.default_rng(7)
    days, horizon = 134, 14
    day = np.arange(days)
    frame = pd.concat(
        pd.DataFrame(
            {
                "series_id": f"s{number:02d}",
                "date": pd.date_range(START, periods=days),
                "qty": np.where((days - 1 - day) % 7 == 0, np.where(day < 40, 1.0, 4.0) + rng.poisson(1, days), 0.0),
            }
        )
        for number in range(16)
    )
    busy = frame.copy()
    held_out = busy["date"] >= START + pd.Timedelta(days=days - horizon)
    busy.loc[held_out, "qty"] = 9.0

    engine = [
        run_backtest(data, horizon=horizon, origins=2, freq="D").forecasts.query("method == @ENGINE")
        for data in (frame, busy)
    ]

    last_origin = engine[0]["origin"] == engine[0]["origin"].max()
    assert set(engine[0].loc[last_origin, "model"]) == {models.ADIDA}
    pd.testing.assert_frame_equal(engine[0].drop(columns="actual"), engine[1].drop(columns="actual"))
    assert not engine[0]["actual"].equals(engine[1]["actual"])
