"""DuckDB's fast path for delimited files loads exactly what parsing with pandas loads, or steps aside.

Every test loads one delivered file twice, into two fresh warehouses: once as the loader does it (the native
path where it vouches for the file) and once with the native path switched off. The raw rows, the rejects and
the ledger row must be the same, value for value (floats bit for bit), and the native path must really have
loaded the files it is meant to load: a fast path that always falls back would pass every equality.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.feeds.contracts import (
    FEED_LEDGER_COLUMNS,
    FEED_LEDGER_TABLE,
    FEED_REJECTS_TABLE,
    RAW_FEED_TABLES,
    REJECT_COLUMNS,
    STOCK_COLUMNS,
)
from assets.feeds.errors import FeedError
from assets.feeds.loading import delimited_duckdb, loader, native_plan
from assets.feeds.loading.byte_profile import ByteProfile
from assets.feeds.loading.loader import ingest_landing
from assets.feeds.loading.native_plan import NativeReadUnsupported
from assets.feeds.parsers import cell_rules
from assets.feeds.partner_config import FileSpec, PartnerConfig, load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"
CONFIGS = load_partner_configs(CONFIG_DIR)
NOW = datetime(2025, 7, 1, 2, 0)
LEDGER_COMPARED = [column for column in FEED_LEDGER_COLUMNS if column not in ("received_at", "loaded_at")]

# Routes a file can take through the loader.
NATIVE = "native"  # load_native inserted it
PANDAS = "pandas"  # the native path stepped aside (NativeReadUnsupported) and pandas parsed it
UNUSABLE = "unusable"  # the native path itself found the file unusable (FeedError)


def partner_spec(partner_id: str, record_type: str, **changes: object) -> FileSpec:
    """A real partner's file spec (matching any file name), with ``changes`` applied."""
    spec = CONFIGS[partner_id].specs_for(record_type)[0]
    return dataclasses.replace(spec, pattern="*", **changes)


def exact(value: object) -> object:
    """A value as compared: floats by their bits, so -0.0 differs from 0.0 and NaN equals NaN."""
    if isinstance(value, float):
        return ("float", value.hex() if not math.isnan(value) else "nan")
    return value


@dataclasses.dataclass
class Warehouse:
    """What one load left in a fresh warehouse, and which route the file took."""

    tables: dict[str, list[tuple]]
    route: str | None
    why: str | None  # the native path's reason for stepping aside

    @property
    def rows(self) -> list[tuple]:
        return [row for table, rows in self.tables.items() if table in RAW_FEED_TABLES.values() for row in rows]

    @property
    def rejects(self) -> list[tuple]:
        return self.tables[FEED_REJECTS_TABLE]

    @property
    def ledger(self) -> dict[str, object]:
        (row,) = self.tables[FEED_LEDGER_TABLE]
        return dict(zip(LEDGER_COMPARED, row, strict=True))


@contextlib.contextmanager
def routed(*, native: bool) -> Iterator[list[tuple[str, str | None]]]:
    """Spy on the loader's use of the native path (or switch it off); yields the routes taken, in order."""
    routes: list[tuple[str, str | None]] = []
    real_plan, real_load = loader.plan_native_read, loader.load_native

    def plan(*args: object, **kwargs: object) -> native_plan.NativeRead:
        if not native:
            raise NativeReadUnsupported("switched off by the test")
        try:
            return real_plan(*args, **kwargs)
        except NativeReadUnsupported as refused:
            routes.append((PANDAS, refused.reason))
            raise
        except FeedError as error:
            routes.append((UNUSABLE, str(error)))
            raise

    def load(*args: object, **kwargs: object) -> delimited_duckdb.NativeLoad:
        try:
            result = real_load(*args, **kwargs)
        except NativeReadUnsupported as refused:
            routes.append((PANDAS, refused.reason))
            raise
        except FeedError as error:
            routes.append((UNUSABLE, str(error)))
            raise
        routes.append((NATIVE, None))
        return result

    loader.plan_native_read, loader.load_native = plan, load
    try:
        yield routes
    finally:
        loader.plan_native_read, loader.load_native = real_plan, real_load


def load_file(landing: Path, spec: FileSpec, partner_id: str, *, native: bool) -> Warehouse:
    """Ingest the landing folder (one file) into a fresh in-memory warehouse."""
    config: PartnerConfig = dataclasses.replace(CONFIGS[partner_id], files=(spec,))
    conn = duckdb.connect()
    try:
        with routed(native=native) as routes:
            report = ingest_landing(conn, landing, {partner_id: config}, now=NOW)
        assert len(report.outcomes) == 1, report.outcomes
        assert not (report.outcomes[0].reason or "").startswith("parser crashed"), report.outcomes
        tables = {}
        for table in RAW_FEED_TABLES.values():
            rows = conn.execute(f"select * from {table} order by source_line").fetchall()
            tables[table] = [tuple(exact(value) for value in row) for row in rows]
        rejects = conn.execute(f"select * from {FEED_REJECTS_TABLE} order by source_line").fetchall()
        tables[FEED_REJECTS_TABLE] = rejects
        tables[FEED_LEDGER_TABLE] = conn.execute(
            f"select {', '.join(LEDGER_COMPARED)} from {FEED_LEDGER_TABLE}"
        ).fetchall()
    finally:
        conn.close()
    assert len(routes) <= 1, routes
    route, why = routes[0] if routes else (None, None)
    return Warehouse(tables, route, why)


