"""Policy replay: run the replenishment policy day by day over history it did not see, against what really sold.

For every day of the window the replay plans with the data known that evening, ships on the lane's ship days
with a lead time, and lets the actual demand consume stock. It does the same for the partners' usual rule (the
baseline) on the same days with the same lead times, so the two can be compared like for like.

Rules, chosen once and kept the same for both policies:

- **Timeline.** The opening stock is the actual on-hand at the end of the start date (``fct_inventory_daily``);
  the replay covers the ``days`` days after it. Each evening (from the start date on) a policy decides what
  leaves the next morning; a shipment placed on day ``t`` is received on ``t + lead`` before that day's sales.
  Our shipments already in transit on the start date (``fct_shipments``) arrive on their expected receipt date.
- **Demand.** The day's actual ``units_sold``. On days the partner was out of stock (``is_stockout``), sales
  understate demand, so demand is ``max(units_sold, mean of the preceding 28 days that were in stock)``: a
  policy that would have had stock then must not get those sales for free, nor lose them.
- **Lead times.** The agreement's mean lead time plus a normal draw with its standard deviation, rounded to
  whole days, at least one day. Draws come from a seeded generator, one per series and ship day, and both
  policies use the same draw for a shipment on the same day, so luck does not decide the comparison.
- **Our policy.** ``plan_replenishment`` each evening, executing the lines whose ``ship_date`` is the next day:
  the nightly plan's own method, choosing each location's ship days every evening from that evening's forecast
  and the agreements' cost terms, remembering the previous evening's plan as the nightly does (``costed``), and,
  for comparison, the same policy on every agreed ship day
  (``policy``).
  The forecast is the engine's moving average (``baselines.moving_average_forecast``, 28 days, in-stock days only):
  d̄ is the mean and σ_d comes from its p90 as in the nightly plan. Fitting Prophet for every series and day
  would take hours; the moving average is what the engine uses for short series and costs microseconds.
- **Baseline** (the partners' usual rule): reviewed weekly, the evening before the lane's first ship day of
  the week; when on hand plus in transit is below ``min_cover_days`` of the trailing 28-day average sales, order
  up to ``max_cover_days`` of it, rounded up to case packs and at least the MOQ. Lanes without agreed cover days
  fall back to a weekly min/max of ``L + 7`` and ``L + 14`` days.
- **Supplier stock** is unconstrained: the history holds no record of our own stock, so no allocation is
  replayed.

Measures over the window: fill rate (units served / units demanded), stock-out days (series × days with
unmet demand), average inventory (total end-of-day on-hand across all series, averaged over the days), the
number of shipments (series × ship days with a positive quantity) and of deliveries (locations × days with
any shipment), and what it cost (``costs``): holding (end-of-day units on hand × unit cost × holding rate /
365), shipping (deliveries × the lane's cost per delivery) and stock-outs (units short × unit cost × penalty
rate). Series whose agreement leaves a cost term blank cost nothing and are counted in ``uncosted_series``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from forecasts.forecasting.baselines import moving_average_forecast
from forecasts.replenishment.costs import COST_COLUMNS, Costs, CostTerms
from forecasts.replenishment.policy import (
    KEY_COLUMNS,
    demand_std_from_quantiles,
    parse_ship_days,
    plan_replenishment,
    round_ship_qty,
)

DEFAULT_DAYS = 90
DEFAULT_SEED = 7
# Trailing window for the forecast, the baseline's average sales and the censored-demand estimate.
TRAILING_DAYS = 28
BASELINE_FALLBACK_MIN_EXTRA_DAYS = 7
BASELINE_FALLBACK_MAX_EXTRA_DAYS = 14
_UNMET_TOLERANCE = 1e-9
FORECASTER = f"engine moving average of the last {TRAILING_DAYS} in-stock days (p50 = mean, sigma from p90)"
LEAD_TIME_RULE = "agreement mean + seeded normal draw with the agreement's std, whole days, at least 1"

POLICY_COLUMNS = [
    *KEY_COLUMNS,
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "service_level",
    "min_cover_days",
    "max_cover_days",
    "case_pack",
    "moq",
    "ship_days",
]


@dataclass(frozen=True)
class ReplayData:
    """What the replay reads from the warehouse.

    ``policy``: ``POLICY_COLUMNS``, one row per series. ``sales``: keys, ``sales_date``, ``units_sold``,
    ``is_stockout`` for the trailing window before the start and the replayed days. ``opening_stock``: keys and
    ``on_hand`` at the end of the start date. ``in_transit``: keys, ``ship_date``, ``expected_receipt_date``
    (may be null) and ``qty`` of our shipments on the road on the start date.
    """

    policy: pd.DataFrame
    sales: pd.DataFrame
    opening_stock: pd.DataFrame
    in_transit: pd.DataFrame


@dataclass(frozen=True)
class ReplayOutcome:
    """How one policy did over the replayed days."""

    fill_rate: float
    stockout_days: int
    avg_inventory_units: float
    shipments: int
    units_demanded: float
    units_served: float
    deliveries: int = 0
    holding_cost: float = 0.0
    shipping_cost: float = 0.0
    stockout_cost: float = 0.0

    @property
    def total_cost(self) -> float:
        return self.holding_cost + self.shipping_cost + self.stockout_cost


@dataclass(frozen=True)
class PartnerOutcome:
    """Both policies for one partner, with the partner's demand-weighted target service level."""

    partner_id: str
    target_service_level: float
    policy: ReplayOutcome
    baseline: ReplayOutcome
    costed: ReplayOutcome | None = None


