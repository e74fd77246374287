"""Demo landing data: three partners with their own dialects and formats, the supplier's master data and shipments.

The generator simulates what really happens at each partner location, day by day: demand (popularity, store
size, weekday pattern, yearly seasonality, trend, promotions, national holidays, negative-binomial noise, many
slow movers), sales censored by the stock on the shelf, and the supplier's historical min/max replenishment
with random lead times. Partners then report what they saw in the formats partners really send (CSV/TSV dialects,
weekly X12 852 and daily 846, EDIFACT INVRPT/SLSRPT, an Excel workbook, a JSON export), with the imperfections
real feeds have, so the ledger, the quarantine and the quality layer have something to find.

Same arguments, same bytes: every random draw comes from generators seeded by ``seed`` and the partner's
``demo.seed_offset``, and file modification times are set to the simulated delivery time.

Each partner's files follow its file specs (the single ``*`` of a pattern becomes a date or date range, with
``_2`` for a resend). The ``demo:`` section of a partner config may set:
``locations``, ``products`` (counts at full scale), ``stores`` (list of ``{id, name, city}``), ``item_ref``
(``upc`` | ``ean`` | ``sku``), ``sku_prefix``, ``gln_prefix`` (9 digits), ``size_factor``, ``price_factor``
(partner currency per USD), ``weekly_pattern`` (7 factors, Monday first), ``forecast_bias``,
``forecast_noise``, ``delivery_window`` (local ``["HH:MM", "HH:MM"]``), ``line_ending``, ``extra_columns``
(header -> ``description`` | ``description_zh``), ``seed_offset``, ``unknown_location`` (``{id, name}``),
``edi_sender`` / ``edi_name`` (X12 sender id, EDIFACT trading name), the format mix ``x12_weeks`` (weekly 852s
before the daily window, with daily 846 stock from then on), ``edifact_days`` (last days as INVRPT/SLSRPT) and
``tabular_days`` (first days of the window as Excel stock and JSON sales), and ``imperfections``: any of
``duplicate_file``, ``late_file``, ``undecodable_file``, ``negative_on_hand``, ``unknown_location``,
``unknown_items``, ``truncated_interchange``, ``wrong_segment_count``, ``unknown_store``, ``control_number_reuse``
(X12), ``bad_check_digit``, ``empty_file``, ``corrected_resend`` (EDIFACT).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import openpyxl
import pandas as pd

from assets.feeds.contracts import DATE_COLUMNS, MASTER_DATA_FILES, QUANTITY_COLUMNS, SUPPLIER_FOLDER
from assets.feeds.identity import gs1_check_digit
from assets.feeds.loading.raw_schema import RAW_TABLE_DDL
from assets.feeds.partner_config import SEGMENT_FORMATS, FileSpec, PartnerConfig, load_partner_configs

DAILY_FILE_DAYS = 14  # the last two weeks arrive as one file per day; everything before as an onboarding backfill
FORECAST_FILE_WEEKS = 16  # weekly partner forecasts delivered as separate files
FORECAST_HORIZON_WEEKS = 8
TRAILING_DEMAND_DAYS = 28  # window of the partners' habitual min/max rule
HABITUAL_REVIEW_DAYS = 7  # that rule reviews once a week
SCALES = ("full", "small")
SMALL_LOCATIONS = 2
SMALL_PRODUCTS = 5

# A US manufacturer's GS1 prefix: UPC-A = "0" + 5-digit company + 5-digit item + check digit.
UPC_COMPANY = "84215"


@dataclass(frozen=True)
class _CatalogueItem:
    product_id: str
    description: str
    description_zh: str
    category: str
    slow: bool = False
    lifecycle: str = "active"
    season: tuple[float, int] | None = None  # (amplitude, peak day of year)


CATALOGUE = (
    _CatalogueItem("P1001", "Sparkling Mineral Water 1L", "苏打矿泉水1升", "beverages"),
    _CatalogueItem("P1002", "Orange Juice 1L", "橙汁1升", "beverages", season=(0.2, 20)),
    _CatalogueItem("P1003", "Cold Brew Coffee 250ml", "冷萃咖啡250毫升", "beverages", lifecycle="new"),
    _CatalogueItem("P1004", "Green Tea 500ml", "绿茶500毫升", "beverages", season=(0.3, 200)),
    _CatalogueItem("P1005", "Oat Drink 1L", "燕麦奶1升", "dairy"),
    _CatalogueItem("P1006", "Greek Yogurt 500g", "希腊酸奶500克", "dairy"),
    _CatalogueItem("P1007", "Aged Cheddar 200g", "陈年切达奶酪200克", "dairy", slow=True),
    _CatalogueItem("P1008", "Dark Chocolate 100g", "黑巧克力100克", "snacks", season=(0.35, 350)),
    _CatalogueItem("P1009", "Sea Salt Crisps 150g", "海盐薯片150克", "snacks"),
    _CatalogueItem("P1010", "Almond Mix 200g", "混合杏仁200克", "snacks", slow=True),
    _CatalogueItem("P1011", "Oat Biscuits 300g", "燕麦饼干300克", "bakery", lifecycle="phase_out"),
    _CatalogueItem("P1012", "Sourdough Crispbread 250g", "酸面包脆饼250克", "bakery"),
    _CatalogueItem("P1013", "Basmati Rice 1kg", "印度香米1公斤", "pantry", slow=True),
    _CatalogueItem("P1014", "Penne Pasta 500g", "通心粉500克", "pantry"),
    _CatalogueItem("P1015", "Tomato Passata 700g", "番茄泥700克", "pantry"),
    _CatalogueItem("P1016", "Extra Virgin Olive Oil 750ml", "特级初榨橄榄油750毫升", "pantry", slow=True),
    _CatalogueItem("P1017", "Dish Soap 500ml", "洗洁精500毫升", "household"),
    _CatalogueItem("P1018", "Laundry Capsules 30ct", "洗衣凝珠30颗", "household", slow=True),
    _CatalogueItem("P1019", "Sunscreen SPF50 200ml", "防晒霜SPF50 200毫升", "personal_care", season=(0.75, 190)),
    _CatalogueItem("P1020", "Vanilla Ice Cream 1L", "香草冰淇淋1升", "frozen", season=(0.6, 200)),
)
SMALL_CATALOGUE = ("P1001", "P1003", "P1006", "P1009", "P1019", "P1016", "P1018", "P1014")

SHIP_DAY_OPTIONS = ("Mon,Wed,Fri", "Tue,Thu", "Mon,Thu", "Mon,Tue,Wed,Thu,Fri")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SERVICE_LEVELS = (0.9, 0.92, 0.95, 0.97, 0.98)
DEFAULT_WEEKLY_PATTERN = (0.9, 0.85, 0.85, 0.95, 1.15, 1.3, 1.0)
IMPERFECTIONS = (
    "duplicate_file",
    "late_file",
    "undecodable_file",
    "negative_on_hand",
    "unknown_location",
    "unknown_items",
    "truncated_interchange",
    "wrong_segment_count",
    "unknown_store",
    "control_number_reuse",
    "bad_check_digit",
    "empty_file",
    "corrected_resend",
)
# How the supplier is addressed in partners' EDI envelopes (X12 ISA08/GS03, EDIFACT UNB recipient GLN).
SUPPLIER_EDI_ID = "0" + UPC_COMPANY + "000000"
SUPPLIER_GLN = "0" + UPC_COMPANY + "000000" + gs1_check_digit("0" + UPC_COMPANY + "000000")


@dataclass(frozen=True)
class DemoSummary:
    """What the generator wrote, including the imperfections the pipeline is expected to catch."""

    out_dir: Path
    start_date: date
    end_date: date
    files_per_partner: dict[str, int]
    rows_per_record_type: dict[str, int]
    series: int
    products: int
    locations: int
    shipments: int
    expected_quarantined: tuple[str, ...] = ()
    expected_duplicates: tuple[str, ...] = ()
    expected_superseded: tuple[str, ...] = ()
    expected_rejects: tuple[str, ...] = ()  # files loaded with planted row rejects
    late_files: tuple[str, ...] = ()
    injected: dict[str, int] = field(default_factory=dict)
    files_per_format: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        files = ", ".join(f"{partner} {count}" for partner, count in self.files_per_partner.items())
        formats = ", ".join(f"{file_format} {count}" for file_format, count in sorted(self.files_per_format.items()))
        rows = ", ".join(f"{record_type} {count:,}" for record_type, count in self.rows_per_record_type.items())
        lines = [
            f"demo landing data in {self.out_dir}: {self.start_date} .. {self.end_date}",
            f"  {self.series} series ({self.locations} locations, {self.products} products), "
            f"{self.shipments:,} shipments",
            f"  files: {files} ({formats})",
            f"  rows: {rows}",
            f"  expected quarantined: {', '.join(self.expected_quarantined) or 'none'}",
            f"  expected duplicates: {', '.join(self.expected_duplicates) or 'none'}",
            f"  expected superseded: {', '.join(self.expected_superseded) or 'none'}",
            f"  expected row rejects in: {', '.join(self.expected_rejects) or 'none'}",
            f"  late deliveries: {', '.join(self.late_files) or 'none'}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Product:
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


@dataclass
class _PartnerData:
    """Simulated truth for one partner plus the canonical frames its files are written from."""

    config: PartnerConfig
    locations: pd.DataFrame
    items: pd.DataFrame
    agreements: pd.DataFrame
    shipments: pd.DataFrame
    stock: pd.DataFrame
    sales: pd.DataFrame
    forecasts: pd.DataFrame
    series: int


def generate_demo(
    out_dir: Path,
    partner_config_dir: Path,
    seed: int = 7,
    days: int = 730,
    end_date: date | None = None,
    scale: str = "full",
) -> DemoSummary:
    """Write a realistic landing folder for every configured partner plus ``_supplier`` master data.

    ``end_date`` (default: yesterday) is the last business day partners report; history starts ``days - 1``
    days earlier. ``scale="small"`` keeps 2 locations and 5 products per partner for fast tests. The
    ``_supplier`` folder and each partner's folder under ``out_dir`` are replaced, nothing else is touched.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if days < DAILY_FILE_DAYS + 7 * FORECAST_HORIZON_WEEKS:
        raise ValueError(f"days must be at least {DAILY_FILE_DAYS + 7 * FORECAST_HORIZON_WEEKS}, got {days}")
    out_dir = Path(out_dir)
    configs = load_partner_configs(Path(partner_config_dir))
    if not configs:
        raise ValueError(f"no partner configs found in {partner_config_dir}")
    end = end_date or date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    calendar = pd.date_range(start, periods=days + 7 * (FORECAST_HORIZON_WEEKS + 1), freq="D")

    products = _build_catalogue(seed, scale)
    partners = [
        _simulate_partner(config, products, calendar, days, seed, scale) for _, config in sorted(configs.items())
    ]

    for folder in [SUPPLIER_FOLDER, *(partner.config.partner_id for partner in partners)]:
        if (out_dir / folder).exists():
            shutil.rmtree(out_dir / folder)
    shipment_count = _write_supplier_files(out_dir / SUPPLIER_FOLDER, partners, products, end)

    files_per_partner: dict[str, int] = {}
    rows_per_record_type = {"stock": 0, "sales": 0, "forecast": 0}
    quarantined: list[str] = []
    duplicates: list[str] = []
    superseded: list[str] = []
    rejected: list[str] = []
    late: list[str] = []
    injected: dict[str, int] = {}
    files_per_format: dict[str, int] = {}
    for partner in partners:
        writer = _PartnerWriter(out_dir, partner, start, end, seed)
        writer.write_all()
        files_per_partner[partner.config.partner_id] = writer.files
        for record_type, rows in writer.rows.items():
            rows_per_record_type[record_type] += rows
        for file_format, count in writer.files_per_format.items():
            files_per_format[file_format] = files_per_format.get(file_format, 0) + count
        quarantined += writer.quarantined
        duplicates += writer.duplicates
        superseded += writer.superseded
        rejected += writer.rejected
        late += writer.late
        for name, count in writer.injected.items():
            injected[name] = injected.get(name, 0) + count

    return DemoSummary(
        out_dir=out_dir,
        start_date=start,
        end_date=end,
        files_per_partner=files_per_partner,
        rows_per_record_type=rows_per_record_type,
        series=sum(partner.series for partner in partners),
        products=len(products),
        locations=sum(len(partner.locations) for partner in partners),
        shipments=shipment_count,
        expected_quarantined=tuple(sorted(quarantined)),
        expected_duplicates=tuple(sorted(duplicates)),
        expected_superseded=tuple(sorted(superseded)),
        expected_rejects=tuple(sorted(rejected)),
        late_files=tuple(late),
        injected=injected,
        files_per_format=files_per_format,
    )