def load_both_ways(folder: Path, data: bytes, spec: FileSpec, partner_id: str, *, route: str | None) -> Warehouse:
    """Load ``data`` with the native path on and off; assert both warehouses hold the same; return the first.

    ``route`` is the way the file must go with the native path on (None: whichever it likes).
    """
    landing = folder / "landing"
    path = landing / partner_id / "feed.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    fast = load_file(landing, spec, partner_id, native=True)
    slow = load_file(landing, spec, partner_id, native=False)
    assert fast.rows == slow.rows
    assert fast.rejects == slow.rejects
    assert fast.ledger == slow.ledger
    if route is not None:
        assert fast.route == route, fast.why
    return fast


def lines(*texts: str, end: str = "\n", bom: bool = False) -> bytes:
    """A UTF-8 file of these lines, each ended by ``end``."""
    return (("\ufeff" if bom else "") + "".join(text + end for text in texts)).encode("utf-8")


def physical_lines_with_text(data: bytes, bom: bool = False) -> list[int]:
    """Numbers of the data lines that hold something, counted the way an editor shows them."""
    text = data.decode("utf-8-sig" if bom else "utf-8")
    return [number for number, line in enumerate(text.split("\n"), start=1) if number > 1 and line.strip()]


REDWOOD_SALES = partner_spec("redwood_grocers", "sales")
REDWOOD_STOCK = partner_spec("redwood_grocers", "stock")
HANSA_SALES = partner_spec("hansa_handel", "sales")
HANSA_STOCK = partner_spec("hansa_handel", "stock")
HUAXIN_STOCK = partner_spec("huaxin_retail", "stock")
# Huaxin's tab-delimited layout as a UTF-8 export: the native path's only tab dialect.
HUAXIN_STOCK_UTF8 = dataclasses.replace(HUAXIN_STOCK, encoding="utf-8")

REDWOOD_SALES_HEADER = "store_nbr,upc,business_date,units_sold,units_returned,net_sales_usd,on_promo"
REDWOOD_STOCK_HEADER = "store_nbr,upc,inventory_date,on_hand_units"
HANSA_SALES_HEADER = "Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz"
HUAXIN_STOCK_HEADER = "门店编号\t商品编码\t商品名称\t日期\t库存数量"


# --- dialects that load natively ---------------------------------------------------------------------------


def test_a_plain_comma_file_loads_natively_with_the_same_rows(tmp_path: Path) -> None:
    data = lines(
        REDWOOD_SALES_HEADER,
        "1042,084215010016,2025-06-28,7,0,83.65,N",
        "1042,084215010023,2025-06-28,12,1,140.10,Y",
        "2231,084215010023,2025-06-28,-2,2,-28.02,",
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_SALES, "redwood_grocers", route=NATIVE)
    assert len(loaded.rows) == 3 and loaded.ledger["status"] == "loaded"


def test_a_semicolon_file_with_bom_crlf_decimal_comma_and_thousands_loads_natively(tmp_path: Path) -> None:
    data = lines(
        HANSA_SALES_HEADER,
        "F012;0084215010016;28.06.2025;4;;1.234,56",
        "F027;0084215010023;29.06.2025;1;0;13,09",
        "F027;0084215010030;29.06.2025;1.000;2;1.000.000,5",
        "F027;0084215010047;29.06.2025;12,5;0;,5",
        "F027;0084215010054;29.06.2025;1,2,3;0;1.2.3",
        end="\r\n",
        bom=True,
    )
    assert data.startswith(b"\xef\xbb\xbf")
    loaded = load_both_ways(tmp_path, data, HANSA_SALES, "hansa_handel", route=NATIVE)
    assert len(loaded.rows) + len(loaded.rejects) == 5


def test_a_forecast_file_loads_natively(tmp_path: Path) -> None:
    data = lines(
        "Filiale;EAN;Erstellt am;Woche von;Woche bis;Prognosemenge",
        "F012;0084215010016;30.06.2025;30.06.2025;06.07.2025;1.046,9",
        "F012;0084215010023;30.06.2025;;06.07.2025;3",
        end="\r\n",
        bom=True,
    )
    loaded = load_both_ways(tmp_path, data, partner_spec("hansa_handel", "forecast"), "hansa_handel", route=NATIVE)
    assert len(loaded.rows) == 1 and len(loaded.rejects) == 1


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_empty_lines_between_records_keep_physical_line_numbers(tmp_path: Path, end: str) -> None:
    data = lines(
        REDWOOD_STOCK_HEADER,
        "",
        "1042,084215010016,2025-06-29,30",
        "1042,084215010023,2025-06-29,12",
        "",
        "",
        "1107,084215010016,2025-06-29,lots",
        "1107,084215010023,2025-06-29,4",
        "",
        "1107,084215010030,2025-06-29,5",
        "",
        "",
        end=end,
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=NATIVE)
    row_line, reject_line = STOCK_COLUMNS.index("source_line"), REJECT_COLUMNS.index("source_line")
    loaded_lines = sorted([row[row_line] for row in loaded.rows] + [reject[reject_line] for reject in loaded.rejects])
    assert loaded_lines == physical_lines_with_text(data)


