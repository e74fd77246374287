"""The demo's world: the supplier's catalogue, the products partners carry, their replenishment agreements and seeds.

Everything here is drawn once per run from generators seeded by ``seed`` (and the partner's ``demo.seed_offset``),
so the same arguments give the same world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from assets.feeds.identity import gs1_check_digit
from assets.feeds.partner_config import PartnerConfig

SCALES = ("full", "small")
SMALL_LOCATIONS = 2
SMALL_PRODUCTS = 5


# A US manufacturer's GS1 prefix: UPC-A = "0" + 5-digit company + 5-digit item + check digit.
UPC_COMPANY = "84215"


@dataclass(frozen=True)
class CatalogueItem:
    """A catalogue line as the supplier lists it; the rest of a product's attributes are drawn per run."""

    product_id: str
    description: str
    description_zh: str
    category: str
    slow: bool = False
    lifecycle: str = "active"
    season: tuple[float, int] | None = None  # (amplitude, peak day of year)


CATALOGUE = (
    CatalogueItem("P1001", "Sparkling Mineral Water 1L", "苏打矿泉水1升", "beverages"),
    CatalogueItem("P1002", "Orange Juice 1L", "橙汁1升", "beverages", season=(0.2, 20)),
    CatalogueItem("P1003", "Cold Brew Coffee 250ml", "冷萃咖啡250毫升", "beverages", lifecycle="new"),
    CatalogueItem("P1004", "Green Tea 500ml", "绿茶500毫升", "beverages", season=(0.3, 200)),
    CatalogueItem("P1005", "Oat Drink 1L", "燕麦奶1升", "dairy"),
    CatalogueItem("P1006", "Greek Yogurt 500g", "希腊酸奶500克", "dairy"),
    CatalogueItem("P1007", "Aged Cheddar 200g", "陈年切达奶酪200克", "dairy", slow=True),
    CatalogueItem("P1008", "Dark Chocolate 100g", "黑巧克力100克", "snacks", season=(0.35, 350)),
    CatalogueItem("P1009", "Sea Salt Crisps 150g", "海盐薯片150克", "snacks"),
    CatalogueItem("P1010", "Almond Mix 200g", "混合杏仁200克", "snacks", slow=True),
    CatalogueItem("P1011", "Oat Biscuits 300g", "燕麦饼干300克", "bakery", lifecycle="phase_out"),
    CatalogueItem("P1012", "Sourdough Crispbread 250g", "酸面包脆饼250克", "bakery"),
    CatalogueItem("P1013", "Basmati Rice 1kg", "印度香米1公斤", "pantry", slow=True),
    CatalogueItem("P1014", "Penne Pasta 500g", "通心粉500克", "pantry"),
    CatalogueItem("P1015", "Tomato Passata 700g", "番茄泥700克", "pantry"),
    CatalogueItem("P1016", "Extra Virgin Olive Oil 750ml", "特级初榨橄榄油750毫升", "pantry", slow=True),
    CatalogueItem("P1017", "Dish Soap 500ml", "洗洁精500毫升", "household"),
    CatalogueItem("P1018", "Laundry Capsules 30ct", "洗衣凝珠30颗", "household", slow=True),
    CatalogueItem("P1019", "Sunscreen SPF50 200ml", "防晒霜SPF50 200毫升", "personal_care", season=(0.75, 190)),
    CatalogueItem("P1020", "Vanilla Ice Cream 1L", "香草冰淇淋1升", "frozen", season=(0.6, 200)),
)
SMALL_CATALOGUE = ("P1001", "P1003", "P1006", "P1009", "P1019", "P1016", "P1018", "P1014")

