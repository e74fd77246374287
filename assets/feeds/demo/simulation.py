"""One partner's history, day by day: demand met from the shelf, stock-outs, and the supplier's shipments.

Slow movers draw intermittent demand (a low rate with negative-binomial noise); sales are censored by the stock
on hand, and stock is replenished by the partners' habitual weekly min/max rule with random lead times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.feeds.demo.demand import PartnerForecasts, expected_demand
from assets.feeds.demo.world import (
    SMALL_LOCATIONS,
    SMALL_PRODUCTS,
    Product,
    Terms,
    block_rng,
    choose_products,
    draw_agreements,
    partner_ref,
    partner_rng,
    stores_for,
)
from assets.feeds.identity import gs1_check_digit
from assets.feeds.partner_config import PartnerConfig

# Daily draws come in blocks of four weeks, keyed by (seed, partner, stream, block).
DRAW_BLOCK_DAYS = 28
DEMAND_STREAM, RETURNS_STREAM = 1, 5
TRAILING_DEMAND_DAYS = 28  # window of the partners' habitual min/max rule
HABITUAL_REVIEW_DAYS = 7  # that rule reviews once a week
# Rows a long file's block holds: files of a long history are rendered and written this many rows at a time.
BLOCK_ROWS = 400_000


@dataclass
class SeriesHistory:
    """One partner's simulated days as series x day arrays, read out as canonical rows a span of days at a time.

    Rows come day by day, each day's series in the files' order (store id, then item ref) and only from the day a
    series is listed, so a span's rows are exactly that span of the whole history's sorted rows, and a file of a
    long history is written a block of days at a time without the whole history as rows in memory.
    """

    dates: np.ndarray  # the history's days, datetime64
    location_ids: np.ndarray  # per series
    product_refs: np.ndarray
    listed_from: np.ndarray
    on_hand: np.ndarray  # end-of-day stock, series x day
    sold: np.ndarray
    returned: np.ndarray
    received: np.ndarray
    lost: np.ndarray  # demand the store lost to an empty shelf
    price: np.ndarray  # per series, in the partner's currency
    on_promo: np.ndarray  # series x day
    order: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        keys = pd.DataFrame({"location_id": self.location_ids, "product_ref": self.product_refs})
        self.order = keys.sort_values(["location_id", "product_ref"], kind="stable").index.to_numpy()
        self._codes = {name: pd.factorize(keys[name].to_numpy(dtype=object)) for name in keys}

    def _ids(self, series: np.ndarray, categorical: bool) -> dict[str, np.ndarray | pd.Categorical]:
        """The store and item ref of each row; as categoricals for a block of a long file, which spares making
        and reading millions of strings."""
        if categorical:
            return {
                name: pd.Categorical.from_codes(codes[series], names) for name, (codes, names) in self._codes.items()
            }
        return {"location_id": self.location_ids[series], "product_ref": self.product_refs[series]}

    @property
    def days(self) -> int:
        return len(self.dates)

    def day_of(self, day) -> int:
        """The index of a business day in the history (past its end when the day is)."""
        return (pd.Timestamp(day) - pd.Timestamp(self.dates[0])).days

    def _grid(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        first, stop = max(first, 0), min(stop, self.days)
        days = np.arange(first, max(stop, first))
        listed = days[:, None] >= self.listed_from[self.order][None, :]
        day, position = np.nonzero(listed)
        return self.order[position], days[day]

    def stock(self, first: int, stop: int, categorical: bool = False) -> pd.DataFrame:
        """Stock rows of days ``first`` to ``stop - 1``, in file order."""
        series, day = self._grid(first, stop)
        return pd.DataFrame(
            {
                **self._ids(series, categorical),
                "as_of_date": self.dates[day],
                "on_hand_qty": self.on_hand[series, day],
            }
        )

    def sales(self, first: int, stop: int, categorical: bool = False) -> pd.DataFrame:
        """Sales rows of days ``first`` to ``stop - 1``, in file order."""
        series, day = self._grid(first, stop)
        sold, returned, on_promo = self.sold[series, day], self.returned[series, day], self.on_promo[series, day]
        return pd.DataFrame(
            {
                **self._ids(series, categorical),
                "period_start": self.dates[day],
                "units_sold": sold,
                "units_returned": returned,
                "net_sales_amount": np.round((sold - returned) * self.price[series] * np.where(on_promo, 0.8, 1.0), 2),
                "promo_flag": on_promo,
                # What the store's own books know besides sales: our goods arriving, and demand it lost.
                "units_received": self.received[series, day],
                "units_out_of_stock": self.lost[series, day],
            }
        )

    def blocks(self, first: int, stop: int):
        """Spans ``(first, stop)`` of about ``BLOCK_ROWS`` rows each that cover days ``first`` to ``stop - 1``."""
        step = max(1, BLOCK_ROWS // max(1, len(self.order)))
        for start in range(first, stop, step):
            yield start, min(start + step, stop)


@dataclass
class PartnerData:
    """Simulated truth for one partner plus what its files are written from."""

    config: PartnerConfig
    locations: pd.DataFrame
    items: pd.DataFrame
    agreements: pd.DataFrame
    shipments: pd.DataFrame
    history: SeriesHistory | None
    forecasts: PartnerForecasts | None
    series: int
    # Units per case of each item ref, as the partner receives it (the agreement's, else the product's).
    case_packs: dict[str, int] = field(default_factory=dict)
    # Which days each carried product (in ``items`` order) is on promotion, over ``calendar`` (history and beyond).
    promotion_days: np.ndarray | None = None
    calendar: pd.DatetimeIndex | None = None

    @property
    def stock(self) -> pd.DataFrame:
        """The whole history's stock rows (for small histories: a file is written a block of days at a time)."""
        return self.history.stock(0, self.history.days)

    @property
    def sales(self) -> pd.DataFrame:
        """The whole history's sales rows (see ``stock``)."""
        return self.history.sales(0, self.history.days)