@pytest.mark.parametrize(
    "texts",
    [
        [REDWOOD_STOCK_HEADER, "1042,084215010016,2025-06-29,30,", "1042,084215010023,2025-06-29,12,"],
        [REDWOOD_STOCK_HEADER + ",", "1042,084215010016,2025-06-29,30,", "1042,084215010023,2025-06-29,12"],
        [REDWOOD_STOCK_HEADER, "1042,084215010016,2025-06-29,30,,", "1042,084215010023,2025-06-29,12"],
    ],
    ids=["on-every-line", "on-the-header-too", "doubled"],
)
def test_a_trailing_delimiter_loads_natively(tmp_path: Path, texts: list[str]) -> None:
    loaded = load_both_ways(tmp_path, lines(*texts), REDWOOD_STOCK, "redwood_grocers", route=NATIVE)
    assert len(loaded.rows) == 2


@pytest.mark.parametrize(
    ("extra", "route"),
    [
        (",x", NATIVE),
        (", ", NATIVE),
        (",,x", NATIVE),
        # DuckDB reads two cells past the header; a longer line makes it stop and pandas reads the file.
        (",x,y,z", PANDAS),
    ],
)
def test_lines_longer_than_the_header_are_rejected_alike(tmp_path: Path, extra: str, route: str) -> None:
    data = lines(
        REDWOOD_STOCK_HEADER,
        "1042,084215010016,2025-06-29,30",
        "1042,084215010023,2025-06-29,12" + extra,
        "1107,084215010016,2025-06-29,1",
    )
    load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=route)


def test_a_long_line_evened_out_by_a_short_one_sends_the_file_to_pandas(tmp_path: Path) -> None:
    """Delimiters number the header's per line on average: no cell past the header is read, so DuckDB meets the
    long line's extra cell and raises, and the file is read by pandas (which rejects that line)."""
    data = lines(
        REDWOOD_STOCK_HEADER,
        "1042,084215010016,2025-06-29",
        "1042,084215010023,2025-06-29,12,x",
        "1107,084215010016,2025-06-29,1",
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=PANDAS)
    assert [reason for *_, reason, _ in loaded.rejects if "fields" in str(reason)], loaded.rejects


def test_lines_shorter_than_the_header_are_padded_alike(tmp_path: Path) -> None:
    data = lines(
        REDWOOD_SALES_HEADER,
        "1042,084215010016,2025-06-28,7",
        "1042,084215010023,2025-06-28",
        "1042",
        ",",
        "1042,084215010023,2025-06-28,3,1,2.5,Y",
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_SALES, "redwood_grocers", route=NATIVE)
    assert len(loaded.rows) == 2 and len(loaded.rejects) == 2


def test_blank_required_cells_are_rejected_alike(tmp_path: Path) -> None:
    data = lines(
        REDWOOD_STOCK_HEADER,
        ",084215010016,2025-06-29,30",
        "1042,,2025-06-29,30",
        "1042,084215010016,,30",
        "1042,084215010016,2025-06-29,",
        "1042, ,2025-06-29,3",
        ",,,",
        "1042,084215010016,2025-06-29,5",
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=NATIVE)
    assert len(loaded.rows) == 1 and len(loaded.rejects) == 5


@pytest.mark.parametrize(
    "date",
    [
        *("2025-02-30", "2025-13-01", "25-06-29", "02025-06-29", "2025-06-29T00:00", "x"),
        # Far years: pandas 3 reads them (microsecond resolution), DuckDB reads 'epoch' and 'infinity' too.
        *("0999-12-31", "1500-01-01", "9999-12-31", "1970-01-01", "epoch", "infinity"),
    ],
)
def test_bad_and_unusual_dates_read_alike(tmp_path: Path, date: str) -> None:
    data = lines(REDWOOD_STOCK_HEADER, f"1042,084215010016,{date},30", "1042,084215010023,2025-06-29,12")
    load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=NATIVE)


@pytest.mark.parametrize(
    "number",
    ["vier", "1,5", "12-", "-", "--5", "inf", "-Infinity", "nan", "1e5", ".5", "5.", "1234567890123456", "0x10"],
)
def test_bad_and_unusual_numbers_read_alike(tmp_path: Path, number: str) -> None:
    data = lines(REDWOOD_STOCK_HEADER, f'1042,084215010016,2025-06-29,"{number}"', "1042,084215010023,2025-06-29,12")
    load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=NATIVE)


@pytest.mark.parametrize("number", ["+5", "1_000", "1e+3", "+", "_"])
def test_numbers_with_plus_or_underscore_read_alike(tmp_path: Path, number: str) -> None:
    data = lines(REDWOOD_STOCK_HEADER, f"1042,084215010016,2025-06-29,{number}", "1042,084215010023,2025-06-29,12")
    load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=NATIVE)