SHIP_DAY_OPTIONS = ("Mon,Wed,Fri", "Tue,Thu", "Mon,Thu", "Mon,Tue,Wed,Thu,Fri")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SERVICE_LEVELS = (0.9, 0.92, 0.95, 0.97, 0.98)
# Yearly holding cost as a share of the unit cost (capital, space, shrink) and the cost of a unit not served as a
# share of it (lost margin plus the retailer's short-shipment fine).
HOLDING_COST_RATES = (0.18, 0.2, 0.22, 0.25, 0.3)
STOCKOUT_PENALTY_RATES = (0.35, 0.5, 0.75, 1.0)
# A delivery to one store: a fixed stop cost plus distance, which the lane's lead time stands in for.
SHIPMENT_COST_BASE, SHIPMENT_COST_PER_LEAD_DAY = 60.0, 25.0


# How the supplier is addressed in partners' EDI envelopes (X12 ISA08/GS03, EDIFACT UNB recipient GLN).
SUPPLIER_EDI_ID = "0" + UPC_COMPANY + "000000"
SUPPLIER_GLN = "0" + UPC_COMPANY + "000000" + gs1_check_digit("0" + UPC_COMPANY + "000000")


@dataclass(frozen=True)
class Product:
    """A catalogue item with the attributes drawn for this run: demand shape, packing and prices."""

    product_id: str
    gtin: str
    upc: str
    description: str
    description_zh: str
    category: str
    slow: bool
    lifecycle: str
    popularity: float
    season_amplitude: float
    season_peak: int
    trend_per_year: float
    case_pack: int
    moq: int
    pallet_qty: int
    unit_cost: float
    list_price_usd: float


def catalogue_items(count: int) -> tuple[CatalogueItem, ...]:
    """The catalogue grown to ``count`` lines: past the 20 listed ones, further sizes of them (``P1021`` is the
    second line of ``P1001``, with its category, season and pace; every one active)."""
    return (*CATALOGUE, *(_grown_item(index) for index in range(len(CATALOGUE), count)))


def catalogue_item(product_id: str) -> CatalogueItem:
    """A catalogue line by product id, listed or grown (see ``catalogue_items``)."""
    index = int(product_id[1:]) - 1001
    return _grown_item(index) if index >= len(CATALOGUE) else CATALOGUE[index]


@lru_cache(maxsize=100_000)
def _grown_item(index: int) -> CatalogueItem:
    base = CATALOGUE[index % len(CATALOGUE)]
    line = index // len(CATALOGUE) + 1
    return CatalogueItem(
        f"P{1001 + index}",
        f"{base.description} No. {line}",
        f"{base.description_zh}{line}号",
        base.category,
        slow=base.slow,
        season=base.season,
    )


def stores_for(config: PartnerConfig, count: int) -> list[dict]:
    """The partner's configured stores, then as many more as ``count`` asks: ids after the first store's prefix
    from 5001 on, in the configured cities in turn."""
    stores = list(config.demo.get("stores") or [])
    if not stores and count:
        raise ValueError(f"{config.source_path}: demo.stores lists no store to model more on")
    first = str(stores[0]["id"]) if stores else ""
    prefix = first.rstrip("0123456789")
    cities = [str(store.get("city", "")) for store in stores]
    for index in range(len(stores), count):
        city = cities[index % len(cities)]
        stores.append({"id": f"{prefix}{5001 + index}", "name": f"{city} #{index + 1}", "city": city})
    return stores[:count]


def _upc_for(product_id: str) -> str:
    body = "0" + UPC_COMPANY + f"{int(product_id[1:]):05d}"
    return body + gs1_check_digit(body)


def partner_ref(product: Product, config: PartnerConfig) -> tuple[str, str]:
    """How the partner names the item in its files, and the ref type for the cross-reference."""
    item_ref = config.demo.get("item_ref", "upc")
    if item_ref == "upc":
        return product.upc, "upc"
    if item_ref == "ean":
        return "0" + product.upc, "ean"
    if item_ref == "sku":
        prefix = config.demo.get("sku_prefix", "SKU-")
        # Partner SKUs carry no meaning of ours: a fixed scramble of the product number.
        return f"{prefix}{(int(product.product_id[1:]) * 7919 + 104729) % 1_000_000:06d}", "sku"
    raise ValueError(f"{config.source_path}: demo.item_ref must be upc, ean or sku, got {item_ref!r}")