def simulate_partner(
    config: PartnerConfig,
    catalogue: list[Product],
    calendar: pd.DatetimeIndex,
    days: int,
    seed: int,
    scale: str,
    anchor_days: int | None = None,
    locations: int | None = None,
    products: int | None = None,
) -> PartnerData:
    """One partner's stores, items, agreements and simulated history, as canonical frames.

    ``locations`` and ``products`` set how many stores and products the partner has, whatever the scale.
    ``anchor_days`` is the history's length when the landing was first written (default ``days``): what is
    listed when hangs on it, so a landing extended day by day keeps its past. Daily draws come in blocks of
    ``DRAW_BLOCK_DAYS`` keyed by the block, and the stock is simulated day by day, so day t never depends on
    how many days follow it.
    """
    demo = config.demo
    setup_rng, _, promo_rng, ship_rng, forecast_rng = (partner_rng(seed, config, k) for k in range(5))

    listed_days = anchor_days or days
    location_count = SMALL_LOCATIONS if scale == "small" else int(demo.get("locations", 4))
    product_count = SMALL_PRODUCTS if scale == "small" else int(demo.get("products", 16))
    location_count = locations or location_count
    product_count = products or product_count
    stores = stores_for(config, location_count)
    carried = choose_products(catalogue, product_count, setup_rng)

    gln_prefix = str(demo.get("gln_prefix", "000000000"))
    locations = pd.DataFrame(
        {
            "partner_id": config.partner_id,
            "location_id": [str(store["id"]) for store in stores],
            "location_name": [str(store.get("name", store["id"])) for store in stores],
            "gln": [
                gln_prefix + f"{index + 1:03d}" + gs1_check_digit(gln_prefix + f"{index + 1:03d}")
                for index in range(len(stores))
            ],
            "city": [str(store.get("city", "")) for store in stores],
            "country": config.country,
        }
    )
    refs = [partner_ref(product, config) for product in carried]
    items = pd.DataFrame(
        {
            "partner_id": config.partner_id,
            "partner_item_ref": [ref for ref, _ in refs],
            "product_id": [product.product_id for product in carried],
            "ref_type": [ref_type for _, ref_type in refs],
        }
    )
    agreements, terms = draw_agreements(config, carried, setup_rng)

    # Series = location x product, location-major.
    n_loc, n_prod = len(stores), len(carried)
    n_series = n_loc * n_prod
    loc_index = np.repeat(np.arange(n_loc), n_prod)
    prod_index = np.tile(np.arange(n_prod), n_loc)

    size = setup_rng.uniform(0.6, 1.5, n_loc) * float(demo.get("size_factor", 1.0))
    affinity = setup_rng.lognormal(0.0, 0.25, n_series)
    popularity = np.array([product.popularity for product in carried])
    base_rate = popularity[prod_index] * size[loc_index] * affinity
    slow = np.array([product.slow for product in carried])[prod_index]
    base_rate = np.where(slow, np.minimum(base_rate, 0.45), base_rate)

    listed_from = np.zeros(n_series, dtype=int)
    for index, product in enumerate(carried):
        if product.lifecycle == "new":
            listed_from[prod_index == index] = max(listed_days - 120, listed_days // 3)
    expected, promo = expected_demand(config, carried, base_rate, prod_index, listed_from, calendar, promo_rng)
    dispersion = np.where(slow, 1.0, 4.0)[:, None]
    demand = _in_blocks(
        seed,
        config,
        DEMAND_STREAM,
        days,
        lambda rng, block: rng.negative_binomial(dispersion, dispersion / (dispersion + expected[:, block])),
    )

    sold, on_hand, received, shipments = _simulate_stock(
        demand, base_rate, listed_from, terms, prod_index, calendar[:days], ship_rng
    )
    block_shape = (n_series, DRAW_BLOCK_DAYS)
    returns = _in_blocks(
        seed,
        config,
        RETURNS_STREAM,
        days,
        lambda rng, block: (rng.random(block_shape) < 0.012) * rng.integers(1, 3, block_shape),
    )
    returned = (sold > 0) * returns
    del returns

    location_ids = locations["location_id"].to_numpy()[loc_index]
    product_refs = items["partner_item_ref"].to_numpy()[prod_index]
    product_ids = items["product_id"].to_numpy()[prod_index]
    price = np.array([product.list_price_usd for product in carried])[prod_index] * float(demo.get("price_factor", 1.0))
    lost = demand - sold
    del demand
    history = SeriesHistory(
        dates=calendar[:days].to_numpy(),
        location_ids=location_ids,
        product_refs=product_refs,
        listed_from=listed_from,
        on_hand=on_hand,
        sold=sold,
        returned=returned,
        received=received,
        lost=lost,
        price=price,
        on_promo=promo[prod_index][:, :days],
    )
    forecasts = PartnerForecasts(
        config, expected, listed_from, calendar, days, forecast_rng, location_ids, product_refs
    )

    shipments.insert(0, "partner_id", config.partner_id)
    shipments["location_id"] = location_ids[shipments["series"].to_numpy()]
    shipments["product_id"] = product_ids[shipments["series"].to_numpy()]
    shipments = shipments.drop(columns="series")

    return PartnerData(
        config=config,
        locations=locations,
        items=items,
        agreements=agreements,
        shipments=shipments,
        history=history,
        forecasts=forecasts,
        series=n_series,
        case_packs=dict(zip(items["partner_item_ref"], (int(pack) for pack in terms.case_pack), strict=True)),
        promotion_days=promo,
        calendar=calendar,
    )


def _in_blocks(seed: int, config: PartnerConfig, stream: int, days: int, draw) -> np.ndarray:
    """Series x day draws made block by block of ``DRAW_BLOCK_DAYS``, each block from its own generator."""
    blocks = [
        draw(block_rng(seed, config, stream, block), slice(first, first + DRAW_BLOCK_DAYS))
        for block, first in enumerate(range(0, days, DRAW_BLOCK_DAYS))
    ]
    return np.concatenate(blocks, axis=1)[:, :days]


def _simulate_stock(
    demand: np.ndarray,
    base_rate: np.ndarray,
    listed_from: np.ndarray,
    terms: Terms,
    prod_index: np.ndarray,
    dates: pd.DatetimeIndex,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Day by day: receive, sell what the shelf allows, and ship by the partners' habitual min/max rule.

    Before CMI, replenishment was reviewed once a week (on the lane's first ship day): below `lead + 7` days of
    trailing sales, order up to `lead + 14` days. Between reviews stock runs down, so some items dip under a
    daily-reviewed reorder point and some stock out, as they do in real histories.

    Returns sold units, end-of-day on hand and units received (series x day) and the shipments; a shipment's
    actual receipt differs from its expected date by the lead-time noise, and one arriving after the last day is in
    transit.
    """
    n_series, days = demand.shape
    lead = terms.lead_time[prod_index]
    lead_std = terms.lead_time_std[prod_index]
    min_cover = lead + HABITUAL_REVIEW_DAYS
    max_cover = lead + 2 * HABITUAL_REVIEW_DAYS
    case_pack = terms.case_pack[prod_index]
    moq = terms.moq[prod_index]
    weekday = dates.dayofweek.to_numpy()
    review_weekday = np.array([min(terms.ship_days[p]) for p in prod_index])

    max_lead = int(lead.max() + 4 * lead_std.max()) + 2
    arrivals = np.zeros((n_series, days + max_lead + 2))
    sold = np.zeros((n_series, days))
    on_hand_history = np.zeros((n_series, days))
    shipped_series: list[np.ndarray] = []
    shipped_day: list[np.ndarray] = []
    shipped_expected: list[np.ndarray] = []
    shipped_qty: list[np.ndarray] = []

    def ship(mask: np.ndarray, day: int, quantity: np.ndarray) -> None:
        noisy = np.rint(lead[mask] + rng.normal(0.0, 1.0, mask.sum()) * lead_std[mask])
        actual = np.clip(noisy, 1, max_lead)
        arrival_day = day + actual.astype(int)
        np.add.at(arrivals, (np.flatnonzero(mask), arrival_day), quantity)
        shipped_series.append(np.flatnonzero(mask))
        shipped_day.append(np.full(mask.sum(), day))
        shipped_expected.append(day + np.rint(lead[mask]).astype(int))
        shipped_qty.append(quantity)

    # A product launched mid-history gets its first fill shipped to arrive on launch day.
    launch = listed_from > 0
    if launch.any():
        first_fill = np.ceil(base_rate[launch] * max_cover[launch] / case_pack[launch]) * case_pack[launch]
        for series, quantity in zip(np.flatnonzero(launch), first_fill, strict=True):
            ship_day = int(listed_from[series] - lead[series])
            arrivals[series, listed_from[series]] += quantity
            shipped_series.append(np.array([series]))
            shipped_day.append(np.array([ship_day]))
            shipped_expected.append(np.array([listed_from[series]]))
            shipped_qty.append(np.array([quantity]))

    start_cover = rng.uniform(min_cover, max_cover)
    on_hand = np.where(listed_from == 0, np.ceil(base_rate * start_cover), 0.0)
    in_transit = np.zeros(n_series)
    for day in range(days):
        received = arrivals[:, day]
        available = on_hand + received
        sold[:, day] = np.minimum(demand[:, day], available)
        on_hand = available - sold[:, day]
        in_transit = np.maximum(in_transit - received, 0.0)
        on_hand_history[:, day] = on_hand

        ship_day = day + 1
        if ship_day >= days:
            continue
        window = sold[:, max(0, day - TRAILING_DEMAND_DAYS + 1) : day + 1]
        # Censored sales understate demand; a floor keeps a stocked-out item from never being reordered.
        trailing = window.mean(axis=1) if day >= TRAILING_DEMAND_DAYS else base_rate
        estimate = np.maximum(trailing, 0.5 * base_rate)
        min_units = np.maximum(1.0, np.ceil(estimate * min_cover))
        max_units = np.maximum(min_units + case_pack, np.ceil(estimate * max_cover))
        position = on_hand + in_transit
        due = (review_weekday == weekday[ship_day]) & (position <= min_units) & (ship_day >= listed_from)
        if due.any():
            quantity = np.ceil((max_units[due] - position[due]) / case_pack[due]) * case_pack[due]
            quantity = np.maximum(quantity, moq[due])
            ship(due, ship_day, quantity)
            in_transit[due] += quantity

    shipments = pd.DataFrame(
        {
            "series": np.concatenate(shipped_series) if shipped_series else np.array([], dtype=int),
            "ship_day": np.concatenate(shipped_day) if shipped_day else np.array([], dtype=int),
            "expected_day": np.concatenate(shipped_expected) if shipped_expected else np.array([], dtype=int),
            "qty": np.concatenate(shipped_qty) if shipped_qty else np.array([], dtype=float),
        }
    )
    first = dates[0]
    shipments["ship_date"] = first + pd.to_timedelta(shipments.pop("ship_day"), unit="D")
    shipments["expected_receipt_date"] = first + pd.to_timedelta(shipments.pop("expected_day"), unit="D")
    shipments = shipments[["series", "ship_date", "expected_receipt_date", "qty"]]
    return sold, on_hand_history, arrivals[:, :days].copy(), shipments