@dataclass(frozen=True)
class ReplayReport:
    """Our policy and the baseline over the same days, series and lead times."""

    start: date
    days: int
    series: int
    target_service_level: float
    seed: int
    policy: ReplayOutcome
    baseline: ReplayOutcome
    by_partner: tuple[PartnerOutcome, ...] = ()
    costed: ReplayOutcome | None = None
    uncosted_series: int = 0
    lanes: int = 0  # partner locations
    lanes_on_fewer_days: int = 0  # locations the costed rule shipped on fewer days than agreed on most evenings

    @property
    def first_day(self) -> date:
        return self.start + timedelta(days=1)

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days)

    def to_dict(self) -> dict:
        """``{"policy": {...}, "baseline": {...}, "replay": {...}, "by_partner": {...}}``.

        ``policy``, ``costed`` and ``baseline`` hold ``fill_rate`` (0–1; null without demand),
        ``stockout_days``, ``avg_inventory_units``, ``shipments`` and ``deliveries``, the units behind the fill
        rate, and ``holding_cost``, ``shipping_cost``, ``stockout_cost`` and ``total_cost``; ``by_partner`` has
        the same per partner. Every value is plain JSON.
        """
        return {
            "policy": _outcome_dict(self.policy),
            "costed": _outcome_dict(self.costed),
            "baseline": _outcome_dict(self.baseline),
            "replay": {
                "start": self.start.isoformat(),
                "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(),
                "days": self.days,
                "series": self.series,
                "target_service_level": self.target_service_level,
                "seed": self.seed,
                "forecaster": FORECASTER,
                "lead_time": LEAD_TIME_RULE,
                "uncosted_series": self.uncosted_series,
                "lanes": self.lanes,
                "lanes_on_fewer_days": self.lanes_on_fewer_days,
            },
            "by_partner": {
                partner.partner_id: {
                    "target_service_level": partner.target_service_level,
                    "policy": _outcome_dict(partner.policy),
                    "costed": _outcome_dict(partner.costed),
                    "baseline": _outcome_dict(partner.baseline),
                }
                for partner in self.by_partner
            },
        }


def _outcome_dict(outcome: ReplayOutcome | None) -> dict | None:
    if outcome is None:
        return None
    values = asdict(outcome) | {"total_cost": outcome.total_cost}
    return {key: None if isinstance(value, float) and np.isnan(value) else value for key, value in values.items()}