@pytest.mark.parametrize(
    ("spec", "texts"),
    [
        # pd.to_numeric reads "-0" as 0.0 when every distinct text of its column is an integer, else as -0.0.
        (REDWOOD_STOCK, [REDWOOD_STOCK_HEADER, "1042,1,2025-06-29,-0", "1042,2,2025-06-29,5"]),
        (HANSA_STOCK, ["Filiale;EAN;Datum;Bestand", "F012;1;28.06.2025;-0", "F012;2;28.06.2025;1.204"]),
        # Refused lines go through the pandas pipeline alone: "-0" must not lose the column's 2.5.
        (REDWOOD_STOCK, [REDWOOD_STOCK_HEADER, "1042,1,2025-06-29,0-", "1042,2,2025-06-29,2.5"]),
        (REDWOOD_SALES, [REDWOOD_SALES_HEADER, "1042,1,2025-06-28,-0,+1,1,N", "1042,2,2025-06-28,2.5,0,1,N"]),
    ],
    ids=["among-integers", "thousands-marks", "trailing-minus-refused", "on-a-refused-line"],
)
def test_a_negative_zero_sends_the_file_to_pandas(tmp_path: Path, spec: FileSpec, texts: list[str]) -> None:
    partner_id = "hansa_handel" if spec is HANSA_STOCK else "redwood_grocers"
    load_both_ways(tmp_path, lines(*texts), spec, partner_id, route=PANDAS)


def test_flags_read_alike_in_any_casing(tmp_path: Path) -> None:
    flags = ["Y", "y", "N", "n", "", " Y ", "yes", "YES", "true", "1", "maybe"]
    data = lines(REDWOOD_SALES_HEADER, *(f"1042,0842150100{i:02},2025-06-28,1,0,2.5,{f}" for i, f in enumerate(flags)))
    load_both_ways(tmp_path, data, REDWOOD_SALES, "redwood_grocers", route=NATIVE)
    default_flags = dataclasses.replace(
        REDWOOD_SALES, true_values=("1", "y", "yes", "true", "t", "x"), false_values=("0", "n", "no", "false", "f")
    )
    load_both_ways(tmp_path / "defaults", data, default_flags, "redwood_grocers", route=NATIVE)


def test_a_flag_text_configured_as_both_true_and_false_reads_as_false_alike(tmp_path: Path) -> None:
    spec = dataclasses.replace(REDWOOD_SALES, true_values=("Y",), false_values=("y",))
    data = lines(REDWOOD_SALES_HEADER, "1042,084215010016,2025-06-28,1,0,2.5,Y", "1042,084215010023,2025-06-28,1,0,2,y")
    load_both_ways(tmp_path, data, spec, "redwood_grocers", route=NATIVE)


@pytest.mark.parametrize(
    "blank",
    [" ", "  ", "\t", "\x0b", "\u00a0", "\u3000", "\u2007"],
    ids=["space", "two-spaces", "tab", "vertical-tab", "no-break-space", "ideographic-space", "figure-space"],
)
def test_white_space_around_cells_is_stripped_alike(tmp_path: Path, blank: str) -> None:
    b = blank
    data = lines(
        REDWOOD_SALES_HEADER,
        f"{b}1042{b},{b}084215010016,2025-06-28{b},{b}7,0,83.65,{b}N{b}",
        f"1042,084215010023{b},{b}2025-06-28,12{b},{b}1{b},140.10,Y",
        f"1042,{b},2025-06-28,1,0,1,Y",
        f"1042,084215010030,2025-06-28,1,0,1,{b}",
        f"1042,084215010047,2025-06-28,1,{b},1,N",
        "1042,084215010054,2025-06-28,1,0,1,N",
    )
    load_both_ways(tmp_path, data, REDWOOD_SALES, "redwood_grocers", route=NATIVE)


def test_quoted_fields_with_delimiters_and_quotes_inside_load_natively(tmp_path: Path) -> None:
    data = lines(
        '"store_nbr","upc","business_date","units_sold","units_returned","net_sales_usd","on_promo"',
        '"1042","0842,150","2025-06-28","7","","83.65","N"',
        '1042,"say:""hi""",2025-06-28,7,0,83.65,N',
        '1042,a"b,2025-06-28,7,0,83.65,N',
        '"10,42",x,"2025-06-28","1,5",0,83.65,"Y"',
    )
    load_both_ways(tmp_path, data, REDWOOD_SALES, "redwood_grocers", route=NATIVE)


def test_a_quoted_tab_at_the_edge_of_a_cell_in_a_tab_file_is_stripped_alike(tmp_path: Path) -> None:
    data = lines(
        HUAXIN_STOCK_HEADER,
        'SH001\t"\tHX-031648"\t苏打水\t2025/06/29\t30',
        'SH001\t"HX-039567\t"\t"橙汁\t1升"\t2025/06/29\t"12\t"',
        "SH002\tHX-039567\t橙汁\t2025/6/29\t1",
    )
    load_both_ways(tmp_path, data, HUAXIN_STOCK_UTF8, "huaxin_retail", route=NATIVE)


