"""Forecasting models: each fits one series and returns a median and a 90th-percentile path.

Every model takes the history as one value per period, oldest first, with censored (stock-out) periods as NaN,
and returns ``QuantileForecast(p50, p90)`` for ``horizon`` periods after the history. All outputs are finite,
never negative, and ``p50 <= p90``.

``p50`` is each model's point forecast (a conditional mean). For smooth demand that is also the median; for
intermittent demand the literal median of a single period is usually zero, which would tell replenishment
nothing, so the mean rate is kept. ``p90`` is the model's 90th percentile, derived as each function documents.

This module is the catalogue the engine routes by: the model names and, from the modules that hold them,

- ``prophet_model``: Prophet's model estimated with numpy (``prophet_fit_predict``, ``prophet_forecast``);
- ``intermittent``: TSB for intermittent and lumpy demand (``tsb_forecast``);
- ``aggregation``: ADIDA and IMAPA, temporal aggregation for intermittent demand (``adida_forecast``,
  ``imapa_forecast``; the engine switches an intermittent or lumpy class to them when its backtest says so, see
  ``model_choice``);
- ``baselines``: zeros, moving average, naive, seasonal naive (also moved to the current level), and the blend;
- ``quantiles``: ``QuantileForecast`` and the discrete quantiles behind the p90s;
- ``periods``: the series frequencies.
"""

from __future__ import annotations

from forecasts.forecasting.aggregation import adida_forecast, imapa_forecast
from forecasts.forecasting.baselines import (
    blend_forecasts,
    moving_average_forecast,
    naive_forecast,
    seasonal_level_forecast,
    seasonal_naive_forecast,
    zero_forecast,
)
from forecasts.forecasting.intermittent import TSB_ALPHAS, TSB_BETAS, tsb_forecast
from forecasts.forecasting.periods import DAILY, DAYS_PER_PERIOD, MONTHLY, WEEKLY
from forecasts.forecasting.prophet_model import (
    OPTIMIZERS,
    ProphetProblem,
    day_numbers,
    estimate_prophet,
    prophet_fit_predict,
    prophet_forecast,
    prophet_objective,
    prophet_problem,
    prophet_widening,
    validate_country,
)
from forecasts.forecasting.prophet_reference import prophet_package
from forecasts.forecasting.quantiles import QuantileForecast, negative_binomial_quantile, poisson_quantile

PROPHET = "prophet"
PROPHET_BLEND = "prophet_blend"
TSB = "tsb"
ADIDA = "adida"
IMAPA = "imapa"
SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"
NAIVE = "naive"
ZERO = "zero"
MODEL_NAMES = (PROPHET, PROPHET_BLEND, TSB, ADIDA, IMAPA, SEASONAL_NAIVE, MOVING_AVERAGE, NAIVE, ZERO)

# The name benchmarks/forecast_throughput.py calls the prophet package's import by.
_prophet_module = prophet_package

__all__ = [
    "ADIDA",
    "DAILY",
    "DAYS_PER_PERIOD",
    "IMAPA",
    "MODEL_NAMES",
    "MONTHLY",
    "MOVING_AVERAGE",
    "NAIVE",
    "OPTIMIZERS",
    "PROPHET",
    "PROPHET_BLEND",
    "SEASONAL_NAIVE",
    "TSB",
    "TSB_ALPHAS",
    "TSB_BETAS",
    "WEEKLY",
    "ZERO",
    "ProphetProblem",
    "QuantileForecast",
    "adida_forecast",
    "blend_forecasts",
    "day_numbers",
    "estimate_prophet",
    "imapa_forecast",
    "moving_average_forecast",
    "naive_forecast",
    "negative_binomial_quantile",
    "poisson_quantile",
    "prophet_fit_predict",
    "prophet_forecast",
    "prophet_objective",
    "prophet_package",
    "prophet_problem",
    "prophet_widening",
    "seasonal_level_forecast",
    "seasonal_naive_forecast",
    "tsb_forecast",
    "validate_country",
    "zero_forecast",
]