# --- identifiers --------------------------------------------------------------------------------------------


def _upc_for(product_id: str) -> str:
    body = "0" + UPC_COMPANY + f"{int(product_id[1:]):05d}"
    return body + gs1_check_digit(body)


def _partner_ref(product: _Product, config: PartnerConfig) -> tuple[str, str]:
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


def _build_catalogue(seed: int, scale: str) -> list[_Product]:
    rng = np.random.default_rng([seed, 0])
    products = []
    for item in CATALOGUE:
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
            _Product(
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
    if scale == "small":
        products = [product for product in products if product.product_id in SMALL_CATALOGUE]
    return products


# --- simulation ---------------------------------------------------------------------------------------------


def _rng(seed: int, config: PartnerConfig, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1, int(config.demo.get("seed_offset", 0)), stream])


def _simulate_partner(
    config: PartnerConfig,
    catalogue: list[_Product],
    calendar: pd.DatetimeIndex,
    days: int,
    seed: int,
    scale: str,
) -> _PartnerData:
    demo = config.demo
    setup_rng, demand_rng, promo_rng, ship_rng, forecast_rng = (_rng(seed, config, k) for k in range(5))

    stores = list(demo.get("stores") or [])
    location_count = SMALL_LOCATIONS if scale == "small" else int(demo.get("locations", 4))
    product_count = SMALL_PRODUCTS if scale == "small" else int(demo.get("products", 16))
    if len(stores) < location_count:
        raise ValueError(f"{config.source_path}: demo.stores lists {len(stores)} stores, need {location_count}")
    stores = stores[:location_count]
    carried = _choose_products(catalogue, product_count, setup_rng)

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
    refs = [_partner_ref(product, config) for product in carried]
    items = pd.DataFrame(
        {
            "partner_id": config.partner_id,
            "partner_item_ref": [ref for ref, _ in refs],
            "product_id": [product.product_id for product in carried],
            "ref_type": [ref_type for _, ref_type in refs],
        }
    )
    agreements, terms = _agreements(config, carried, setup_rng)

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
            listed_from[prod_index == index] = max(days - 120, days // 3)
    expected, promo = _expected_demand(config, carried, base_rate, prod_index, listed_from, calendar, promo_rng)
    dispersion = np.where(slow, 1.0, 4.0)[:, None]
    demand = demand_rng.negative_binomial(dispersion, dispersion / (dispersion + expected[:, :days]))

    sold, on_hand, received, shipments = _simulate_stock(
        demand, base_rate, listed_from, terms, prod_index, calendar[:days], ship_rng
    )
    returned = ((demand_rng.random(sold.shape) < 0.012) & (sold > 0)) * demand_rng.integers(1, 3, sold.shape)

    location_ids = locations["location_id"].to_numpy()[loc_index]
    product_refs = items["partner_item_ref"].to_numpy()[prod_index]
    product_ids = items["product_id"].to_numpy()[prod_index]
    price = np.array([product.list_price_usd for product in carried])[prod_index] * float(demo.get("price_factor", 1.0))

    grid_series, grid_day = np.nonzero(np.arange(days)[None, :] >= listed_from[:, None])
    grid_dates = calendar[:days].to_numpy()[grid_day]
    on_promo = promo[prod_index][grid_series, grid_day]
    net_units = sold[grid_series, grid_day] - returned[grid_series, grid_day]
    stock_frame = pd.DataFrame(
        {
            "location_id": location_ids[grid_series],
            "product_ref": product_refs[grid_series],
            "as_of_date": grid_dates,
            "on_hand_qty": on_hand[grid_series, grid_day],
        }
    )
    sales_frame = pd.DataFrame(
        {
            "location_id": location_ids[grid_series],
            "product_ref": product_refs[grid_series],
            "period_start": grid_dates,
            "units_sold": sold[grid_series, grid_day],
            "units_returned": returned[grid_series, grid_day],
            "net_sales_amount": np.round(net_units * price[grid_series] * np.where(on_promo, 0.8, 1.0), 2),
            "promo_flag": on_promo,
            # What the store's own books know besides sales: our goods arriving, and demand it lost to an empty shelf.
            "units_received": received[grid_series, grid_day],
            "units_out_of_stock": (demand - sold)[grid_series, grid_day],
        }
    )
    forecasts = _partner_forecasts(config, expected, listed_from, calendar, days, forecast_rng)
    forecast_series = forecasts.pop("series").to_numpy()
    forecasts.insert(0, "location_id", location_ids[forecast_series])
    forecasts.insert(1, "product_ref", product_refs[forecast_series])

    shipments.insert(0, "partner_id", config.partner_id)
    shipments["location_id"] = location_ids[shipments["series"].to_numpy()]
    shipments["product_id"] = product_ids[shipments["series"].to_numpy()]
    shipments = shipments.drop(columns="series")

    order = ["as_of_date", "location_id", "product_ref"]
    return _PartnerData(
        config=config,
        locations=locations,
        items=items,
        agreements=agreements,
        shipments=shipments,
        stock=stock_frame.sort_values(order, kind="stable").reset_index(drop=True),
        sales=sales_frame.sort_values(["period_start", "location_id", "product_ref"], kind="stable").reset_index(
            drop=True
        ),
        forecasts=forecasts,
        series=n_series,
    )


def _expected_demand(
    config: PartnerConfig,
    carried: list[_Product],
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


def _choose_products(catalogue: list[_Product], count: int, rng: np.random.Generator) -> list[_Product]:
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
class _Terms:
    """Replenishment terms per product of one partner, aligned with its carried products."""

    lead_time: np.ndarray
    lead_time_std: np.ndarray
    min_cover: np.ndarray
    max_cover: np.ndarray
    case_pack: np.ndarray
    moq: np.ndarray
    ship_days: list[frozenset[int]]


def _agreements(config: PartnerConfig, carried: list[_Product], rng: np.random.Generator):
    lead = int(rng.integers(2, 6))
    lead_std = round(float(rng.uniform(0.3, 1.2)), 1)
    ship_days = str(rng.choice(SHIP_DAY_OPTIONS))
    review = int(np.clip(round(7 / len(ship_days.split(","))), 1, 7))
    service = float(rng.choice(SERVICE_LEVELS))
    min_cover = float(lead + review + int(rng.integers(1, 4)))
    max_cover = min_cover + float(rng.integers(7, 15))
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
        }
        rows.append(override)
        per_product[index] = override

    def term(index: int, key: str, fallback: float) -> float:
        value = per_product.get(index, default)[key]
        return fallback if value is None else value

    weekday_numbers = {name: number for number, name in enumerate(WEEKDAYS)}
    terms = _Terms(
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


def _promotions(carried: list[_Product], horizon: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chain-wide promotion windows per product: (demand multiplier, on-promotion flag), product x day."""
    uplift = np.ones((len(carried), horizon))
    flag = np.zeros((len(carried), horizon), dtype=bool)
    for index, product in enumerate(carried):
        day = int(rng.integers(7, 70))
        while day < horizon:
            length = int(rng.choice([7, 14]))
            factor = float(rng.uniform(1.5, 3.0))
            gap = int(rng.integers(42, 110))
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


def _simulate_stock(
    demand: np.ndarray,
    base_rate: np.ndarray,
    listed_from: np.ndarray,
    terms: _Terms,
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


def _partner_forecasts(
    config: PartnerConfig,
    expected: np.ndarray,
    listed_from: np.ndarray,
    calendar: pd.DatetimeIndex,
    days: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Weekly forecasts issued on Mondays for the next weeks: true expected demand, biased and noisy."""
    bias = float(config.demo.get("forecast_bias", 0.0))
    noise = float(config.demo.get("forecast_noise", 0.2))
    mondays = np.flatnonzero(calendar[:days].dayofweek.to_numpy() == 0)
    weeks = np.arange(FORECAST_HORIZON_WEEKS)
    cumulative = np.concatenate([np.zeros((expected.shape[0], 1)), np.cumsum(expected, axis=1)], axis=1)
    day_values = calendar.to_numpy()
    frames = []
    for issue in mondays:
        series = np.flatnonzero(listed_from <= issue)
        starts = issue + 7 * weeks
        totals = cumulative[series][:, starts + 7] - cumulative[series][:, starts]
        spread = noise * (1.0 + 0.08 * weeks)
        factor = (1.0 + bias) * rng.lognormal(-(spread**2) / 2, spread, totals.shape)
        grid_start = np.tile(starts, len(series))
        frames.append(
            pd.DataFrame(
                {
                    "series": np.repeat(series, len(weeks)),
                    "forecast_date": day_values[issue],
                    "target_period_start": day_values[grid_start],
                    "target_period_end": day_values[grid_start + 6],
                    "forecast_qty": np.round(totals * factor, 1).reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- writing files ------------------------------------------------------------------------------------------


# Our warehouse normally holds six weeks of what partners draw; the two most-drawn products are short, as fast
# movers are when a production run slips, so the plan must share them out.
SUPPLIER_COVER_WEEKS = 6.0
SHORT_PRODUCTS = 2
SHORT_COVER_WEEKS = 0.02


def _supplier_stock(shipments: pd.DataFrame, products: list[_Product], end: date) -> pd.DataFrame:
    """Units we hold per product on the last business date, from what partners drew in the last four weeks."""
    recent = shipments[pd.to_datetime(shipments["ship_date"]) > pd.Timestamp(end) - pd.Timedelta(days=28)]
    weekly = recent["qty"].astype(float).groupby(recent["product_id"]).sum() / 4.0
    weekly = weekly.reindex([p.product_id for p in products], fill_value=0.0)
    short = set(weekly.sort_values(ascending=False, kind="stable").index[:SHORT_PRODUCTS])
    cover = [SHORT_COVER_WEEKS if product in short else SUPPLIER_COVER_WEEKS for product in weekly.index]
    return pd.DataFrame(
        {
            "product_id": weekly.index,
            "as_of_date": end.isoformat(),
            "available_qty": [str(int(round(units * weeks))) for units, weeks in zip(weekly, cover, strict=True)],
        }
    )


def _write_supplier_files(folder: Path, partners: list[_PartnerData], products: list[_Product], end: date) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    partners_frame = pd.DataFrame(
        {
            "partner_id": [p.config.partner_id for p in partners],
            "partner_name": [p.config.name for p in partners],
            "country": [p.config.country for p in partners],
            "timezone": [p.config.timezone for p in partners],
            "currency": [p.config.currency for p in partners],
            "feed_cutoff_local": [p.config.feed_cutoff for p in partners],
        }
    )
    products_frame = pd.DataFrame(
        {
            "product_id": [p.product_id for p in products],
            "gtin": [p.gtin for p in products],
            "description": [p.description for p in products],
            "category": [p.category for p in products],
            "case_pack": [p.case_pack for p in products],
            "moq": [p.moq for p in products],
            "pallet_qty": [p.pallet_qty for p in products],
            "unit_cost": [f"{p.unit_cost:.2f}" for p in products],
            "lifecycle": [p.lifecycle for p in products],
        }
    )
    agreements = pd.concat([p.agreements for p in partners], ignore_index=True)
    for column in ("moq", "case_pack", "review_period_days"):
        agreements[column] = agreements[column].map(lambda value: "" if pd.isna(value) else str(int(value)))
    for column in (
        "lead_time_days",
        "lead_time_std_days",
        "min_cover_days",
        "max_cover_days",
        "service_level",
    ):
        agreements[column] = agreements[column].map(lambda value: f"{value:g}")
    shipments = pd.concat([p.shipments for p in partners], ignore_index=True)
    shipments = shipments.sort_values(
        ["ship_date", "partner_id", "location_id", "product_id"], kind="stable"
    ).reset_index(drop=True)
    shipments.insert(0, "shipment_id", [f"SHP-{index + 1:07d}" for index in range(len(shipments))])
    shipments["ship_date"] = shipments["ship_date"].dt.strftime("%Y-%m-%d")
    shipments["expected_receipt_date"] = shipments["expected_receipt_date"].dt.strftime("%Y-%m-%d")
    shipments["qty"] = shipments["qty"].astype(int).astype(str)

    frames = {
        "supplier_stock.csv": _supplier_stock(shipments, products, end),
        "partners.csv": partners_frame,
        "partner_locations.csv": pd.concat([p.locations for p in partners], ignore_index=True),
        "products.csv": products_frame,
        "partner_items.csv": pd.concat([_cross_references(p, products) for p in partners], ignore_index=True),
        "replenishment_agreements.csv": agreements,
        "shipments.csv": shipments,
    }
    delivered = datetime.combine(end + timedelta(days=1), time(0, 30), tzinfo=UTC).timestamp()
    for name, frame in frames.items():
        buffer = io.StringIO()
        frame[list(_table_columns(MASTER_DATA_FILES[name]))].to_csv(buffer, index=False, lineterminator="\n")
        _write_file(folder / name, buffer.getvalue().encode("utf-8"), delivered)
    return len(shipments)


def _cross_references(partner: _PartnerData, products: list[_Product]) -> pd.DataFrame:
    """The partner's item refs, plus each product's GTIN-14 where its EDI files are loaded as normalised GTINs."""
    config = partner.config
    normalises = any(spec.format in SEGMENT_FORMATS and spec.gtin_mode == "normalise" for spec in config.files)
    if not normalises or config.demo.get("item_ref", "upc") == "sku":
        return partner.items
    gtins = {product.product_id: product.gtin for product in products}
    extra = partner.items.assign(
        partner_item_ref=[gtins[product_id] for product_id in partner.items["product_id"]], ref_type="gtin"
    )
    return pd.concat([partner.items, extra], ignore_index=True)


def _table_columns(table: str) -> tuple[str, ...]:
    """Column names of a raw table in DDL order: master data files carry exactly these headers."""
    return tuple(definition.split()[0] for definition in RAW_TABLE_DDL[table].split(","))


def _write_file(path: Path, content: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))


class _PartnerWriter:
    """Writes one partner's deliveries in its own formats, with the imperfections its config asks for.

    Every partner sends an onboarding backfill (CSV) and then one file per business day and record type for the
    last ``DAILY_FILE_DAYS`` days. Where its ``demo:`` config says so, part of that comes in other formats:
    ``x12_weeks`` whole weeks before the daily window as weekly X12 852s (sales, returns, receipts of our
    shipments and lost sales of the week per store via SDQ, plus the week-end stock), with a daily X12 846 for stock
    from the first of those weeks on; the last ``edifact_days`` days as EDIFACT INVRPT and SLSRPT; the first
    ``tabular_days`` days of the window as an Excel stock workbook and a JSON sales export. Each series, day and
    measure is reported by one file only (a weekly 852 replaces the daily sales files of its week), so nothing is
    counted twice.
    """

    # Which day of the daily window carries which imperfection (days before the end date).
    UNDECODABLE_DAY = 5
    DUPLICATE_DAY = 6
    LATE_DAY = 4
    UNKNOWN_LOCATION_DAY = 3
    NEGATIVE_STOCK_DAYS = (12, 9, 6)
    UNKNOWN_ITEM_DAYS = (11, 8, 4, 2)
    TRUNCATED_DAY = 9
    REUSED_CONTROL_DAY = 11
    BAD_CHECK_DIGIT_DAY = 5
    EMPTY_FILE_DAY = 2
    CORRECTED_DAY = 3
    WRONG_COUNT_WEEK = 1  # which weekly 852 (0 = the first) is sent with a wrong SE01 first
    EDI_WEEK_DELIVERY = ("00:20", "00:45")  # weekly 852 and its corrected resend, before the daily 846s arrive

    def __init__(self, out_dir: Path, partner: _PartnerData, start: date, end: date, seed: int) -> None:
        self.partner = partner
        self.config = partner.config
        self.folder = out_dir / self.config.partner_id
        self.start = start
        self.end = end
        self.rng = _rng(seed, self.config, 99)
        self.imperfections = set(self.config.demo.get("imperfections") or [])
        unknown = self.imperfections - set(IMPERFECTIONS)
        if unknown:
            raise ValueError(
                f"{self.config.source_path}: demo.imperfections: unknown {sorted(unknown)} "
                f"(expected any of {', '.join(IMPERFECTIONS)})"
            )
        self.files = 0
        self.files_per_format: dict[str, int] = {}
        self.rows = {"stock": 0, "sales": 0, "forecast": 0}
        self.quarantined: list[str] = []
        self.duplicates: list[str] = []
        self.superseded: list[str] = []
        self.rejected: list[str] = []
        self.late: list[str] = []
        self.injected: dict[str, int] = {}
        self.control_number = 100  # interchange control numbers, one per EDI file, as the partner's translator counts
        window = self.config.demo.get("delivery_window") or ["01:00", "05:00"]
        self.window_minutes = tuple(_minutes(text) for text in window)
        demo = self.config.demo
        self.x12_weeks = int(demo.get("x12_weeks", 0))
        self.edifact_days = int(demo.get("edifact_days", 0))
        self.tabular_days = int(demo.get("tabular_days", 0))
        self.names = dict(zip(partner.locations["location_id"], partner.locations["location_name"], strict=True))

    def write_all(self) -> None:
        first_daily = self.end - timedelta(days=DAILY_FILE_DAYS - 1)
        edi_start = first_daily - timedelta(days=7 * self.x12_weeks)
        history_end = edi_start - timedelta(days=1)
        history_token = f"{self.start:%Y%m%d}_{history_end:%Y%m%d}"
        history_delivery = self._delivery_time(history_end)
        stock, sales = self.partner.stock, self.partner.sales

        in_history = stock["as_of_date"] <= pd.Timestamp(history_end)
        self._write("stock", history_token, stock[in_history], history_delivery)
        in_history = sales["period_start"] <= pd.Timestamp(history_end)
        self._write("sales", history_token, sales[in_history], history_delivery)

        for week in range(self.x12_weeks):
            week_start = edi_start + timedelta(days=7 * week)
            self._weekly_852(week, week_start, week_start + timedelta(days=6))

        business_day = edi_start
        while business_day <= self.end:
            offset = (self.end - business_day).days
            delivered = self._delivery_time(business_day)
            stock_rows = stock[stock["as_of_date"] == pd.Timestamp(business_day)].copy()
            self._daily_stock(business_day, offset, self._damage_stock(stock_rows, offset), delivered)
            if business_day >= first_daily:
                sales_rows = sales[sales["period_start"] == pd.Timestamp(business_day)].copy()
                self._daily_sales(business_day, offset, self._damage_sales(sales_rows, offset), delivered)
            business_day += timedelta(days=1)

        forecasts = self.partner.forecasts
        issue_dates = sorted(forecasts["forecast_date"].unique())
        weekly = issue_dates[-FORECAST_FILE_WEEKS:]
        earlier = issue_dates[: len(issue_dates) - len(weekly)]
        if earlier:
            first, last = pd.Timestamp(earlier[0]).date(), pd.Timestamp(earlier[-1]).date()
            rows = forecasts[forecasts["forecast_date"] <= pd.Timestamp(last)]
            self._write("forecast", f"{first:%Y%m%d}_{last:%Y%m%d}", rows, self._issue_time(last))
        for issue in weekly:
            issue_day = pd.Timestamp(issue).date()
            rows = forecasts[forecasts["forecast_date"] == pd.Timestamp(issue_day)]
            self._write("forecast", f"{issue_day:%Y%m%d}", rows, self._issue_time(issue_day))

    # --- deliveries by format ---

    def _daily_stock(self, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        if "late_file" in self.imperfections and offset == self.LATE_DAY:
            delivered = self._late_time(business_day)
            self.late.append(self._relative(_file_name(self._spec_for("stock", offset), token)))
        spec = self._spec_for("stock", offset)
        if spec.format == "x12":
            self._daily_846(spec, business_day, offset, rows, delivered)
        elif spec.format == "edifact":
            content = self._invrpt(rows, business_day, delivered, self._next_control())
            if "empty_file" in self.imperfections and offset == self.EMPTY_FILE_DAY:
                self.quarantined.append(self._relative(self._emit(spec, token, b"", delivered, "stock", 0)))
                content = self._invrpt(rows, business_day, delivered + 2 * 3600, self._next_control())
                self._emit(spec, f"{token}_2", content, delivered + 2 * 3600, "stock", len(rows))
            else:
                self._emit(spec, token, content, delivered, "stock", len(rows))
        elif spec.format == "xlsx":
            content = _render_xlsx(rows, spec, self.config, self.partner.items, business_day)
            self._emit(spec, token, content, delivered, "stock", len(rows))
        else:
            self._write("stock", token, rows, delivered)

    def _daily_sales(self, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        spec = self._spec_for("sales", offset)
        if spec.format == "edifact":
            self._daily_slsrpt(spec, business_day, offset, rows, delivered)
        elif spec.format == "json":
            content = _render_json(rows, spec, self.config, self.partner.items, delivered)
            self._emit(spec, token, content, delivered, "sales", len(rows))
        else:
            encoding = None
            if "undecodable_file" in self.imperfections and offset == self.UNDECODABLE_DAY:
                encoding = "utf-16"
            path = self._write("sales", token, rows, delivered, encoding=encoding)
            if encoding is not None:
                self.quarantined.append(self._relative(path))
            if "duplicate_file" in self.imperfections and offset == self.DUPLICATE_DAY:
                copy = path.with_name(path.stem + "_resend" + path.suffix)
                _write_file(copy, path.read_bytes(), delivered + 3 * 3600)
                self._count_file(spec, "sales", len(rows))
                self.duplicates.append(self._relative(copy))

    def _weekly_852(self, week: int, week_start: date, week_end: date) -> None:
        """One week's activity per store and item, spread by SDQ, and the week-end stock (ZA*QA).

        ZA*QS sold and ZA*QU returned; ZA*QR the units of our shipments that arrived that week (the simulated
        arrivals, so late and early deliveries show in the week they really came) and ZA*QO the demand the store
        lost to an empty shelf, each only for the stores it concerns.
        """
        spec = self._spec("sales", "x12", "852")
        sales = self.partner.sales
        in_week = sales[
            (sales["period_start"] >= pd.Timestamp(week_start)) & (sales["period_start"] <= pd.Timestamp(week_end))
        ]
        measures = ["units_sold", "units_returned", "units_received", "units_out_of_stock"]
        totals = in_week.groupby(["product_ref", "location_id"], sort=False)[measures].sum()
        stock = self.partner.stock
        closing = stock[stock["as_of_date"] == pd.Timestamp(week_end)].set_index(["product_ref", "location_id"])
        extra_store = None
        if "unknown_store" in self.imperfections and week == self.x12_weeks - 1:
            extra_store = str((self.config.demo.get("unknown_location") or {"id": "9999"})["id"])
        token = f"{week_start:%Y%m%d}_{week_end:%Y%m%d}"
        delivered = self._local_timestamp(week_end + timedelta(days=1), _minutes(self.EDI_WEEK_DELIVERY[0]))
        content, extra_rows = self._x12_852(totals, closing, week_start, week_end, delivered, extra_store)
        if extra_rows:
            self._count("unknown_store_rows", extra_rows)
        if "wrong_segment_count" in self.imperfections and week == self.WRONG_COUNT_WEEK:
            broken = _wrong_first_se_count(content)
            self.quarantined.append(self._relative(self._emit(spec, token, broken, delivered, "sales", len(totals))))
            self.rows["stock"] += len(closing)
            delivered = self._local_timestamp(week_end + timedelta(days=1), _minutes(self.EDI_WEEK_DELIVERY[1]))
            content, _ = self._x12_852(totals, closing, week_start, week_end, delivered, extra_store)
            token += "_2"
        self._emit(spec, token, content, delivered, "sales", len(totals))
        self.rows["stock"] += len(closing)

    def _daily_846(self, spec: FileSpec, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        control = self._next_control()
        content = self._x12_846(rows, business_day, delivered, control)
        if "truncated_interchange" in self.imperfections and offset == self.TRUNCATED_DAY:
            # The partner's transfer broke off; a complete copy (new control number) follows three hours later.
            cut = content[: int(len(content) * 0.6)]
            self.quarantined.append(self._relative(self._emit(spec, token, cut, delivered, "stock", len(rows))))
            resent = delivered + 3 * 3600
            content = self._x12_846(rows, business_day, resent, self._next_control())
            self._emit(spec, f"{token}_2", content, resent, "stock", len(rows))
            return
        self._emit(spec, token, content, delivered, "stock", len(rows))
        if "control_number_reuse" in self.imperfections and offset == self.REUSED_CONTROL_DAY:
            # The translator retransmits the interchange with a fresh timestamp but the same control number.
            retransmitted = delivered + 6 * 3600
            content = self._x12_846(rows, business_day, retransmitted, control)
            path = self._emit(spec, f"{token}_2", content, retransmitted, "stock", len(rows))
            self.quarantined.append(self._relative(path))

    def _daily_slsrpt(
        self, spec: FileSpec, business_day: date, offset: int, rows: pd.DataFrame, delivered: float
    ) -> None:
        token = f"{business_day:%Y%m%d}"
        if "bad_check_digit" in self.imperfections and offset == self.BAD_CHECK_DIGIT_DAY and len(rows):
            # A keying slip in one item number; chosen on a line without sales so the truth loses nothing.
            quiet = rows.index[(rows["units_sold"] == 0) & (rows["units_returned"] == 0)]
            victim = quiet[0] if len(quiet) else rows.index[0]
            rows = rows.copy()
            rows["product_ref"] = rows["product_ref"].astype(object)
            ref = str(rows.loc[victim, "product_ref"])
            rows.loc[victim, "product_ref"] = ref[:-1] + str((int(ref[-1]) + 1) % 10)
            self._count("bad_check_digit_rows")
            path = self._emit(
                spec,
                token,
                self._slsrpt(rows, business_day, delivered, self._next_control()),
                delivered,
                "sales",
                len(rows),
            )
            self.rejected.append(self._relative(path))
            return
        if "corrected_resend" in self.imperfections and offset == self.CORRECTED_DAY and len(rows):
            # The first report miscounts one line; the partner resends the whole day corrected that afternoon.
            wrong = rows.copy()
            victim = wrong.index[int(self.rng.integers(0, len(wrong)))]
            wrong.loc[victim, "units_sold"] = wrong.loc[victim, "units_sold"] + 2
            path = self._emit(
                spec,
                token,
                self._slsrpt(wrong, business_day, delivered, self._next_control()),
                delivered,
                "sales",
                len(rows),
            )
            self.superseded.append(self._relative(path))
            delivered += 8 * 3600
            token += "_2"
        self._emit(
            spec,
            token,
            self._slsrpt(rows, business_day, delivered, self._next_control()),
            delivered,
            "sales",
            len(rows),
        )

    # --- X12 and EDIFACT documents ---

    def _item_qualifier(self) -> str:
        ref_type = self.partner.items["ref_type"].iloc[0]
        return {"upc": "UP", "ean": "EN"}.get(ref_type, "VN")

    def _x12_envelope(self, functional_id: str, sets: list[list[str]], delivered: float, control: int) -> str:
        when = datetime.fromtimestamp(delivered, ZoneInfo(self.config.timezone))
        sender = self._sender()
        segments = [
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{SUPPLIER_EDI_ID:<15}*{when:%y%m%d}*{when:%H%M}*U*00401*"
            f"{control:09d}*0*P*>",
            f"GS*{functional_id}*{sender}*{SUPPLIER_EDI_ID}*{when:%Y%m%d}*{when:%H%M}*{control}*X*004010",
        ]
        for transaction in sets:
            segments += transaction
        segments += [f"GE*{len(sets)}*{control}", f"IEA*1*{control:09d}"]
        return "".join(segment + "~\n" for segment in segments)

    def _sender(self) -> str:
        return str(self.config.demo.get("edi_sender", self.config.partner_id.upper()))[:15]

    def _x12_852(
        self,
        totals: pd.DataFrame,
        closing: pd.DataFrame,
        week_start: date,
        week_end: date,
        delivered: float,
        extra_store: str | None,
    ) -> tuple[bytes, int]:
        """852 with the items split over two transaction sets, as large reports are."""
        qualifier = self._item_qualifier()
        products = list(dict.fromkeys(totals.index.get_level_values(0)))
        halves = [products[: (len(products) + 1) // 2], products[(len(products) + 1) // 2 :]]
        extra_rows = 0
        sets = []
        for number, half in enumerate(halves, start=1):
            if not half:
                continue
            body = [
                f"XQ*H*{week_start:%Y%m%d}*{week_end:%Y%m%d}",
                f"N1*BY*{self.config.name.upper()}*92*{self._sender()}",
            ]
            for product_ref in half:
                sold = totals.loc[product_ref]
                body.append(f"LIN**{qualifier}*{product_ref}")
                pairs = [(store, int(value)) for store, value in sold["units_sold"].items()]
                if extra_store is not None:
                    pairs.append((extra_store, int(self.rng.integers(1, 6))))
                    extra_rows += 1
                body += ["ZA*QS", *_sdq(pairs)]
                for code, measure in (("QU", "units_returned"), ("QR", "units_received"), ("QO", "units_out_of_stock")):
                    reported = [(store, int(value)) for store, value in sold[measure].items() if value > 0]
                    if reported:
                        body += [f"ZA*{code}", *_sdq(reported)]
                if product_ref in closing.index.get_level_values(0):
                    on_hand = closing.loc[product_ref, "on_hand_qty"]
                    body += ["ZA*QA", *_sdq([(store, int(value)) for store, value in on_hand.items()])]
            body.append(f"CTT*{len(half)}")
            sets.append(_x12_set("852", number, body))
        return self._x12_envelope("PD", sets, delivered, self._next_control()).encode("ascii"), extra_rows

    def _x12_846(self, rows: pd.DataFrame, business_day: date, delivered: float, control: int) -> bytes:
        """846 with one transaction set per store: BIA date, N1 store, then LIN + QTY*33 per item."""
        qualifier = self._item_qualifier()
        sets = []
        for number, (store, store_rows) in enumerate(rows.groupby("location_id", sort=False), start=1):
            body = [
                f"BIA*00*SI*INV{business_day:%Y%m%d}{number:02d}*{business_day:%Y%m%d}",
                f"N1*ST*{self.names.get(store, store)}*92*{store}",
            ]
            for product_ref, on_hand in zip(store_rows["product_ref"], store_rows["on_hand_qty"], strict=True):
                body += [f"LIN**{qualifier}*{product_ref}", f"QTY*33*{int(on_hand)}*EA"]
            body.append(f"CTT*{len(store_rows)}")
            sets.append(_x12_set("846", number, body))
        return self._x12_envelope("IB", sets, delivered, control).encode("ascii")

    def _edifact(self, message: str, version: str, body: list[str], delivered: float, control: int) -> bytes:
        when = datetime.fromtimestamp(delivered, ZoneInfo(self.config.timezone))
        reference = f"{self.config.partner_id[:2].upper()}{control:08d}"
        sender = _gln(str(self.config.demo.get("gln_prefix", "000000000")), 0)
        segments = [
            f"UNB+UNOC:3+{sender}:14+{SUPPLIER_GLN}:14+{when:%y%m%d}:{when:%H%M}+{reference}++{message}",
            f"UNH+1+{message}:{version}:UN:EAN008",
            *body,
        ]
        segments.append(f"UNT+{len(segments)}+1")
        segments.append(f"UNZ+1+{reference}")
        line_ending = self.config.demo.get("line_ending", "\n")
        return ("UNA:+.? '" + line_ending + "".join(f"{segment}'{line_ending}" for segment in segments)).encode(
            "latin-1"
        )

    def _edifact_heading(self, document: str, business_day: date, delivered: float) -> list[str]:
        when = datetime.fromtimestamp(delivered, ZoneInfo(self.config.timezone))
        name = _edifact_text(str(self.config.demo.get("edi_name", self.config.name)))
        gln = _gln(str(self.config.demo.get("gln_prefix", "000000000")), 0)
        return [
            f"BGM+{document}+{business_day:%Y%m%d}+9",
            f"DTM+137:{when:%Y%m%d}:102",
            f"NAD+BY+{gln}::9++{name}",
            f"NAD+SU+{SUPPLIER_GLN}::9",
        ]

    def _invrpt(self, rows: pd.DataFrame, business_day: date, delivered: float, control: int) -> bytes:
        body = self._edifact_heading("35", business_day, delivered)
        body[2:2] = [f"DTM+90:{business_day:%Y%m%d}:102", f"DTM+91:{business_day:%Y%m%d}:102"]
        line = 0
        for store, store_rows in rows.groupby("location_id", sort=False):
            body.append(f"LOC+162+{_edifact_text(store)}::92")
            for product_ref, on_hand in zip(store_rows["product_ref"], store_rows["on_hand_qty"], strict=True):
                line += 1
                body += [f"LIN+{line}++{product_ref}:{self._item_qualifier()}", f"QTY+145:{int(on_hand)}:PCE"]
        body.append(f"CNT+2:{line}")
        return self._edifact("INVRPT", "D:96A", body, delivered, control)

    def _slsrpt(self, rows: pd.DataFrame, business_day: date, delivered: float, control: int) -> bytes:
        body = self._edifact_heading("73E::9", business_day, delivered)
        body[2:2] = [f"DTM+356:{business_day:%Y%m%d}:102", f"DTM+357:{business_day:%Y%m%d}:102"]
        line = 0
        for store, store_rows in rows.groupby("location_id", sort=False):
            body.append(f"LOC+162+{_edifact_text(store)}::92")
            for product_ref, sold, returned in zip(
                store_rows["product_ref"], store_rows["units_sold"], store_rows["units_returned"], strict=True
            ):
                line += 1
                body += [f"LIN+{line}++{product_ref}:{self._item_qualifier()}", f"QTY+153:{int(sold)}"]
                if returned > 0:
                    body.append(f"QTY+61:{int(returned)}")
        body.append(f"CNT+2:{line}")
        return self._edifact("SLSRPT", "D:01B", body, delivered, control)

    def _next_control(self) -> int:
        self.control_number += 1
        return self.control_number

    # --- imperfections ---
    def _damage_stock(self, rows: pd.DataFrame, offset: int) -> pd.DataFrame:
        if "negative_on_hand" in self.imperfections and offset in self.NEGATIVE_STOCK_DAYS and len(rows):
            victim = rows.index[int(self.rng.integers(0, len(rows)))]
            rows.loc[victim, "on_hand_qty"] = -float(self.rng.integers(1, 5))
            self._count("negative_on_hand")
        if "unknown_location" in self.imperfections and offset == self.UNKNOWN_LOCATION_DAY and len(rows):
            store = self.config.demo.get("unknown_location") or {"id": "X999"}
            first_location = rows["location_id"].iloc[0]
            extra = rows[rows["location_id"] == first_location].copy()
            extra["location_id"] = str(store["id"])
            extra["on_hand_qty"] = self.rng.integers(0, 40, len(extra)).astype(float)
            rows = pd.concat([rows, extra], ignore_index=True)
            self._count("unknown_location_rows", len(extra))
        return rows

    def _damage_sales(self, rows: pd.DataFrame, offset: int) -> pd.DataFrame:
        if "unknown_items" in self.imperfections and offset in self.UNKNOWN_ITEM_DAYS and len(rows):
            template = rows.iloc[[int(self.rng.integers(0, len(rows)))]].copy()
            ref_type = self.partner.items["ref_type"].iloc[0]
            number = 990001 + self.UNKNOWN_ITEM_DAYS.index(offset) % 3
            if ref_type == "sku":
                template["product_ref"] = f"{self.config.demo.get('sku_prefix', 'SKU-')}{number:06d}"
            else:
                body = f"0{UPC_COMPANY}{number % 100000:05d}"
                template["product_ref"] = ("0" if ref_type == "ean" else "") + body + gs1_check_digit(body)
            template["units_sold"] = float(self.rng.integers(1, 6))
            template["units_returned"] = 0.0
            template["promo_flag"] = False
            rows = pd.concat([rows, template], ignore_index=True)
            self._count("unknown_item_rows")
        return rows

    def _count(self, name: str, count: int = 1) -> None:
        self.injected[name] = self.injected.get(name, 0) + count

    # --- timing ---

    def _local_timestamp(self, day: date, minutes: int) -> float:
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=ZoneInfo(self.config.timezone))
        return local.timestamp()

    def _delivery_time(self, business_day: date) -> float:
        """A business day's file arrives the next morning, inside the partner's usual delivery window."""
        minutes = int(self.rng.integers(self.window_minutes[0], self.window_minutes[1] + 1))
        return self._local_timestamp(business_day + timedelta(days=1), minutes)

    def _late_time(self, business_day: date) -> float:
        cutoff = self.config.cutoff_time
        minutes = cutoff.hour * 60 + cutoff.minute + int(self.rng.integers(150, 420))
        return self._local_timestamp(business_day + timedelta(days=1), min(minutes, 23 * 60 + 59))

    def _issue_time(self, issue_day: date) -> float:
        minutes = int(self.rng.integers(self.window_minutes[0], self.window_minutes[1] + 1))
        return self._local_timestamp(issue_day, minutes)

    # --- files ---

    def _relative(self, path: Path | str) -> str:
        return f"{self.config.partner_id}/{Path(path).name}"

    def _spec(self, record_type: str, file_format: str, message: str | None = None) -> FileSpec:
        for spec in self.config.files:
            if spec.record_type == record_type and spec.format == file_format and message in (None, spec.message):
                return spec
        wanted = f"{file_format} {message or record_type}"
        raise ValueError(f"{self.config.source_path}: the demo needs a {wanted} file spec for its demo settings")

    def _spec_for(self, record_type: str, offset: int) -> FileSpec:
        """Which of the partner's file specs carries this record type on the day ``offset`` days before the end."""
        if record_type == "stock" and self.x12_weeks:
            return self._spec("stock", "x12", "846")
        if offset < self.edifact_days:
            return self._spec(record_type, "edifact", "INVRPT" if record_type == "stock" else "SLSRPT")
        if offset >= DAILY_FILE_DAYS - self.tabular_days:
            return self._spec(record_type, "xlsx" if record_type == "stock" else "json")
        return self._spec(record_type, "csv")

    def _emit(self, spec: FileSpec, token: str, content: bytes, mtime: float, record_type: str, rows: int) -> Path:
        name = _file_name(spec, token)
        if self.config.spec_for(name) is not spec:
            raise ValueError(f"{self.config.source_path}: demo file name {name} is not read by the spec {spec.pattern}")
        path = self.folder / name
        _write_file(path, content, mtime)
        self._count_file(spec, record_type, rows)
        return path

    def _count_file(self, spec: FileSpec, record_type: str, rows: int) -> None:
        self.files += 1
        self.files_per_format[spec.format] = self.files_per_format.get(spec.format, 0) + 1
        self.rows[record_type] += rows

    def _write(
        self, record_type: str, token: str, rows: pd.DataFrame, mtime: float, encoding: str | None = None
    ) -> Path:
        spec = self._spec(record_type, "csv")
        text = _render(rows, spec, self.config, self.partner.items)
        return self._emit(spec, token, text.encode(encoding or spec.encoding), mtime, record_type, len(rows))


def _file_name(spec: FileSpec, token: str) -> str:
    if spec.pattern.count("*") != 1 or any(char in spec.pattern for char in "?[]/"):
        raise ValueError(f"demo files need a pattern with exactly one '*' and no other wildcard: {spec.pattern}")
    return spec.pattern.replace("*", token)


def _format_decimal(values: np.ndarray, places: int, spec: FileSpec) -> list[str]:
    texts = [f"{value:,.{places}f}" for value in values]
    thousands = spec.thousands or ""
    if thousands == "," and spec.decimal == ".":
        return texts
    return [text.replace(",", "\0").replace(".", spec.decimal).replace("\0", thousands) for text in texts]


def _render(rows: pd.DataFrame, spec: FileSpec, config: PartnerConfig, items: pd.DataFrame) -> str:
    """Canonical rows as the partner writes them: its headers, column order, dates, numbers and flags."""
    columns: dict[str, list[str] | pd.Series] = {}
    extra_columns = dict(config.demo.get("extra_columns") or {})
    descriptions = _descriptions(config, items)
    for canonical, header in spec.columns.items():
        values = rows[canonical]
        if canonical in DATE_COLUMNS:
            columns[header] = pd.to_datetime(values).dt.strftime(spec.date_format)
        elif canonical == "net_sales_amount":
            columns[header] = _format_decimal(values.to_numpy(dtype=float), 2, spec)
        elif canonical == "forecast_qty":
            columns[header] = _format_decimal(values.to_numpy(dtype=float), 1, spec)
        elif canonical in QUANTITY_COLUMNS:
            columns[header] = values.to_numpy(dtype=float).astype(np.int64).astype(str)
        elif canonical == "promo_flag":
            columns[header] = np.where(values.to_numpy(dtype=bool), spec.true_values[0], spec.false_values[0])
        else:
            columns[header] = values.astype(str).to_numpy()
        if canonical == "product_ref":
            for extra_header, attribute in extra_columns.items():
                lookup = descriptions.get(attribute, {})
                columns[extra_header] = [lookup.get(ref, "") for ref in rows["product_ref"]]
    frame = pd.DataFrame(columns)
    buffer = io.StringIO()
    line_ending = config.demo.get("line_ending", "\n")
    frame.to_csv(buffer, sep=spec.delimiter, index=False, lineterminator=line_ending)
    return buffer.getvalue()


_DESCRIPTION_ATTRIBUTES = {item.product_id: item for item in CATALOGUE}


def _descriptions(config: PartnerConfig, items: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Partner item ref -> catalogue text, for extra columns partners add to their files."""
    result: dict[str, dict[str, str]] = {"description": {}, "description_zh": {}}
    for ref, product_id in zip(items["partner_item_ref"], items["product_id"], strict=True):
        item = _DESCRIPTION_ATTRIBUTES[product_id]
        result["description"][ref] = item.description
        result["description_zh"][ref] = item.description_zh
    return result


# --- EDI, Excel and JSON documents ---------------------------------------------------------------------------


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _gln(prefix: str, number: int) -> str:
    body = f"{prefix}{number:03d}"
    return body + gs1_check_digit(body)


def _sdq(pairs: list[tuple[str, int]]) -> list[str]:
    """SDQ segments (unit EA, stores assigned by the buyer: qualifier 92), at most ten store/quantity pairs each."""
    segments = []
    for start in range(0, len(pairs), 10):
        chunk = pairs[start : start + 10]
        segments.append("SDQ*EA*92*" + "*".join(f"{store}*{quantity}" for store, quantity in chunk))
    return segments


def _x12_set(kind: str, number: int, body: list[str]) -> list[str]:
    control = f"{number:04d}"
    segments = [f"ST*{kind}*{control}", *body]
    return [*segments, f"SE*{len(segments) + 1}*{control}"]


def _wrong_first_se_count(content: bytes) -> bytes:
    """The interchange with its first SE01 one higher than the segments really sent (a translator bug)."""
    text = content.decode("ascii")
    start = text.index("\nSE*") + 1
    end = text.index("*", start + 3)
    return (text[: start + 3] + str(int(text[start + 3 : end]) + 1) + text[end:]).encode("ascii")


def _edifact_text(text: str) -> str:
    """Free text with EDIFACT's service characters released (``?`` first, so releases are not doubled)."""
    for char in "?:+'":
        text = text.replace(char, "?" + char)
    return text


def _render_xlsx(rows: pd.DataFrame, spec: FileSpec, config: PartnerConfig, items: pd.DataFrame, day: date) -> bytes:
    """A stock workbook as a store system exports it: a title row, a blank row, then the header and typed cells."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.sheet or "Sheet1"
    sheet.append([f"{config.name} {spec.sheet or ''}".strip(), day.strftime(spec.date_format)])
    for _ in range(spec.header_row - 2):
        sheet.append([])
    extra_columns = dict(config.demo.get("extra_columns") or {})
    descriptions = _descriptions(config, items)
    headers: list[str] = []
    for canonical, header in spec.columns.items():
        headers.append(header)
        if canonical == "product_ref":
            headers += list(extra_columns)
    sheet.append(headers)
    for record in rows.to_dict("records"):
        cells: list[object] = []
        for canonical in spec.columns:
            value = record[canonical]
            if canonical in DATE_COLUMNS:
                cells.append(pd.Timestamp(value).to_pydatetime())
            elif canonical in QUANTITY_COLUMNS:
                cells.append(int(value) if float(value).is_integer() else float(value))
            else:
                cells.append(str(value))
            if canonical == "product_ref":
                cells += [descriptions.get(attribute, {}).get(str(value), "") for attribute in extra_columns.values()]
        sheet.append(cells)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy/mm/dd"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _deterministic_zip(buffer.getvalue(), datetime.combine(day, time(0, 0)))


def _deterministic_zip(archive: bytes, stamp: datetime) -> bytes:
    """The workbook with fixed member times and document dates, so the same data gives the same bytes."""
    moment = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(archive))
    target_buffer = io.BytesIO()
    with zipfile.ZipFile(target_buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                for tag in ("dcterms:created", "dcterms:modified"):
                    text = re.sub(f"(<{tag}[^>]*>)[^<]*(</{tag}>)", rf"\g<1>{moment}\g<2>", text)
                data = text.encode("utf-8")
            member = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(member, data)
    return target_buffer.getvalue()


def _render_json(
    rows: pd.DataFrame, spec: FileSpec, config: PartnerConfig, items: pd.DataFrame, delivered: float
) -> bytes:
    """A sales export as a web shop system writes it: metadata, then nested records under ``records_path``."""
    extra_columns = dict(config.demo.get("extra_columns") or {})
    descriptions = _descriptions(config, items)
    records = []
    for row in rows.to_dict("records"):
        record: dict = {}
        for canonical, header in spec.columns.items():
            value = row[canonical]
            if canonical in DATE_COLUMNS:
                value = pd.Timestamp(value).strftime(spec.date_format)
            elif canonical == "net_sales_amount":
                value = round(float(value), 2)
            elif canonical in QUANTITY_COLUMNS:
                value = int(value)
            elif canonical == "promo_flag":
                value = bool(value)
            else:
                value = str(value)
            _set_path(record, header, value)
            if canonical == "product_ref":
                for extra_header, attribute in extra_columns.items():
                    _set_path(record, extra_header, descriptions.get(attribute, {}).get(str(row["product_ref"]), ""))
        records.append(record)
    exported = datetime.fromtimestamp(delivered, ZoneInfo(config.timezone)).replace(tzinfo=None)
    document: dict = {"exported_at": exported.isoformat(timespec="seconds"), "record_count": len(records)}
    _set_path(document, spec.records_path or "records", records)
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _set_path(target: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[leaf] = value