def test_day_first_and_month_first_date_formats_read_alike(tmp_path: Path) -> None:
    dates = ["29.06.2025", "9.6.2025", "31.02.2025", "29.06.25", "29.06.02025", "1.13.2025", "29-06-2025"]
    data = lines("Filiale;EAN;Datum;Bestand", *(f"F012;00842150100{i:02};{date};4" for i, date in enumerate(dates)))
    load_both_ways(tmp_path, data, HANSA_STOCK, "hansa_handel", route=NATIVE)

    month_first = dataclasses.replace(REDWOOD_STOCK, date_format="%m/%d/%Y")
    dates = ["06/29/2025", "6/9/2025", "13/01/2025", "02/30/2025", "06/29/25", "2025-06-29"]
    data = lines(REDWOOD_STOCK_HEADER, *(f"1042,0842150100{i:02},{date},4" for i, date in enumerate(dates)))
    load_both_ways(tmp_path / "us", data, month_first, "redwood_grocers", route=NATIVE)


def test_optional_columns_absent_or_blank_take_constants_and_defaults_alike(tmp_path: Path) -> None:
    stock = dataclasses.replace(
        REDWOOD_STOCK,
        columns={**REDWOOD_STOCK.columns, "uom": "uom", "on_order_qty": "on_order"},
        constants={"uom": "CS", "in_transit_qty": 2},
    )
    data = lines(
        REDWOOD_STOCK_HEADER + ",uom,on_order",
        "1042,084215010016,2025-06-29,30,,",
        "1042,084215010023,2025-06-29,12,PK,3",
        "1042,084215010030,2025-06-29,12,EA,x",
    )
    load_both_ways(tmp_path, data, stock, "redwood_grocers", route=NATIVE)

    # No currency, returns, amount or promo column: the partner's currency and the canonical defaults.
    data = lines("store_nbr,upc,business_date,units_sold", "1042,084215010016,2025-06-28,7")
    sales = dataclasses.replace(REDWOOD_SALES, constants={})
    load_both_ways(tmp_path / "sales", data, sales, "redwood_grocers", route=NATIVE)


@pytest.mark.parametrize(
    ("header", "end_column", "constants"),
    [
        ("store_nbr,upc,business_date,units_sold", None, {}),
        ("store_nbr,upc,business_date,units_sold", None, {"period_end": "2025-07-04"}),
        ("store_nbr,upc,business_date,units_sold,week_end", "week_end", {}),
    ],
    ids=["absent", "constant", "blank-or-bad"],
)
def test_a_sales_period_end_absent_or_blank_defaults_alike(
    tmp_path: Path, header: str, end_column: str | None, constants: dict[str, object]
) -> None:
    columns = dict(REDWOOD_SALES.columns)
    if end_column:
        columns["period_end"] = end_column
    spec = dataclasses.replace(REDWOOD_SALES, columns=columns, constants=constants)
    data = lines(
        header,
        "1042,084215010016,2025-06-28,7,2025-07-04",
        "1042,084215010023,2025-06-28,7,",
        "1042,084215010030,2025-06-28,7,soon",
    )
    load_both_ways(tmp_path, data, spec, "redwood_grocers", route=NATIVE)


# --- files the native path leaves to pandas, or finds unusable alike --------------------------------------


@pytest.mark.parametrize("case_runs", [delimited_duckdb.CASE_RUNS, 1000], ids=["asof-join", "case"])
def test_many_runs_of_empty_lines_and_bad_dates_load_natively_with_the_same_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case_runs: int
) -> None:
    """Every run of lines without a record (empty, or skipped by DuckDB for a bad date) shifts the later lines;
    hundreds of them still number every line as the file has it, by either way of numbering."""
    monkeypatch.setattr(delimited_duckdb, "CASE_RUNS", case_runs)
    records = [f"1042,0842150{line:05},2025-{'13' if line % 7 == 3 else '06'}-29,{line}" for line in range(300)]
    texts = (text for line, record in enumerate(records) for text in (record, "")[: 1 + line % 2])
    loaded = load_both_ways(
        tmp_path, lines(REDWOOD_STOCK_HEADER, *texts), REDWOOD_STOCK, "redwood_grocers", route=NATIVE
    )
    assert len(loaded.rejects) == len([line for line in range(300) if line % 7 == 3])


def test_a_quoted_field_spanning_lines_falls_back_to_pandas(tmp_path: Path) -> None:
    data = lines(
        REDWOOD_STOCK_HEADER,
        "1042,084215010016,2025-06-29,30",
        '"10',
        '42",084215010023,2025-06-29,12',
        "1042,084215010030,2025-06-29,7,extra",
    )
    load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=PANDAS)


def test_files_in_other_encodings_fall_back_to_pandas(tmp_path: Path) -> None:
    text = f"{HUAXIN_STOCK_HEADER}\nSH001\tHX-031648\t苏打矿泉水1升\t2025/06/28\t30\nHZ001\tHX-1\t橙汁\t2025/6/29\tx\n"
    loaded = load_both_ways(tmp_path, text.encode("gbk"), HUAXIN_STOCK, "huaxin_retail", route=PANDAS)
    assert len(loaded.rows) == 1 and len(loaded.rejects) == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"  \n\n", "\ufeff \r\n".encode(), b"store_nbr,upc\n\xff\xfe\n"],
    ids=["zero-bytes", "blank", "bom-and-blank", "not-utf-8"],
)
def test_an_empty_or_undecodable_file_is_quarantined_with_the_same_reason(tmp_path: Path, data: bytes) -> None:
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=UNUSABLE)
    assert loaded.ledger["status"] == "quarantined"