# --- catalogue ----------------------------------------------------------------------------------------------


def build_catalogue(seed: int, scale: str, count: int | None = None) -> list[Product]:
    """The supplier's products; ``count`` grows the catalogue to that many lines (and sets the scale aside)."""
    rng = np.random.default_rng([seed, 0])
    products = []
    for item in catalogue_items(max(count or 0, len(CATALOGUE))):
        # Draw every product's attributes even when unused, so a product's values do not depend on the scale.
        popularity = float(np.clip(rng.lognormal(math.log(5.0), 0.6), 1.5, 25.0))
        slow_rate = float(rng.uniform(0.08, 0.35))
        random_season = rng.random() < 0.35
        amplitude = float(rng.uniform(0.1, 0.3))
        peak = int(rng.integers(1, 366))
        trend = float(rng.uniform(-0.06, 0.10))
        case_pack = int(rng.choice([6, 12, 24]))
        moq_cases = int(rng.choice([1, 2]))
        cases_per_pallet = int(rng.choice([40, 60, 80, 100]))
        unit_cost = round(float(rng.uniform(0.5, 4.5)), 2)
        markup = float(rng.uniform(1.35, 1.9))
        if item.slow:
            popularity, case_pack, moq_cases = slow_rate, 6, 1
        if item.season is not None:
            amplitude, peak = item.season
        elif not random_season:
            amplitude = 0.0
        if item.lifecycle == "phase_out":
            trend = -0.45
        upc = _upc_for(item.product_id)
        products.append(
            Product(
                product_id=item.product_id,
                gtin="00" + upc,
                upc=upc,
                description=item.description,
                description_zh=item.description_zh,
                category=item.category,
                slow=item.slow,
                lifecycle=item.lifecycle,
                popularity=popularity,
                season_amplitude=amplitude,
                season_peak=peak,
                trend_per_year=trend,
                case_pack=case_pack,
                moq=case_pack * moq_cases,
                pallet_qty=case_pack * cases_per_pallet,
                unit_cost=unit_cost,
                list_price_usd=round(unit_cost * markup, 2),
            )
        )
    if scale == "small" and count is None:
        products = [product for product in products if product.product_id in SMALL_CATALOGUE]
    return products


def partner_rng(seed: int, config: PartnerConfig, stream: int) -> np.random.Generator:
    """One of a partner's independent random streams (setup, demand, promotions, shipping, forecasts, files)."""
    return np.random.default_rng([seed, 1, int(config.demo.get("seed_offset", 0)), stream])


def block_rng(seed: int, config: PartnerConfig, stream: int, block: int) -> np.random.Generator:
    """A partner stream's draws for one block of days: what day t draws never depends on how many days follow."""
    return np.random.default_rng([seed, 1, int(config.demo.get("seed_offset", 0)), stream, block])


def choose_products(catalogue: list[Product], count: int, rng: np.random.Generator) -> list[Product]:
    """About a quarter slow movers, the rest regular sellers, in catalogue order."""
    slow = [product for product in catalogue if product.slow]
    regular = [product for product in catalogue if not product.slow]
    slow_count = min(len(slow), max(1, round(count * 0.25)))
    regular_count = min(len(regular), count - slow_count)
    chosen = set(rng.choice(len(slow), slow_count, replace=False).tolist())
    chosen_regular = set(rng.choice(len(regular), regular_count, replace=False).tolist())
    picked = [product for index, product in enumerate(slow) if index in chosen]
    picked += [product for index, product in enumerate(regular) if index in chosen_regular]
    return sorted(picked, key=lambda product: product.product_id)


