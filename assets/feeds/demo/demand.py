"""Demand the partners' shoppers bring: weekday pattern, yearly season, trend, promotions and holidays.

Also what the partners forecast from it: the true expected demand, biased and noisy as their own planning is.
"""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd

from assets.feeds.demo.world import Product
from assets.feeds.partner_config import PartnerConfig

FORECAST_HORIZON_WEEKS = 8
DEFAULT_WEEKLY_PATTERN = (0.9, 0.85, 0.85, 0.95, 1.15, 1.3, 1.0)


def expected_demand(
    config: PartnerConfig,
    carried: list[Product],
    base_rate: np.ndarray,
    prod_index: np.ndarray,
    listed_from: np.ndarray,
    calendar: pd.DatetimeIndex,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean demand per series and day (series x calendar) and the on-promotion flag per product and day.

    Multiplicative: base rate x weekday pattern x yearly season x trend x promotion uplift x holiday effect,
    zero before a product is listed.
    """
    weekly = np.asarray(config.demo.get("weekly_pattern", DEFAULT_WEEKLY_PATTERN), dtype=float)
    weekly = weekly / weekly.mean()
    day_of_year = calendar.dayofyear.to_numpy()
    elapsed_years = np.arange(len(calendar)) / 365.25
    amplitude = np.array([product.season_amplitude for product in carried])
    peak = np.array([product.season_peak for product in carried])
    seasonal = 1.0 + amplitude[:, None] * np.cos(2 * np.pi * (day_of_year[None, :] - peak[:, None]) / 365.25)
    growth = np.array([product.trend_per_year for product in carried])
    trend = np.exp(growth[:, None] * elapsed_years[None, :])
    uplift, promo = _promotions(carried, len(calendar), rng)
    holiday = _holiday_factor(config.country, calendar)
    listed = np.arange(len(calendar))[None, :] >= listed_from[:, None]
    expected = (
        base_rate[:, None]
        * weekly[calendar.dayofweek.to_numpy()][None, :]
        * (seasonal * trend * uplift)[prod_index]
        * holiday[None, :]
        * listed
    )
    return expected, promo


def _promotions(carried: list[Product], horizon: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chain-wide promotion windows per product: (demand multiplier, on-promotion flag), product x day.

    Each product draws its windows in date order from a stream of its own, so a longer horizon only adds windows.
    """
    uplift = np.ones((len(carried), horizon))
    flag = np.zeros((len(carried), horizon), dtype=bool)
    streams = rng.bit_generator.seed_seq.spawn(len(carried))
    for index, product in enumerate(carried):
        draw = np.random.default_rng(streams[index])
        day = int(draw.integers(7, 70))
        while day < horizon:
            length = int(draw.choice([7, 14]))
            factor = float(draw.uniform(1.5, 3.0))
            gap = int(draw.integers(42, 110))
            if not product.slow:
                uplift[index, day : day + length] = factor
                flag[index, day : day + length] = True
            day += length + gap
    return uplift, flag


def _holiday_factor(country: str, calendar: pd.DatetimeIndex) -> np.ndarray:
    """Shoppers stock up on the two days before a national holiday and stay away on the day itself."""
    years = range(calendar[0].year, calendar[-1].year + 1)
    days_off = holidays.country_holidays(country, years=years)
    position = {day.date(): index for index, day in enumerate(calendar)}
    factor = np.ones(len(calendar))
    for holiday in sorted(days_off):
        index = position.get(holiday)
        if index is None:
            continue
        for offset, bump in ((2, 1.25), (1, 1.5)):
            if index - offset >= 0:
                factor[index - offset] = max(factor[index - offset], bump)
    for holiday in days_off:
        index = position.get(holiday)
        if index is not None:
            factor[index] = 0.7
    return factor


class PartnerForecasts:
    """Weekly forecasts issued on Mondays for the next weeks: true expected demand, biased and noisy.

    Issue by issue, in date order, each drawn when it is read: an issue's rows for all series are small where the
    whole history's are not. Read the issues once, in order (``issues`` lists them).
    """

    def __init__(
        self,
        config: PartnerConfig,
        expected: np.ndarray,
        listed_from: np.ndarray,
        calendar: pd.DatetimeIndex,
        days: int,
        rng: np.random.Generator,
        location_ids: np.ndarray,
        product_refs: np.ndarray,
    ) -> None:
        self.bias = float(config.demo.get("forecast_bias", 0.0))
        self.noise = float(config.demo.get("forecast_noise", 0.2))
        self.listed_from = listed_from
        mondays = np.flatnonzero(calendar[:days].dayofweek.to_numpy() == 0)
        self.mondays = [issue for issue in mondays if (listed_from <= issue).any()]
        self.cumulative = np.concatenate([np.zeros((expected.shape[0], 1)), np.cumsum(expected, axis=1)], axis=1)
        self.day_values = calendar.to_numpy()
        self.rng = rng
        # Rows name their store and item as categoricals: the files render each distinct one once.
        self.ids = {"location_id": pd.factorize(location_ids), "product_ref": pd.factorize(product_refs)}
        self.drawn = 0

    @property
    def issues(self) -> list[pd.Timestamp]:
        return [pd.Timestamp(self.day_values[issue]) for issue in self.mondays]

    def issue(self, position: int) -> pd.DataFrame:
        """The rows of the ``position``-th issue; issues are drawn in order, each once."""
        if position != self.drawn:
            raise ValueError(f"forecast issues are drawn in order: asked for {position}, next is {self.drawn}")
        self.drawn += 1
        issue = self.mondays[position]
        weeks = np.arange(FORECAST_HORIZON_WEEKS)
        series = np.flatnonzero(self.listed_from <= issue)
        starts = issue + 7 * weeks
        totals = self.cumulative[np.ix_(series, starts + 7)] - self.cumulative[np.ix_(series, starts)]
        spread = self.noise * (1.0 + 0.08 * weeks)
        factor = (1.0 + self.bias) * self.rng.lognormal(-(spread**2) / 2, spread, totals.shape)
        grid_start = np.tile(starts, len(series))
        rows = np.repeat(series, len(weeks))
        return pd.DataFrame(
            {
                **{name: pd.Categorical.from_codes(codes[rows], names) for name, (codes, names) in self.ids.items()},
                "forecast_date": self.day_values[issue],
                "target_period_start": self.day_values[grid_start],
                "target_period_end": self.day_values[grid_start + 6],
                "forecast_qty": np.round(totals * factor, 1).reshape(-1),
            }
        )