@pytest.mark.parametrize(
    "data",
    [
        lines(REDWOOD_STOCK_HEADER),
        REDWOOD_STOCK_HEADER.encode(),
        lines(REDWOOD_STOCK_HEADER, "", "", end="\r\n"),
        lines(REDWOOD_STOCK_HEADER, ",,,", " ", ""),
    ],
    ids=["header-line", "no-final-newline", "empty-lines", "blank-lines"],
)
def test_a_header_without_data_lines_is_quarantined_with_the_same_reason(tmp_path: Path, data: bytes) -> None:
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=UNUSABLE)
    assert loaded.ledger["status"] == "quarantined"


@pytest.mark.parametrize(
    "data",
    [
        lines("Filiale;EAN;Datum;Menge", "F012;0084215010016;28.06.2025;4", end="\r\n", bom=True),
        lines("Filiale,EAN,Datum,Bestand", "F012,1,28.06.2025,4", end="\r\n", bom=True),
        lines("", "Filiale;EAN;Datum;Bestand", "F012;1;28.06.2025;4"),
    ],
    ids=["renamed-column", "wrong-delimiter", "empty-first-line"],
)
def test_a_missing_required_header_is_quarantined_with_the_same_message(tmp_path: Path, data: bytes) -> None:
    loaded = load_both_ways(tmp_path, data, HANSA_STOCK, "hansa_handel", route=UNUSABLE)
    assert "missing required column(s)" in str(loaded.ledger["reason"])


def test_a_field_longer_than_the_csv_modules_limit_is_quarantined_alike(tmp_path: Path) -> None:
    # The long line below sends the pandas path to the csv module, which refuses the huge field.
    data = lines(
        REDWOOD_STOCK_HEADER,
        "1042," + "9" * 140_000 + ",2025-06-29,30",
        "1042,084215010023,2025-06-29,12,extra",
    )
    loaded = load_both_ways(tmp_path, data, REDWOOD_STOCK, "redwood_grocers", route=PANDAS)
    assert loaded.ledger["status"] == "quarantined"


def test_line_numbers_follow_the_file_in_a_large_parallel_load(tmp_path: Path) -> None:
    """Row ids number the lines: they must follow the file when DuckDB reads it in many pieces at once.

    A file of several read buffers and row groups goes into a warehouse on disk (large inserts are written
    straight to its blocks) with more threads than the machine has cores. Every line's units sold is its own
    line number, so any row stored out of order, or numbered from the wrong first row id, shows. Lines with bad
    dates and runs of empty lines are spread through the file.
    """
    bad_lines, empty_after = {2_000, 150_001, 399_998}, {1_000: 2, 250_000: 1}
    text = [REDWOOD_SALES_HEADER]
    for _ in range(2, 400_001):
        line = len(text) + 1
        day = "2025-13-01" if line in bad_lines else f"2025-06-{line % 28 + 1:02d}"
        text.append(f"{1042 + line % 7},0842150{line % 9973:05d},{day},{line},0,{line % 100}.25,N")
        text.extend([""] * empty_after.get(line, 0))
    path = tmp_path / "landing" / "redwood_grocers" / "feed.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(lines(*text))
    config = dataclasses.replace(CONFIGS["redwood_grocers"], files=(REDWOOD_SALES,))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"), config={"threads": 4})
    try:
        with routed(native=True) as routes:
            (outcome,) = ingest_landing(conn, path.parents[1], {"redwood_grocers": config}, now=NOW).outcomes
        assert routes == [(NATIVE, None)] and outcome.status == "loaded"
        stored, misnumbered, first, last = conn.execute(
            "select count(*), count(*) filter (where units_sold <> source_line), min(source_line), max(source_line) "
            "from raw.sales"
        ).fetchone()
        rejected = [line for (line,) in conn.execute("select source_line from raw.feed_rejects order by 1").fetchall()]
    finally:
        conn.close()
    data_lines = len(text) - 1 - sum(empty_after.values())
    assert (stored, misnumbered) == (data_lines - len(bad_lines), 0)
    assert rejected == sorted(bad_lines)
    assert (first, last) == (2, len(text))


def test_the_white_space_lists_hold_every_character_str_strip_removes() -> None:
    stripped = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert set(cell_rules.ASCII_SPACES + cell_rules.UNICODE_SPACES) == stripped


# --- property: any small file of good and nasty cells -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dialect:
    """A real partner layout and the cells a good line of it holds, column by column."""

    partner_id: str
    spec: FileSpec
    header: tuple[str, ...]
    good: tuple[tuple[str, ...], ...]  # per column, values a partner really sends
    end: str = "\n"
    bom: bool = False