@dataclass(frozen=True)
class _Trace:
    """Per-series totals of one policy over the replay."""

    served: np.ndarray
    demanded: np.ndarray
    stockout_days: np.ndarray
    inventory_unit_days: np.ndarray
    shipments: np.ndarray
    lane: np.ndarray  # per series, its lane (partner location)
    deliveries: np.ndarray  # per lane, the days anything was shipped to it

    def outcome(self, rows: np.ndarray, days: int, terms: CostTerms) -> ReplayOutcome:
        demanded = float(self.demanded[rows].sum())
        served = float(self.served[rows].sum())
        lanes = np.unique(self.lane[rows])
        lane_cost = np.zeros(len(self.deliveries))
        np.maximum.at(lane_cost, self.lane, terms.shipment_cost)
        costs = Costs(
            holding=float((self.inventory_unit_days[rows] * terms.holding_per_unit_day[rows]).sum()),
            shipping=float((self.deliveries[lanes] * lane_cost[lanes]).sum()),
            stockout=float(((self.demanded - self.served)[rows] * terms.shortage_per_unit[rows]).sum()),
        )
        return ReplayOutcome(
            fill_rate=served / demanded if demanded > 0 else float("nan"),
            stockout_days=int(self.stockout_days[rows].sum()),
            avg_inventory_units=float(self.inventory_unit_days[rows].sum()) / days,
            shipments=int(self.shipments[rows].sum()),
            units_demanded=demanded,
            units_served=served,
            deliveries=int(self.deliveries[lanes].sum()),
            holding_cost=costs.holding,
            shipping_cost=costs.shipping,
            stockout_cost=costs.stockout,
        )


@dataclass
class _Series:
    """The replay's arrays, one row per series; columns of the grids are days from ``start − 27`` onwards."""

    policy: pd.DataFrame
    sold: np.ndarray
    censored: np.ndarray
    demand: np.ndarray
    opening_on_hand: np.ndarray
    opening_arrivals: np.ndarray
    lead_times: np.ndarray
    lane: np.ndarray  # per series, the number of its partner location


def default_start(last_sales_date: date, days: int = DEFAULT_DAYS) -> date:
    """The start that ends a ``days``-day replay the day before the last sales date (91 days back for 90)."""
    return last_sales_date - timedelta(days=days + 1)


def load_replay_data(conn: duckdb.DuckDBPyConnection, start: date, days: int) -> ReplayData:
    """Read the marts the replay needs for ``days`` days after ``start`` (the only I/O in this module)."""
    window = {"first": start - timedelta(days=TRAILING_DAYS - 1), "last": start + timedelta(days=days)}
    present = {column[0] for column in conn.execute("select * from marts.replenishment_policy limit 0").description}
    columns = POLICY_COLUMNS + [column for column in COST_COLUMNS if column in present]
    policy = conn.execute(f"select {', '.join(columns)} from marts.replenishment_policy order by 1, 2, 3").df()
    sales = conn.execute(
        """select partner_id, location_id, product_id, sales_date, units_sold, is_stockout
           from marts.fct_sales_daily where sales_date between $first and $last""",
        window,
    ).df()
    opening_stock = conn.execute(
        """select partner_id, location_id, product_id, on_hand_qty as on_hand
           from marts.fct_inventory_daily where inventory_date = $start""",
        {"start": start},
    ).df()
    in_transit = conn.execute(
        """select partner_id, location_id, product_id, ship_date, expected_receipt_date, qty
           from marts.fct_shipments
           where ship_date <= $start and (expected_receipt_date > $start or expected_receipt_date is null)""",
        {"start": start},
    ).df()
    return ReplayData(policy=policy, sales=sales, opening_stock=opening_stock, in_transit=in_transit)


def last_sales_date(conn: duckdb.DuckDBPyConnection) -> date:
    value = conn.execute("select max(sales_date) from marts.fct_sales_daily").fetchone()[0]
    if value is None:
        raise ValueError("marts.fct_sales_daily has no rows to replay")
    return value


def _grid(frame: pd.DataFrame, column: str, series: pd.DataFrame, dates: pd.DatetimeIndex, fill: object) -> np.ndarray:
    """A series × date matrix of ``column``; absent cells take ``fill``."""
    keyed = frame.assign(sales_date=pd.to_datetime(frame["sales_date"]))
    wide = keyed.pivot_table(index=KEY_COLUMNS, columns="sales_date", values=column, aggfunc="sum")
    index = pd.MultiIndex.from_frame(series[KEY_COLUMNS])
    return wide.reindex(index=index, columns=dates).fillna(fill).to_numpy()