@dataclass(frozen=True)
class Terms:
    """Replenishment terms per product of one partner, aligned with its carried products."""

    lead_time: np.ndarray
    lead_time_std: np.ndarray
    min_cover: np.ndarray
    max_cover: np.ndarray
    case_pack: np.ndarray
    moq: np.ndarray
    ship_days: list[frozenset[int]]


def draw_agreements(
    config: PartnerConfig, carried: list[Product], rng: np.random.Generator
) -> tuple[pd.DataFrame, Terms]:
    """The partner's replenishment agreement (a default row and one or two product overrides) and its terms."""
    lead = int(rng.integers(2, 6))
    lead_std = round(float(rng.uniform(0.3, 1.2)), 1)
    ship_days = str(rng.choice(SHIP_DAY_OPTIONS))
    review = int(np.clip(round(7 / len(ship_days.split(","))), 1, 7))
    service = float(rng.choice(SERVICE_LEVELS))
    min_cover = float(lead + review + int(rng.integers(1, 4)))
    max_cover = min_cover + float(rng.integers(7, 15))
    # The costs draw from a stream of their own, so adding them left every other term of the demo as it was.
    costs = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    default = {
        "partner_id": config.partner_id,
        "product_id": None,
        "lead_time_days": float(lead),
        "lead_time_std_days": lead_std,
        "review_period_days": review,
        "service_level": service,
        "min_cover_days": min_cover,
        "max_cover_days": max_cover,
        "moq": None,
        "case_pack": None,
        "ship_days": ship_days,
        "holding_cost_rate": float(costs.choice(HOLDING_COST_RATES)),
        "shipment_cost": round(SHIPMENT_COST_BASE + SHIPMENT_COST_PER_LEAD_DAY * lead + float(costs.uniform(0, 40)), 2),
        "stockout_penalty_rate": float(costs.choice(STOCKOUT_PENALTY_RATES)),
    }
    rows = [default]
    override_count = 2 if len(carried) > 8 else 1
    overridden = sorted(rng.choice(len(carried), override_count, replace=False).tolist())
    per_product: dict[int, dict] = {}
    for index in overridden:
        product = carried[index]
        extra_lead = int(rng.integers(1, 3))
        override = default | {
            "product_id": product.product_id,
            "lead_time_days": float(min(7, lead + extra_lead)),
            "lead_time_std_days": round(lead_std + 0.5, 1),
            "service_level": 0.98,
            "min_cover_days": min_cover + extra_lead,
            "max_cover_days": max_cover + extra_lead,
            "moq": product.case_pack * 2,
            "case_pack": product.case_pack,
            # Costs are the partner's: an override row leaves them to the default.
            "holding_cost_rate": None,
            "shipment_cost": None,
            "stockout_penalty_rate": None,
        }
        rows.append(override)
        per_product[index] = override

    def term(index: int, key: str, fallback: float) -> float:
        value = per_product.get(index, default)[key]
        return fallback if value is None else value

    weekday_numbers = {name: number for number, name in enumerate(WEEKDAYS)}
    terms = Terms(
        lead_time=np.array([term(i, "lead_time_days", lead) for i in range(len(carried))]),
        lead_time_std=np.array([term(i, "lead_time_std_days", lead_std) for i in range(len(carried))]),
        min_cover=np.array([term(i, "min_cover_days", min_cover) for i in range(len(carried))]),
        max_cover=np.array([term(i, "max_cover_days", max_cover) for i in range(len(carried))]),
        case_pack=np.array([term(i, "case_pack", product.case_pack) for i, product in enumerate(carried)]),
        moq=np.array([term(i, "moq", product.moq) for i, product in enumerate(carried)]),
        ship_days=[
            frozenset(weekday_numbers[name] for name in per_product.get(i, default)["ship_days"].split(","))
            for i in range(len(carried))
        ],
    )
    return pd.DataFrame(rows), terms


def gln(prefix: str, number: int) -> str:
    """A GLN-13 from a partner's 9-digit prefix and a 3-digit location number."""
    body = f"{prefix}{number:03d}"
    return body + gs1_check_digit(body)