DIALECTS = (
    Dialect(
        "redwood_grocers",
        REDWOOD_SALES,
        tuple(REDWOOD_SALES_HEADER.split(",")),
        (
            ("1042", "2231"),
            ("084215010016", "084215010023"),
            ("2025-06-28", "2025-6-9", "2024-02-29"),
            ("7", "0", "-2", "12.5"),
            ("0", "1", ""),
            ("83.65", "-28.02", "140.1", ""),
            ("Y", "N", "y", ""),
        ),
    ),
    Dialect(
        "hansa_handel",
        HANSA_SALES,
        tuple(HANSA_SALES_HEADER.split(";")),
        (
            ("F012", "F027"),
            ("0084215010016", "0084215010023"),
            ("28.06.2025", "1.7.2025"),
            ("4", "1.204", "-3", "2,5"),
            ("0", ""),
            ("1.234,56", "13,09", "-5,00"),
        ),
        end="\r\n",
        bom=True,
    ),
    Dialect(
        "huaxin_retail",
        HUAXIN_STOCK_UTF8,
        tuple(HUAXIN_STOCK_HEADER.split("\t")),
        (
            ("SH001", "HZ001"),
            ("HX-031648", "HX-039567"),
            ("苏打水", "橙汁1升", ""),
            ("2025/06/28", "2025/6/9"),
            ("30", "0", "2.5"),
        ),
    ),
)

# Cells that have tripped readers: blanks of every kind, signs and separators, impossible dates, stray quotes.
NASTY_BLANKS = ("", " ", "\u00a0", "\u3000", "\t", " x ", "x\u00a0", "\x0c")
NASTY_NUMBERS = ("-0", "0-", "+5", "1_000", "1e5", "12-", "inf", "nan", "1234567890123456", "1,5", "1.5", "1;5")
NASTY_DATES = ("2025-02-30", "31.02.2025", "2025/13/01", "1970-01-01", "0999-12-31")
NASTY_TEXTS = ("yes", "maybe", "é店", 'a"b', 'x"', '"')
NASTY = (*NASTY_BLANKS, *NASTY_NUMBERS, *NASTY_DATES, *NASTY_TEXTS)