def _prepare(data: ReplayData, start: date, days: int, seed: int) -> _Series:
    opening = data.opening_stock.drop_duplicates(KEY_COLUMNS)
    policy = data.policy.merge(opening[KEY_COLUMNS], on=KEY_COLUMNS).sort_values(KEY_COLUMNS, ignore_index=True)
    if policy.empty:
        raise ValueError(f"no series has both an agreement and a stock count on {start}")
    dates = pd.date_range(start - timedelta(days=TRAILING_DAYS - 1), periods=TRAILING_DAYS + days, freq="D")
    sales = data.sales.assign(is_stockout=data.sales["is_stockout"].fillna(False).astype(float))
    sold = np.clip(_grid(sales, "units_sold", policy, dates, 0.0).astype(float), 0.0, None)
    censored = _grid(sales, "is_stockout", policy, dates, 0.0).astype(float) > 0

    demand = sold.copy()
    for day in range(TRAILING_DAYS, TRAILING_DAYS + days):
        window = np.where(censored[:, day - TRAILING_DAYS : day], np.nan, sold[:, day - TRAILING_DAYS : day])
        with warnings.catch_warnings():
            # A series out of stock for the whole window has no in-stock day to average: no estimate.
            warnings.simplefilter("ignore", category=RuntimeWarning)
            estimate = np.nan_to_num(np.nanmean(window, axis=1), nan=0.0)
        demand[:, day] = np.where(censored[:, day], np.maximum(sold[:, day], estimate), sold[:, day])

    on_hand = opening.set_index(KEY_COLUMNS)["on_hand"].reindex(pd.MultiIndex.from_frame(policy[KEY_COLUMNS]))
    lead_mean = policy["lead_time_days"].to_numpy(dtype=float)
    lead_std = np.nan_to_num(policy["lead_time_std_days"].to_numpy(dtype=float), nan=0.0)
    normals = np.random.default_rng(seed).standard_normal((len(policy), days))
    lead_times = np.maximum(1, np.rint(lead_mean[:, None] + lead_std[:, None] * normals)).astype(int)

    horizon = days + int(lead_times.max()) + 2
    arrivals = np.zeros((len(policy), horizon))
    row_of = {key: row for row, key in enumerate(policy[KEY_COLUMNS].itertuples(index=False, name=None))}
    for shipment in data.in_transit.itertuples(index=False):
        row = row_of.get((shipment.partner_id, shipment.location_id, shipment.product_id))
        if row is None:
            continue
        receipt = shipment.expected_receipt_date
        if pd.isna(receipt):
            receipt = pd.Timestamp(shipment.ship_date) + pd.Timedelta(days=int(np.rint(lead_mean[row])))
        offset = (pd.Timestamp(receipt) - pd.Timestamp(start)).days - 1
        if 0 <= offset < horizon:
            arrivals[row, offset] += float(shipment.qty)

    return _Series(
        policy=policy,
        sold=sold,
        censored=censored,
        demand=demand[:, TRAILING_DAYS:],
        opening_on_hand=np.clip(on_hand.fillna(0.0).to_numpy(dtype=float), 0.0, None),
        opening_arrivals=arrivals,
        lead_times=lead_times,
        lane=policy.groupby(["partner_id", "location_id"], sort=True).ngroup().to_numpy(),
    )


