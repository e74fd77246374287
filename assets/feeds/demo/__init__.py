"""Demo landing data: three partners with their own dialects and formats, the supplier's master data and shipments.

The generator simulates what really happens at each partner location, day by day: demand (popularity, store
size, weekday pattern, yearly seasonality, trend, promotions, national holidays, negative-binomial noise, many
slow movers), sales censored by the stock on the shelf, and the supplier's historical min/max replenishment
with random lead times. Partners then report what they saw in the formats partners really send (CSV/TSV dialects,
weekly X12 852 and daily 846, EDIFACT INVRPT/SLSRPT, an Excel workbook, a JSON export), with the imperfections
real feeds have, so the ledger, the quarantine and the quality layer have something to find.

More partners than the configured ones are made from them (``partners.py``): each takes one's formats and habits
under a name, stores and identifiers of its own, and the landing's ``_partners`` folder holds every partner's config.

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

from assets.feeds.demo.defects import IMPERFECTIONS
from assets.feeds.demo.deliveries import DAILY_FILE_DAYS, FORECAST_FILE_WEEKS
from assets.feeds.demo.demand import DEFAULT_WEEKLY_PATTERN, FORECAST_HORIZON_WEEKS
from assets.feeds.demo.generate import DemoSummary, generate_demo
from assets.feeds.demo.simulation import HABITUAL_REVIEW_DAYS, TRAILING_DEMAND_DAYS
from assets.feeds.demo.supplier import SHORT_COVER_WEEKS, SHORT_PRODUCTS, SUPPLIER_COVER_WEEKS
from assets.feeds.demo.world import (
    CATALOGUE,
    SCALES,
    SERVICE_LEVELS,
    SHIP_DAY_OPTIONS,
    SMALL_CATALOGUE,
    SMALL_LOCATIONS,
    SMALL_PRODUCTS,
    SUPPLIER_EDI_ID,
    SUPPLIER_GLN,
    UPC_COMPANY,
    WEEKDAYS,
)

__all__ = [
    "CATALOGUE",
    "DAILY_FILE_DAYS",
    "DEFAULT_WEEKLY_PATTERN",
    "FORECAST_FILE_WEEKS",
    "FORECAST_HORIZON_WEEKS",
    "HABITUAL_REVIEW_DAYS",
    "IMPERFECTIONS",
    "SCALES",
    "SERVICE_LEVELS",
    "SHIP_DAY_OPTIONS",
    "SHORT_COVER_WEEKS",
    "SHORT_PRODUCTS",
    "SMALL_CATALOGUE",
    "SMALL_LOCATIONS",
    "SMALL_PRODUCTS",
    "SUPPLIER_COVER_WEEKS",
    "SUPPLIER_EDI_ID",
    "SUPPLIER_GLN",
    "TRAILING_DEMAND_DAYS",
    "UPC_COMPANY",
    "WEEKDAYS",
    "DemoSummary",
    "generate_demo",
]