def render(value: str, delimiter: str, style: str) -> str:
    """A cell as an export writes it: quoted where it must be (or always), or raw as a careless one does."""
    if style == "raw":
        return value
    if style == "quoted" or any(char in value for char in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def delimited_files(draw: st.DrawFn) -> tuple[Dialect, bytes]:
    dialect = draw(st.sampled_from(DIALECTS))
    delimiter = dialect.spec.delimiter
    texts = [delimiter.join(dialect.header)]
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        shape = draw(st.sampled_from(["record"] * 6 + ["empty", "blank", "delimiters", "short", "long"]))
        if shape == "empty":
            texts.append("")
            continue
        if shape == "blank":
            texts.append(draw(st.sampled_from([" ", "\t", "\u00a0"])))
            continue
        if shape == "delimiters":
            texts.append(delimiter * draw(st.integers(min_value=1, max_value=len(dialect.header) + 1)))
            continue
        cells = []
        for good in dialect.good:
            value = draw(st.sampled_from(good)) if draw(st.integers(0, 4)) else draw(st.sampled_from(NASTY))
            cells.append(render(value, delimiter, draw(st.sampled_from(["plain"] * 17 + ["quoted"] * 2 + ["raw"]))))
        if shape == "short":
            cells = cells[: draw(st.integers(min_value=1, max_value=len(cells) - 1))]
        elif shape == "long":
            cells += draw(st.lists(st.sampled_from(["", "x", " "]), min_size=1, max_size=3))
        texts.append(delimiter.join(cells))
    if len(texts) > 1 and draw(st.integers(0, 14)) == 0:
        # A quoted cell spanning lines: the native path must notice and step aside.
        texts[-1] += delimiter + render("two\nlines", delimiter, "quoted")
    data = lines(*texts, end=dialect.end, bom=dialect.bom)
    if draw(st.booleans()):
        data = data[: -len(dialect.end)]  # no line end after the last line
    return dialect, data


def test_any_small_file_of_good_and_nasty_cells_loads_alike() -> None:
    routes: list[str | None] = []

    # The same 60 files every run: their share of native loads is a fixed fact, not a draw that fell under a third
    # about once in 50 runs (over 600 random files the native path loads about two thirds).
    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(delimited_files())
    def loads_alike(file: tuple[Dialect, bytes]) -> None:
        dialect, data = file
        with tempfile.TemporaryDirectory() as folder:
            routes.append(load_both_ways(Path(folder), data, dialect.spec, dialect.partner_id, route=None).route)

    loads_alike()
    # Equality proves nothing about files the native path never loads: most of these it should load itself.
    assert routes.count(NATIVE) >= len(routes) // 3, routes


def test_a_file_replaced_after_planning_is_not_read_as_planned(tmp_path: Path) -> None:
    """Empty and refused lines are taken from the file again later: it must still hold the bytes planned on."""
    path = tmp_path / "sales_20250628.csv"
    data = lines(
        "store_nbr,upc,business_date,units_sold,units_returned,net_sales_usd,on_promo",
        "1042,084215000017,2025-06-28,7,0,83.65,N",
    )
    path.write_bytes(data)
    spec = REDWOOD_SALES
    plan = native_plan.plan_native_read(
        path, ByteProfile.of(data, spec.delimiter), spec, hashlib.sha256(data).hexdigest()
    )
    path.write_bytes(data + b"1042,084215000017,2025-06-29,5,0,51.00,N\n")
    with pytest.raises(NativeReadUnsupported, match="changed"):
        _ = plan.data


@pytest.mark.parametrize(
    ("body", "extra_columns"),
    [
        (["1042,084215000017,2025-06-28,7,0,83.65,N"], 0),
        (["1042,084215000017,2025-06-28,7,0,83.65,N,"], native_plan.EXTRA_COLUMNS),  # one delimiter more
        (['1042,"0842150,00017",2025-06-28,7,0,83.65,N'], native_plan.EXTRA_COLUMNS),  # quotes may hide some
    ],
)
def test_cells_past_the_header_are_read_only_where_a_line_may_have_them(body: list[str], extra_columns: int) -> None:
    data = lines(REDWOOD_SALES_HEADER, *body)
    profile = ByteProfile.of(data, REDWOOD_SALES.delimiter)
    plan = native_plan.plan_native_read(Path("sales.csv"), profile, REDWOOD_SALES, "unused")
    assert plan.extra_columns == extra_columns


def test_a_row_without_a_line_already_in_the_table_sends_the_file_to_pandas_untouched(tmp_path: Path) -> None:
    """The native path finds its rows as the table's rows without a line; another one must not be numbered."""
    landing = tmp_path / "landing"
    path = landing / "redwood_grocers" / "sales_20250628.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(lines(REDWOOD_SALES_HEADER, "1042,084215000017,2025-06-28,7,0,83.65,N"))
    config = dataclasses.replace(CONFIGS["redwood_grocers"], files=(REDWOOD_SALES,))
    conn = duckdb.connect()
    try:
        loader.ensure_raw_schema(conn)
        conn.execute(
            "insert into raw.sales (partner_id, location_id, product_ref, period_start, period_end, units_sold, "
            "source_file_id) values ('redwood_grocers', '9999', 'x', date '2025-06-01', date '2025-06-01', 1, 'f')"
        )
        with routed(native=True) as routes:
            report = ingest_landing(conn, landing, {"redwood_grocers": config}, now=NOW)
        assert [outcome.status for outcome in report.outcomes] == ["loaded"]
        assert [route for route, _ in routes] == [PANDAS], routes
        rows = conn.execute("select location_id, source_line from raw.sales order by location_id").fetchall()
        assert rows == [("1042", 2), ("9999", None)]
    finally:
        conn.close()


def test_the_native_path_leaves_no_temporary_tables_behind(tmp_path: Path) -> None:
    """Skipped lines and runs of empty lines are passed through temporary tables, dropped in the same load."""
    records = [f"1042,0842150{line:05},2025-{'13' if line % 9 == 4 else '06'}-29,{line}" for line in range(200)]
    landing = tmp_path / "landing"
    path = landing / "redwood_grocers" / "inventory_20250629.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(lines(REDWOOD_STOCK_HEADER, *(text for record in records for text in (record, ""))))
    config = dataclasses.replace(CONFIGS["redwood_grocers"], files=(REDWOOD_STOCK,))
    conn = duckdb.connect()
    try:
        with routed(native=True) as routes:
            report = ingest_landing(conn, landing, {"redwood_grocers": config}, now=NOW)
        assert [route for route, _ in routes] == [NATIVE] and report.outcomes[0].rejected == 22
        assert conn.execute("select table_name from duckdb_tables() where temporary").fetchall() == []
    finally:
        conn.close()


def test_a_large_file_with_most_lines_refused_is_read_by_pandas_alike(tmp_path: Path) -> None:
    """A partner that changed its date format refuses every line: pandas reads such a file faster, and alike."""
    body = [f"1042,0842150{line % 400:05},{29 - line % 28:02d}.06.2025,{line % 13}" for line in range(12_000)]
    loaded = load_both_ways(
        tmp_path, lines(REDWOOD_STOCK_HEADER, *body), REDWOOD_STOCK, "redwood_grocers", route=PANDAS
    )
    assert len(loaded.rejects) == 12_000 and loaded.rows == []


@pytest.mark.parametrize(
    ("dates", "typed"),
    [
        (["2025-06-29"] * 30, True),
        (["2025-06-29"] * 28 + ["2025-13-01", ""], True),  # a bad date or a blank now and then
        (["29.06.2025"] * 30, False),  # another format throughout: every line would be skipped one by one
    ],
    ids=["good", "mostly-good", "other-format"],
)
def test_the_reader_converts_dates_itself_where_they_mostly_convert(dates: list[str], typed: bool) -> None:
    data = lines(REDWOOD_STOCK_HEADER, *(f"1042,0842150{index:05},{day},3" for index, day in enumerate(dates)))
    profile = ByteProfile.of(data, REDWOOD_STOCK.delimiter)
    plan = native_plan.plan_native_read(Path("inventory.csv"), profile, REDWOOD_STOCK, "unused")
    assert plan.typed_dates is typed