# A decision rule: (plan date, on hand, in transit, observed sales, observed censoring) → units to ship the next
# morning, per series. The observed arrays are series × day and end with the plan date.
Decide = Callable[[date, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _run(series: _Series, start: date, days: int, decide: Decide) -> _Trace:
    n_series = len(series.policy)
    on_hand = series.opening_on_hand.copy()
    arrivals = series.opening_arrivals.copy()
    observed_sales = series.sold.copy()
    observed_censored = series.censored.copy()
    rows = np.arange(n_series)
    served_total, inventory_total = np.zeros(n_series), np.zeros(n_series)
    stockout_days, shipments = np.zeros(n_series, dtype=int), np.zeros(n_series, dtype=int)
    deliveries = np.zeros(int(series.lane.max(initial=-1)) + 1, dtype=int)
    for day in range(days):
        plan_date = start + timedelta(days=day)
        seen = TRAILING_DAYS + day
        in_transit = arrivals[:, day:].sum(axis=1)
        quantity = decide(plan_date, on_hand, in_transit, observed_sales[:, :seen], observed_censored[:, :seen])
        shipping = quantity > 0
        shipments += shipping
        deliveries[np.unique(series.lane[shipping])] += 1
        arrivals[rows[shipping], day + series.lead_times[shipping, day]] += quantity[shipping]

        on_hand = on_hand + arrivals[:, day]
        demand = series.demand[:, day]
        served = np.minimum(demand, on_hand)
        on_hand = on_hand - served
        observed_sales[:, seen] = served
        observed_censored[:, seen] = on_hand <= _UNMET_TOLERANCE

        served_total += served
        inventory_total += on_hand
        stockout_days += demand - served > _UNMET_TOLERANCE
    return _Trace(
        served=served_total,
        demanded=series.demand[:, :days].sum(axis=1),
        stockout_days=stockout_days,
        inventory_unit_days=inventory_total,
        shipments=shipments,
        lane=series.lane,
        deliveries=deliveries,
    )


def _demand_estimate(sales: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d̄ and σ_d per series from the observed days, as the replayed policy forecasts them (``FORECASTER``)."""
    usable = np.where(censored, np.nan, sales)
    forecasts = [moving_average_forecast(history, 1, TRAILING_DAYS) for history in usable]
    p50 = np.array([forecast.p50[0] for forecast in forecasts])
    p90 = np.array([forecast.p90[0] for forecast in forecasts])
    return p50, demand_std_from_quantiles(p50, p90)


def _policy_rule(policy: pd.DataFrame, *, costed_cadence: bool, fewer_days: list[np.ndarray] | None = None) -> Decide:
    """Our policy as the nightly plan runs it: ``plan_replenishment`` each evening, shipping what it dates for the
    next day. With ``costed_cadence`` each location's ship days are chosen every evening from that evening's
    forecast, as the nightly does; without it every agreed day is kept. ``fewer_days`` collects, per evening, which
    rows ship on fewer days than agreed. Each evening's plan is the next one's ``previous_ship_days`` and
    ``previous_ship_date``, as the nightly reads the plan of the night before."""
    terms = policy[POLICY_COLUMNS + [column for column in COST_COLUMNS if column in policy.columns]]
    terms = terms.reset_index(drop=True)
    previous = {"previous_ship_days": None, "previous_ship_date": pd.NaT}

    def decide(
        plan_date: date, on_hand: np.ndarray, in_transit: np.ndarray, sales: np.ndarray, censored: np.ndarray
    ) -> np.ndarray:
        mean, std = _demand_estimate(sales, censored)
        inputs = terms.assign(
            on_hand=on_hand,
            on_order=0.0,
            in_transit=in_transit,
            committed=0.0,
            demand_daily_mean=mean,
            demand_daily_std=std,
            **previous,
        )
        plan = plan_replenishment(inputs, plan_date, costed_cadence=costed_cadence)
        previous.update(
            previous_ship_days=plan["ship_days"].to_numpy(), previous_ship_date=plan["ship_date"].to_numpy()
        )
        if fewer_days is not None:
            fewer_days.append(
                np.array(
                    [
                        len(parse_ship_days(chosen)) < len(parse_ship_days(agreed))
                        for chosen, agreed in zip(plan["ship_days"], plan["ship_days_agreed"], strict=True)
                    ]
                )
            )
        ships_tomorrow = plan["ship_date"].to_numpy() == np.datetime64(plan_date + timedelta(days=1), "us")
        return np.where(ships_tomorrow, plan["allocated_qty"].to_numpy(dtype=float), 0.0)

    return decide


def _baseline_rule(policy: pd.DataFrame) -> Decide:
    lead = policy["lead_time_days"].to_numpy(dtype=float)
    min_cover = policy["min_cover_days"].to_numpy(dtype=float)
    max_cover = policy["max_cover_days"].to_numpy(dtype=float)
    min_cover = np.where(np.isnan(min_cover), lead + BASELINE_FALLBACK_MIN_EXTRA_DAYS, min_cover)
    max_cover = np.where(np.isnan(max_cover), lead + BASELINE_FALLBACK_MAX_EXTRA_DAYS, max_cover)
    case_pack = np.nan_to_num(policy["case_pack"].to_numpy(dtype=float), nan=1.0)
    moq = np.nan_to_num(policy["moq"].to_numpy(dtype=float), nan=0.0)
    review_weekday = np.array([min(parse_ship_days(lane)) for lane in policy["ship_days"].astype(object)])

    def decide(
        plan_date: date, on_hand: np.ndarray, in_transit: np.ndarray, sales: np.ndarray, censored: np.ndarray
    ) -> np.ndarray:
        reviewed = review_weekday == (plan_date + timedelta(days=1)).weekday()
        trailing = sales[:, -TRAILING_DAYS:].mean(axis=1)
        position = on_hand + in_transit
        due = reviewed & (position < min_cover * trailing)
        return round_ship_qty(np.where(due, max_cover * trailing - position, 0.0), case_pack, moq)

    return decide


def _target(service_level: np.ndarray, demand: np.ndarray) -> float:
    return float((service_level * demand).sum() / demand.sum()) if demand.sum() > 0 else float(service_level.mean())


def replay_policies(
    data: ReplayData, start: date, days: int = DEFAULT_DAYS, *, seed: int = DEFAULT_SEED
) -> ReplayReport:
    """Replay our policy, its costed cadence and the baseline for the ``days`` days after ``start`` (see the
    module docstring).

    The target service level reported is the agreements' service level weighted by each series' demand over
    the replay, overall and per partner.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    last_known = pd.to_datetime(data.sales["sales_date"]).max()
    last_day = start + timedelta(days=days)
    if pd.isna(last_known) or last_known.date() < last_day:
        known = "no sales" if pd.isna(last_known) else f"sales up to {last_known.date()}"
        raise ValueError(f"the replay needs sales up to {last_day}, the history has {known}")
    series = _prepare(data, start, days, seed)
    terms = CostTerms.of(series.policy)
    fewer_days: list[np.ndarray] = []
    policy = _run(series, start, days, _policy_rule(series.policy, costed_cadence=False))
    costed = _run(series, start, days, _policy_rule(series.policy, costed_cadence=True, fewer_days=fewer_days))
    baseline = _run(series, start, days, _baseline_rule(series.policy))
    service_level = series.policy["service_level"].to_numpy(dtype=float)
    partners = series.policy["partner_id"].to_numpy()
    everything = np.arange(len(partners))
    by_partner = []
    for partner in sorted(set(partners)):
        rows = np.flatnonzero(partners == partner)
        by_partner.append(
            PartnerOutcome(
                partner_id=str(partner),
                target_service_level=_target(service_level[rows], policy.demanded[rows]),
                policy=policy.outcome(rows, days, terms),
                baseline=baseline.outcome(rows, days, terms),
                costed=costed.outcome(rows, days, terms),
            )
        )
    return ReplayReport(
        start=start,
        days=days,
        series=len(partners),
        target_service_level=_target(service_level, policy.demanded),
        seed=seed,
        policy=policy.outcome(everything, days, terms),
        baseline=baseline.outcome(everything, days, terms),
        by_partner=tuple(by_partner),
        costed=costed.outcome(everything, days, terms),
        uncosted_series=int((~terms.costed).sum()),
        lanes=int(series.lane.max(initial=-1)) + 1,
        lanes_on_fewer_days=_locations_mostly_on_fewer_days(series.lane, fewer_days),
    )


def _locations_mostly_on_fewer_days(lane: np.ndarray, fewer_days: list[np.ndarray]) -> int:
    """Locations whose plan shipped on fewer days than agreed on more than half of the evenings."""
    if not fewer_days:
        return 0
    evenings = np.zeros(int(lane.max(initial=-1)) + 1)
    for fewer in fewer_days:
        evenings[np.unique(lane[fewer])] += 1
    return int((evenings > len(fewer_days) / 2).sum())
