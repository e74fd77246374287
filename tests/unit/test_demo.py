"""Demo generator: deterministic, readable by the committed configs, and realistic where planning needs it."""

from __future__ import annotations

import ast
import io
import re
import shutil
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

import assets.feeds.demo as demo_package
from assets.feeds.contracts import (
    FEED_LEDGER_TABLE,
    FEED_REJECTS_TABLE,
    MASTER_DATA_FILES,
    RAW_FEED_TABLES,
    SUPPLIER_FOLDER,
)
from assets.feeds.demo import generate_demo, simulation, supplier
from assets.feeds.demo.deliveries import PartnerWriter
from assets.feeds.demo.partners import partner_documents
from assets.feeds.demo.simulation import simulate_partner
from assets.feeds.demo.tabular import render_delimited
from assets.feeds.demo.world import build_catalogue
from assets.feeds.errors import FeedError
from assets.feeds.identity import gs1_check_digit
from assets.feeds.loading.loader import ingest_landing, load_master_data
from assets.feeds.parsers.detect import parse_file
from assets.feeds.partner_config import load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"
CONFIGS = load_partner_configs(CONFIG_DIR)
END = date(2025, 6, 30)
DAYS = 200
NOW = datetime(2025, 7, 1, 3)

# What each planted broken delivery is quarantined for (file -> fragment of the ledger reason).
PLANTED_QUARANTINE = {
    "hansa_handel/INVRPT_20250628.edi": "empty file (0 bytes)",
    "huaxin_retail/xiaoshou_20250625.txt": "cannot decode as gbk",
    "redwood_grocers/846_20250619_2.x12": (
        "control number 000000128 already used by file redwood_grocers/846_20250619.x12"
    ),
    "redwood_grocers/846_20250621.x12": "interchange is truncated",
    "redwood_grocers/852_20250603_20250609.x12": "SE01 says 29 segments but transaction set 0001 has 28",
}

# Loaded files only, one row per partner, location, product and day: weekly 852 sales spread evenly over their
# days (as dbt does), the 852's week-end stock and the 846 of that day counted once (they agree).
VIEWS = """
create temp view loaded_files as select source_file_id from raw.feed_files where status = 'loaded';
create temp view stock_days as
    -- Counts in cases in units, as the warehouse converts them (the agreement's case pack, else the product's).
    select st.partner_id, st.location_id, coalesce(items.product_id, st.product_ref) as product,
           st.as_of_date,
           st.on_hand_qty * case when st.uom = 'CA' then coalesce(terms.case_pack, products.case_pack) else 1 end
               as on_hand_qty,
           count(*) over key_window as reports,
           count(distinct st.on_hand_qty) over key_window as distinct_counts
    from raw.stock_snapshots st
    semi join loaded_files using (source_file_id)
    left join raw.partner_items items
        on items.partner_id = st.partner_id and items.partner_item_ref = st.product_ref
    left join raw.products products on products.product_id = items.product_id
    left join raw.replenishment_agreements terms
        on terms.partner_id = st.partner_id and terms.product_id = items.product_id
    window key_window as (partition by st.partner_id, st.location_id, product, st.as_of_date)
    qualify row_number() over key_window = 1;
create temp view sales_days as
    with loaded as (
        select s.*, coalesce(items.product_id, s.product_ref) as product,
               date_diff('day', s.period_start, s.period_end) + 1 as period_days
        from raw.sales s
        semi join loaded_files using (source_file_id)
        left join raw.partner_items items
            on items.partner_id = s.partner_id and items.partner_item_ref = s.product_ref
    )
    select partner_id, location_id, product, product_ref, cast(day as date) as sales_date, period_days,
           units_sold / period_days as units_sold, promo_flag
    from loaded, unnest(generate_series(period_start, period_end, interval 1 day)) as days(day);
"""


def files_of(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def raw_tables(conn) -> dict[str, list[tuple]]:
    tables = [*RAW_FEED_TABLES.values(), FEED_LEDGER_TABLE, FEED_REJECTS_TABLE]
    return {table: conn.execute(f"select * from {table} order by all").fetchall() for table in tables}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    summary = generate_demo(root, CONFIG_DIR, seed=7, days=DAYS, end_date=END, scale="small")
    return root, summary


@pytest.fixture(scope="module")
def warehouse(demo):
    root, _ = demo
    conn = duckdb.connect()
    load_master_data(conn, root / SUPPLIER_FOLDER)
    report = ingest_landing(conn, root, CONFIGS, now=NOW)
    conn.execute(VIEWS)
    yield conn, report
    conn.close()


def test_same_seed_gives_identical_bytes_and_mtimes(demo, tmp_path):
    root, _ = demo
    generate_demo(tmp_path, CONFIG_DIR, seed=7, days=DAYS, end_date=END, scale="small")
    first, second = files_of(root), files_of(tmp_path)
    assert len(first) > 150
    assert first == second


def test_a_later_end_only_adds_the_new_days_deliveries(demo, tmp_path):
    root, summary = demo
    stepwise, at_once = tmp_path / "stepwise", tmp_path / "at_once"
    for folder in (stepwise, at_once):
        shutil.copytree(root, folder)
    generate_demo(stepwise, CONFIG_DIR, seed=7, end_date=END + timedelta(days=1), scale="small")
    generate_demo(stepwise, CONFIG_DIR, seed=7, end_date=END + timedelta(days=3), scale="small")
    extended = generate_demo(at_once, CONFIG_DIR, seed=7, end_date=END + timedelta(days=3), scale="small")

    before, after = files_of(root), files_of(at_once)
    assert {name: after.get(name) for name in before} == before, "every file written before stays as it was"
    added = sorted(set(after) - set(before))
    last = f"{END + timedelta(days=3):%Y%m%d}"
    for partner_id in CONFIGS:
        assert any(name.startswith(f"{partner_id}/") and last in name for name in added), partner_id
    assert f"{SUPPLIER_FOLDER}/shipments_{last}.csv" in added
    assert files_of(stepwise) == after, "night by night or at once, the same landing"
    assert (extended.start_date, extended.end_date) == (summary.start_date, END + timedelta(days=3))

    conn = duckdb.connect()
    load_master_data(conn, at_once / SUPPLIER_FOLDER)
    assert conn.execute("select count(*) from raw.shipments").fetchone()[0] == extended.shipments
    assert conn.execute("select max(as_of_date) from raw.supplier_stock").fetchone()[0] == END + timedelta(days=3)
    conn.close()


def test_any_count_of_stores_and_products_loads_as_the_configured_ones_do(tmp_path):
    summary = generate_demo(tmp_path, CONFIG_DIR, seed=5, days=70, end_date=END, locations=5, products=21)
    assert (summary.series, summary.locations, summary.products) == (3 * 5 * 21, 15, 29)
    conn = duckdb.connect()
    load_master_data(conn, tmp_path / SUPPLIER_FOLDER)
    report = ingest_landing(conn, tmp_path, CONFIGS, now=NOW)
    assert sorted(outcome.path for outcome in report.with_status("quarantined")) == list(summary.expected_quarantined)
    stores = conn.execute("select partner_id, count(distinct location_id) from raw.partner_locations group by all")
    assert dict(stores.fetchall()) == dict.fromkeys(CONFIGS, 5)
    grown = conn.execute("select gtin from raw.products where product_id = 'P1029'").fetchall()
    assert grown and gs1_check_digit(grown[0][0][:-1]) == grown[0][0][-1]
    unresolved = conn.execute(
        """select count(*) from raw.sales s anti join raw.partner_items i
           on i.partner_id = s.partner_id and i.partner_item_ref = s.product_ref"""
    ).fetchone()[0]
    assert unresolved == summary.injected["unknown_item_rows"], "every other sale resolves to a product"
    carried = conn.execute("select count(distinct product_id) from raw.partner_items where product_id > 'P1020'")
    assert carried.fetchone()[0] > 0, "partners carry products of the grown catalogue"
    conn.close()
    huaxin_sales = sorted((tmp_path / "huaxin_retail").glob("xiaoshou_*.txt"))[0].read_bytes().decode("gbk")
    assert "号" in huaxin_sales, "grown products carry their Chinese description"


def calendar(name: str) -> bool:
    partner_id, _, file_name = name.partition("/")
    spec = CONFIGS[partner_id].spec_for(file_name) if partner_id in CONFIGS else None
    return spec is not None and spec.record_type == "promotion"


def test_another_seed_gives_other_numbers(demo, tmp_path):
    root, _ = demo
    generate_demo(tmp_path, CONFIG_DIR, seed=8, days=DAYS, end_date=END, scale="small")
    first, second = files_of(root), files_of(tmp_path)
    # Promotion calendars come when the partner has promotions to announce or revise: drawn like their content.
    first, second = ({name: file for name, file in files.items() if not calendar(name)} for files in (first, second))
    assert set(first) == set(second), "file names depend on dates and configs only"
    changed = [name for name in first if first[name][0] != second[name][0]]
    assert len(changed) > len(first) // 2


def test_summary_matches_what_is_on_disk(demo):
    root, summary = demo
    assert (summary.start_date, summary.end_date) == (END - timedelta(days=DAYS - 1), END)
    assert summary.series == 3 * 2 * 5 and summary.locations == 6
    for partner_id, count in summary.files_per_partner.items():
        assert count == sum(1 for path in (root / partner_id).iterdir() if path.is_file())
    assert sum(summary.files_per_format.values()) == sum(summary.files_per_partner.values())
    assert set(summary.files_per_format) == {"csv", "xlsx", "json", "x12", "edifact"}
    assert sorted(path.name for path in (root / SUPPLIER_FOLDER).iterdir()) == [
        "partner_items.csv",
        "partner_locations.csv",
        "partners.csv",
        "products.csv",
        "replenishment_agreements.csv",
        "shipments.csv",
        "supplier_stock.csv",
    ]
    assert all(rows > 0 for rows in summary.rows_per_record_type.values())
    assert "huaxin_retail/" in str(summary) and "superseded" in str(summary)


def test_each_partner_sends_its_formats(demo):
    root, _ = demo
    suffixes = {partner_id: sorted({path.suffix for path in (root / partner_id).iterdir()}) for partner_id in CONFIGS}
    assert suffixes == {
        "redwood_grocers": [".csv", ".x12"],
        "hansa_handel": [".csv", ".edi"],
        "huaxin_retail": [".json", ".txt", ".xlsx"],
    }
    weekly = sorted((root / "redwood_grocers").glob("852_*.x12"))
    assert [path.name for path in weekly] == [
        "852_20250527_20250602.x12",
        "852_20250603_20250609.x12",
        "852_20250603_20250609_2.x12",
        "852_20250610_20250616.x12",
    ]
    assert len(list((root / "redwood_grocers").glob("846_*.x12"))) == 35 + 2, "daily since the 852s, plus 2 resends"
    assert not list((root / "redwood_grocers").glob("inventory_2025061*.csv")), "the 846 replaced daily CSV stock"


def test_every_partner_file_parses_with_the_committed_configs(demo):
    root, summary = demo
    assert sorted(summary.expected_quarantined) == sorted(PLANTED_QUARANTINE)
    parsed = 0
    for partner_id, config in CONFIGS.items():
        for path in sorted((root / partner_id).iterdir()):
            spec = config.spec_for(path.name)
            assert spec is not None, path
            relative = f"{partner_id}/{path.name}"
            reused_control = "control number" in PLANTED_QUARANTINE.get(relative, "")
            if relative in summary.expected_quarantined and not reused_control:
                with pytest.raises(FeedError, match=PLANTED_QUARANTINE[relative].split(" (")[0]):
                    parse_file(path, spec, partner_id, "x", default_currency=config.currency)
                continue
            result = parse_file(path, spec, partner_id, "x", default_currency=config.currency)
            assert result.rows_parsed > 0, path
            assert result.rows_rejected == (1 if relative in summary.expected_rejects else 0), path
            parsed += 1
    assert parsed == sum(summary.files_per_partner.values()) - len(summary.expected_quarantined) + 1


def test_loader_finds_exactly_the_planted_problems(demo, warehouse):
    _, summary = demo
    conn, report = warehouse
    assert summary.expected_duplicates == ("redwood_grocers/sales_20250624_resend.csv",)
    assert summary.expected_superseded == ("hansa_handel/SLSRPT_20250627.edi",)
    assert summary.expected_rejects == ("hansa_handel/SLSRPT_20250625.edi",)
    reasons = {o.path: o.reason for o in report.with_status("quarantined")}
    assert sorted(reasons) == sorted(PLANTED_QUARANTINE)
    for path, fragment in PLANTED_QUARANTINE.items():
        assert fragment in reasons[path], (path, reasons[path])
    assert [o.path for o in report.with_status("duplicate")] == list(summary.expected_duplicates)
    assert report.superseded == list(summary.expected_superseded)
    assert report.counts["loaded"] == sum(summary.files_per_partner.values()) - len(PLANTED_QUARANTINE) - 1
    ledger = dict(conn.execute(f"select path, status from {FEED_LEDGER_TABLE}").fetchall())
    assert ledger["hansa_handel/SLSRPT_20250627.edi"] == "superseded"
    assert ledger["hansa_handel/SLSRPT_20250627_2.edi"] == "loaded"
    rejects = conn.execute(f"select partner_id, record_type, reason from {FEED_REJECTS_TABLE}").fetchall()
    assert len(rejects) == summary.injected["bad_check_digit_rows"] == 1
    assert rejects[0][:2] == ("hansa_handel", "sales") and "check digit" in rejects[0][2]
    missing_control = conn.execute(
        f"""select count(*) from {FEED_LEDGER_TABLE}
            where format in ('x12', 'edifact') and status = 'loaded' and control_number is null"""
    ).fetchall()
    assert missing_control == [(0,)]
    loaded_rows = conn.execute("select sum(rows_parsed) from raw.feed_files where status = 'loaded'").fetchall()
    assert loaded_rows[0][0] > 10_000


def test_ingesting_the_landing_folder_twice_gives_identical_raw_tables(demo, warehouse):
    root, _ = demo
    conn, _ = warehouse
    before = raw_tables(conn)
    again = ingest_landing(conn, root, CONFIGS, now=NOW + timedelta(days=1))
    assert again.outcomes == [] and again.unchanged == sum(len(rows) for rows in [before[FEED_LEDGER_TABLE]])
    assert raw_tables(conn) == before
    fresh = duckdb.connect()
    try:
        ingest_landing(fresh, root, CONFIGS, now=NOW)
        assert raw_tables(fresh) == before, "the same folder loads to the same tables in a new warehouse"
    finally:
        fresh.close()


def test_each_series_and_day_is_reported_once(warehouse):
    conn, _ = warehouse
    twice = conn.execute(
        """select partner_id, location_id, product, sales_date, count(*) from sales_days
           group by all having count(*) > 1"""
    ).fetchall()
    assert twice == [], "a weekly 852 and a daily file never report the same day"
    weekly = conn.execute("select count(distinct sales_date) from sales_days where period_days = 7").fetchall()
    assert weekly == [(21,)]
    disagreeing = conn.execute("select count(*) from stock_days where distinct_counts > 1").fetchall()
    assert disagreeing == [(0,)], "the 852 week-end stock and the 846 of that day agree"
    week_ends = conn.execute("select count(*) from stock_days where reports > 1").fetchall()[0][0]
    assert week_ends == 3 * 2 * 5, "three week ends, two stores, five items"


# Lines of the loaded weekly 852s, in our product ids, with the case pack our shipments come in.
WEEKLY_852_LINES = """
    select s.location_id, i.product_id, s.period_start, s.period_end, s.units_received, s.units_out_of_stock,
           p.case_pack
    from raw.sales s
    join raw.feed_files f using (source_file_id)
    join raw.partner_items i on i.partner_id = s.partner_id and i.partner_item_ref = s.product_ref
    join raw.products p on p.product_id = i.product_id
    where f.status = 'loaded' and f.format = 'x12' and s.partner_id = 'redwood_grocers'
"""


def test_redwood_852s_report_receipts_of_whole_shipments_in_the_weeks_they_arrived(warehouse):
    conn, _ = warehouse
    receipts = conn.execute(f"select * from ({WEEKLY_852_LINES}) where units_received is not null").fetchall()
    assert len(receipts) >= 10
    for location_id, product_id, week_start, week_end, received, _, case_pack in receipts:
        assert received > 0 and received % case_pack == 0, "our shipments come in whole case packs"
        shipped = [
            qty
            for (qty,) in conn.execute(
                """select qty from raw.shipments
                   where partner_id = 'redwood_grocers' and location_id = ? and product_id = ?
                     and ship_date < ? and ship_date >= ? - interval 21 day""",
                [location_id, product_id, week_end, week_end],
            ).fetchall()
        ]
        sums = {sum(chosen) for count in range(1, len(shipped) + 1) for chosen in combinations(shipped, count)}
        assert received in sums, (location_id, product_id, week_start, received, shipped)
    elsewhere = conn.execute(
        """select count(*) from raw.sales s join raw.feed_files f using (source_file_id)
           where f.format <> 'x12' and (s.units_received is not null or s.units_out_of_stock is not null)"""
    ).fetchall()
    assert elsewhere == [(0,)], "only the 852 reports receipts and stock-outs"


def test_redwood_852s_report_stock_outs_now_and_then_where_the_shelf_ran_empty(warehouse):
    conn, _ = warehouse
    lines = conn.execute(WEEKLY_852_LINES).fetchall()
    stock_outs = [line for line in lines if line[5] is not None]
    assert 0 < len(stock_outs) < len(lines) / 3
    for location_id, product_id, week_start, week_end, *_ in stock_outs:
        emptied = conn.execute(
            """select count(*) from stock_days
               where partner_id = 'redwood_grocers' and location_id = ? and product = ?
                 and as_of_date between ? and ? and on_hand_qty = 0""",
            [location_id, product_id, week_start, week_end],
        ).fetchall()[0][0]
        assert emptied > 0, (location_id, product_id, week_start)


def test_master_data_identifiers_are_valid_gs1_codes(warehouse):
    conn, _ = warehouse
    gtins = [gtin for (gtin,) in conn.execute("select gtin from raw.products").fetchall()]
    glns = [gln for (gln,) in conn.execute("select gln from raw.partner_locations").fetchall()]
    assert len(gtins) == 8 and len(glns) == 6
    for code, length in [*((gtin, 14) for gtin in gtins), *((gln, 13) for gln in glns)]:
        assert len(code) == length and code.isdigit()
        assert gs1_check_digit(code[:-1]) == code[-1]
    ref_types = dict(
        conn.execute(
            "select partner_id, list(distinct ref_type order by ref_type) from raw.partner_items group by 1"
        ).fetchall()
    )
    assert ref_types == {"redwood_grocers": ["gtin", "upc"], "hansa_handel": ["ean", "gtin"], "huaxin_retail": ["sku"]}
    agreements = conn.execute(
        """select count(*) filter (where product_id is null), count(*),
                  min(lead_time_days), max(lead_time_days),
                  min(service_level), max(service_level), min(review_period_days), max(review_period_days)
           from raw.replenishment_agreements"""
    ).fetchall()[0]
    assert agreements[0] == 3 and agreements[1] > 3
    assert agreements[2] >= 2 and agreements[3] <= 7
    assert agreements[4] >= 0.9 and agreements[5] <= 0.98
    assert agreements[6] >= 1 and agreements[7] <= 7


def test_edi_rows_load_as_gtin_14_that_resolve_to_products(warehouse):
    conn, _ = warehouse
    refs = conn.execute(
        """select f.format, min(length(s.product_ref)), max(length(s.product_ref))
           from raw.sales s join raw.feed_files f using (source_file_id)
           where f.status = 'loaded' and f.partner_id <> 'huaxin_retail' group by 1 order by 1"""
    ).fetchall()
    assert refs == [("csv", 12, 13), ("edifact", 14, 14), ("x12", 14, 14)]


def test_unknown_items_and_stores_are_loaded_for_the_quality_layer(demo, warehouse):
    _, summary = demo
    conn, _ = warehouse
    unknown_items = conn.execute(
        """select s.partner_id, count(*) from raw.sales s
           anti join raw.partner_items i on i.partner_id = s.partner_id and i.partner_item_ref = s.product_ref
           group by 1"""
    ).fetchall()
    assert unknown_items == [("huaxin_retail", summary.injected["unknown_item_rows"])]
    unknown_locations = conn.execute(
        """select s.partner_id, s.location_id, count(*) from (
               select partner_id, location_id from raw.stock_snapshots
               union all select partner_id, location_id from raw.sales
           ) s
           anti join raw.partner_locations l on l.partner_id = s.partner_id and l.location_id = s.location_id
           group by all order by all"""
    ).fetchall()
    assert unknown_locations == [
        ("huaxin_retail", "SZ009", summary.injected["unknown_location_rows"]),
        ("redwood_grocers", "4471", summary.injected["unknown_store_rows"]),
    ]
    negatives = conn.execute(
        "select partner_id, count(*) from raw.stock_snapshots where on_hand_qty < 0 group by 1"
    ).fetchall()
    assert negatives == [("huaxin_retail", summary.injected["negative_on_hand"])]
    assert summary.injected["negative_on_hand"] == 3


def test_one_hansa_file_arrives_after_the_cutoff(demo):
    root, summary = demo
    assert summary.late_files == ("hansa_handel/INVRPT_20250626.edi",)
    config = CONFIGS["hansa_handel"]
    daily = [*root.glob("hansa_handel/Bestand_2025????.csv"), *root.glob("hansa_handel/INVRPT_2025????.edi")]
    assert len(daily) == 14
    for path in sorted(daily):
        business_day = datetime.strptime(path.stem.split("_")[1], "%Y%m%d").date()
        delivered = datetime.fromtimestamp(path.stat().st_mtime, ZoneInfo(config.timezone))
        deadline = datetime.combine(business_day + timedelta(days=1), config.cutoff_time, ZoneInfo(config.timezone))
        late = f"hansa_handel/{path.name}" in summary.late_files
        assert (delivered > deadline) == late, path
        assert delivered.date() == business_day + timedelta(days=1)


def _series_days(conn):
    """Stock joined to daily-reported sales per series and day, without the planted phantom stock and unknown store."""
    return conn.execute(
        """with joined as (
               select st.partner_id, st.location_id, st.product, st.as_of_date, st.on_hand_qty,
                      s.units_sold,
                      lag(st.on_hand_qty) over w as previous_on_hand,
                      lag(st.as_of_date) over w as previous_date
               from stock_days st
               join sales_days s on s.partner_id = st.partner_id and s.location_id = st.location_id
                   and s.product = st.product and s.sales_date = st.as_of_date and s.period_days = 1
               semi join raw.partner_locations l
                   on l.partner_id = st.partner_id and l.location_id = st.location_id
               window w as (partition by st.partner_id, st.location_id, st.product order by st.as_of_date)
           )
           select * from joined
           where on_hand_qty >= 0 and coalesce(previous_on_hand, 0) >= 0"""
    ).df()


def test_sales_never_exceed_available_stock_and_stock_outs_happen(warehouse):
    conn, _ = warehouse
    days = _series_days(conn)
    assert len(days) > 5_000
    assert (days["on_hand_qty"] >= 0).all()
    consecutive = days[days["previous_date"] == days["as_of_date"] - timedelta(days=1)]
    implied_receipts = consecutive["on_hand_qty"] - consecutive["previous_on_hand"] + consecutive["units_sold"]
    assert len(consecutive) > 5_000
    assert (implied_receipts >= 0).all(), "selling more than was on the shelf"
    shipped = conn.execute("select sum(qty) from raw.shipments").fetchall()[0][0]
    assert 0 < implied_receipts.sum() <= shipped
    stock_outs = days[days["on_hand_qty"] == 0]
    assert len(stock_outs) > 20
    assert stock_outs["partner_id"].nunique() == 3
    assert len(stock_outs) / len(days) < 0.15


def test_slow_movers_are_intermittent(warehouse):
    conn, _ = warehouse
    series = conn.execute(
        """select partner_id, location_id, product, avg(units_sold) as mean_sold,
                  avg(case when units_sold = 0 then 1 else 0 end) as zero_share
           from sales_days where period_days = 1 group by all having count(*) > 30"""
    ).df()
    slow = series[series["mean_sold"] < 0.5]
    assert len(series) >= 30
    assert len(slow) >= 0.15 * len(series)
    assert (slow["zero_share"] > 0.5).all()
    assert series.loc[series["mean_sold"] > 2, "zero_share"].mean() < 0.3


def test_redwood_sells_more_at_weekends_than_midweek(warehouse):
    conn, _ = warehouse
    weekend, midweek = conn.execute(
        """select avg(units_sold) filter (where isodow(sales_date) in (6, 7)),
                  avg(units_sold) filter (where isodow(sales_date) in (2, 3, 4))
           from sales_days where partner_id = 'redwood_grocers' and period_days = 1"""
    ).fetchall()[0]
    assert midweek > 0
    assert weekend > 1.15 * midweek


def test_redwood_flags_promotions_that_lift_sales(warehouse):
    conn, _ = warehouse
    promo, regular, flagged = conn.execute(
        """select avg(units_sold) filter (where promo_flag), avg(units_sold) filter (where not promo_flag),
                  count(*) filter (where promo_flag)
           from sales_days where partner_id = 'redwood_grocers'"""
    ).fetchall()[0]
    assert flagged > 50
    assert promo > 1.3 * regular


def test_shipments_respect_case_packs_and_some_are_in_transit(warehouse):
    conn, _ = warehouse
    off_pack, in_transit, total = conn.execute(
        """select count(*) filter (where s.qty % p.case_pack <> 0),
                  count(*) filter (where s.expected_receipt_date > date '2025-06-30'),
                  count(*)
           from raw.shipments s join raw.products p using (product_id)"""
    ).fetchall()[0]
    assert total > 100
    assert off_pack == 0
    assert in_transit > 0


def test_partner_forecasts_are_weekly_and_huaxin_over_forecasts(warehouse):
    conn, _ = warehouse
    shape = conn.execute(
        """select count(distinct isodow(forecast_date)), min(target_period_end - target_period_start),
                  max(target_period_end - target_period_start), count(*) from raw.partner_forecasts"""
    ).fetchall()[0]
    assert shape[:3] == (1, 6, 6) and shape[3] > 1000
    per_issue = conn.execute(
        """select count(distinct target_period_start) from raw.partner_forecasts
           group by partner_id, location_id, product_ref, forecast_date"""
    ).fetchall()
    assert {count for (count,) in per_issue} == {8}
    ratio = dict(
        conn.execute(
            """with weekly as (
                   select f.partner_id, f.forecast_qty,
                          (select sum(units_sold) from sales_days s
                           where s.partner_id = f.partner_id and s.location_id = f.location_id
                             and s.product = i.product_id
                             and s.sales_date between f.target_period_start and f.target_period_end) as sold
                   from raw.partner_forecasts f
                   join raw.partner_items i on i.partner_id = f.partner_id and i.partner_item_ref = f.product_ref
                   where f.target_period_start = f.forecast_date + 7
                     and f.target_period_end <= date '2025-06-20'
               )
               select partner_id, sum(forecast_qty) / sum(sold) from weekly group by 1"""
        ).fetchall()
    )
    assert ratio["huaxin_retail"] > 1.15
    assert ratio["huaxin_retail"] > ratio["redwood_grocers"] + 0.1


def test_full_scale_has_about_190_series(tmp_path):
    summary = generate_demo(tmp_path, CONFIG_DIR, seed=3, end_date=END)
    assert summary.series == 192 and summary.products == 20
    assert summary.start_date == END - timedelta(days=729)
    assert summary.rows_per_record_type["sales"] > 100_000
    assert summary.files_per_format["x12"] > 30 and summary.files_per_format["edifact"] > 10


def test_default_end_date_is_yesterday(tmp_path):
    summary = generate_demo(tmp_path, CONFIG_DIR, days=80, scale="small")
    assert summary.end_date == date.today() - timedelta(days=1)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        generate_demo(tmp_path, CONFIG_DIR, scale="huge")
    with pytest.raises(ValueError, match="days"):
        generate_demo(tmp_path, CONFIG_DIR, days=10)
    with pytest.raises(ValueError, match="locations must be from 1 to 999"):
        generate_demo(tmp_path, CONFIG_DIR, locations=1000)


def test_the_generator_is_a_package_of_small_modules_without_dagster():
    modules = sorted(Path(demo_package.__file__).parent.glob("*.py"))
    assert len(modules) > 5
    for module in modules:
        source = module.read_text(encoding="utf-8")
        assert len(source.splitlines()) < 600, f"{module.name} is over 600 lines"
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {name for name in imported if name.split(".")[0] in {"dagster", "orchestration"}}, module.name
    assert all(hasattr(demo_package, name) for name in demo_package.__all__)
    assert "generate_demo" in demo_package.__all__ and "DemoSummary" in demo_package.__all__


def test_the_count_in_cases_moves_its_store_to_the_second_interchange_when_the_later_stores_have_none(tmp_path):
    # Seed 5's first store has the only count that is whole or an exact fraction of cases that day.
    generate_demo(tmp_path, CONFIG_DIR, seed=5, days=70, end_date=END, scale="small")
    text = (tmp_path / f"redwood_grocers/846_{END - timedelta(days=7):%Y%m%d}.x12").read_text()
    first, second = text.split("ISA*")[1:]
    assert "00501" in second and not first.count("*CA~")
    assert second.count("*CA~") == 1 and "N1*ST*Lincoln Park*92*1042~" in second


def test_one_846_comes_as_two_interchanges_the_second_in_005010_with_a_count_in_cases(demo, warehouse):
    """A week before the end, the 846 holds two interchanges; the second (005010, answered by a 999) reports one
    count in cases (whole or an opened one), which the case pack turns back into the units the partner counted."""
    root, _ = demo
    conn, _ = warehouse
    name = f"redwood_grocers/846_{END - timedelta(days=7):%Y%m%d}.x12"
    text = (root / name).read_text()
    assert [line[84:89] for line in text.splitlines() if line.startswith("ISA")] == ["00401", "00501"]
    [cased] = [line for line in text.splitlines() if line.endswith("*CA~")]
    outcomes = conn.execute(
        """select interchange_index, version, outcome, interchanges.quantities_loaded
           from raw.edi_interchanges as interchanges join raw.feed_files using (source_file_id)
           where path = ? order by interchange_index""",
        [name],
    ).fetchall()
    assert [row[:3] for row in outcomes] == [(1, "004010", "loaded"), (2, "005010", "loaded")]
    assert (
        sum(row[3] for row in outcomes)
        == conn.execute("select rows_parsed from raw.feed_files where path = ?", [name]).fetchone()[0]
    )
    product_ref, on_hand = conn.execute(
        """select product_ref, on_hand_qty from raw.stock_snapshots
           join raw.feed_files using (source_file_id) where path = ? and uom = 'CA'""",
        [name],
    ).fetchone()
    assert on_hand == float(cased.split("*")[2]) > 0
    case_pack = conn.execute(
        """select coalesce(agreements.case_pack, products.case_pack) from raw.partner_items as items
           join raw.products as products using (product_id)
           left join raw.replenishment_agreements as agreements
               on agreements.partner_id = items.partner_id and agreements.product_id = items.product_id
           where items.partner_id = 'redwood_grocers' and items.partner_item_ref = ?""",
        [product_ref],
    ).fetchone()[0]
    assert case_pack in (6, 12, 24), "the warehouse knows the case pack, so it converts the count to units"
    assert (on_hand * case_pack).is_integer(), "whole cases, or an opened one: always whole units"


def test_promotion_calendars_state_the_promotions_the_sales_show_after_revisions_and_cancellations(warehouse):
    conn, _ = warehouse
    latest = """
        with statements as (
            select promotions.*, files.received_at
            from raw.partner_promotions as promotions
            inner join raw.feed_files as files using (source_file_id)
            where files.status = 'loaded'
        )
        select * from statements
        qualify row_number() over (partition by partner_id, promo_id order by received_at desc) = 1
    """
    calendar_days = set(
        conn.execute(
            f"""select product_ref, cast(day as date)
                from ({latest}), unnest(generate_series(promo_start, promo_end, interval 1 day)) as days(day)
                where partner_id = 'redwood_grocers' and not cancelled and location_id is null"""
        ).fetchall()
    )
    sales = conn.execute(
        """select product_ref, sales_date, bool_or(promo_flag) from sales_days
           where partner_id = 'redwood_grocers' group by all"""
    ).fetchall()
    flagged = {(ref, day) for ref, day, flag in sales if flag}
    assert len(flagged) > 50
    assert flagged == calendar_days & {(ref, day) for ref, day, _ in sales}
    revised, cancelled = conn.execute(
        """select count(distinct partner_id || promo_id) filter (where statements > 1 and not any_cancelled),
                  count(*) filter (where any_cancelled)
           from (select partner_id, promo_id, count(*) as statements, bool_or(cancelled) as any_cancelled
                 from raw.partner_promotions group by all)"""
    ).fetchall()[0]
    assert revised > 0 and cancelled > 0
    types = {row[0] for row in conn.execute("select distinct promo_type from raw.partner_promotions").fetchall()}
    assert types == {"discount", "display", "feature"}


@pytest.mark.parametrize("partner_id", ["hansa_handel", "huaxin_retail"])
def test_a_long_history_written_a_few_rows_at_a_time_gives_the_same_bytes(partner_id, tmp_path, monkeypatch):
    """Backfill files are rendered a block of days at a time (the whole history's rows are never held at once):
    blocks of a few days, their stores and items as categoricals, give the bytes of all rows rendered at once (one
    byte order mark, one header)."""
    config, days = CONFIGS[partner_id], 70
    calendar = pd.date_range(END - timedelta(days=days - 1), periods=days + 63, freq="D")
    partner = simulate_partner(config, build_catalogue(7, "small"), calendar, days, 7, "small")
    writer, history = PartnerWriter(tmp_path, partner, calendar[0].date(), END, 7), partner.history
    monkeypatch.setattr(simulation, "BLOCK_ROWS", 45)
    spans = list(history.blocks(0, days))
    assert len(spans) > 10 and spans[0] == (0, 4) and spans[-1][1] == days
    dates = pd.DatetimeIndex(history.dates)
    blocks = ((dates[first], dates[stop - 1], history.sales(first, stop, categorical=True)) for first, stop in spans)
    [path] = writer._write_blocks("sales", "blocks", blocks, 0.0)
    written = path.read_bytes()
    spec = config.specs_for("sales")[0]
    whole = render_delimited(history.sales(0, days), spec, config, partner.items).encode(spec.encoding)
    assert written == whole and len(whole.splitlines()) == len(history.sales(0, days)) + 1


def test_delimited_files_quote_fields_as_a_csv_writer_does_with_or_without_the_header():
    config = CONFIGS["redwood_grocers"]
    spec = config.specs_for("stock")[0]
    rows = pd.DataFrame(
        {
            "location_id": ["1042", 'Say "hi"', "a,b", "line\nbreak", ""],
            "product_ref": ["0842150100110", "x", "y", "z", "w"],
            "as_of_date": pd.to_datetime(["2025-06-01"] * 5),
            "on_hand_qty": [3.0, -1.0, 0.0, 12.0, 7.0],
        }
    )
    items = pd.DataFrame({"partner_item_ref": [], "product_id": []})
    text = render_delimited(rows, spec, config, items)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert frame[spec.columns["location_id"]].tolist() == rows["location_id"].tolist()
    assert text.count("\n") == len(rows) + 2, "the header, five rows and the break inside a quoted field"
    body = render_delimited(rows, spec, config, items, header=False)
    assert text == text.split("\n", 1)[0] + "\n" + body


def test_more_partners_are_made_from_the_configured_ones_with_names_and_configs_of_their_own(demo, tmp_path):
    """``partners=5``: the three configured partners, then one like each of the first two (in id order), with their
    own names, ids, stores, GS1 prefixes and EDI ids; every partner's config lies in the landing's ``_partners``
    folder and the pipeline reads the new partners' files with them as it reads the configured three's."""
    summary = generate_demo(tmp_path, CONFIG_DIR, seed=7, days=70, end_date=END, scale="small", partners=5)
    configs = load_partner_configs(tmp_path / "_partners")
    assert len(configs) == 5 and set(CONFIGS) < set(configs) and set(summary.files_per_partner) == set(configs)
    made = [configs[partner_id] for partner_id in set(configs) - set(CONFIGS)]
    archetypes = {config.country: config for config in CONFIGS.values()}
    assert {archetypes[config.country].partner_id for config in made} == set(sorted(CONFIGS)[:2])
    for config in made:
        archetype = archetypes[config.country]
        assert [spec.pattern for spec in config.files] == [spec.pattern for spec in archetype.files]
        assert (config.timezone, config.currency) == (archetype.timezone, archetype.currency)
        assert config.name != archetype.name and config.partner_id in config.name.lower().replace(" ", "_")
        assert config.demo["imperfections"] == archetype.demo["imperfections"]
        assert config.demo["gln_prefix"][:2] == archetype.demo["gln_prefix"][:2]
        assert config.demo["gln_prefix"] != archetype.demo["gln_prefix"]
        assert {store["id"] for store in config.demo["stores"]} != {store["id"] for store in archetype.demo["stores"]}
    assert len({config.demo["seed_offset"] for config in configs.values()}) == 5
    for partner_id in CONFIGS:
        configured = (CONFIG_DIR / f"{partner_id}.yaml").read_bytes()
        assert (tmp_path / "_partners" / f"{partner_id}.yaml").read_bytes() == configured
    assert partner_documents(CONFIGS, 5, 7) == partner_documents(CONFIGS, 5, 7)
    assert partner_documents(CONFIGS, 5, 8).keys() != partner_documents(CONFIGS, 5, 7).keys(), "names by the seed"
    root, _ = demo
    assert not (root / "_partners").exists(), "without the option, no configs are written"

    conn = duckdb.connect()
    load_master_data(conn, tmp_path / SUPPLIER_FOLDER)
    made_ids = {config.partner_id for config in made}
    report = ingest_landing(conn, tmp_path, configs, now=NOW, partners=made_ids)
    expected = [path for path in summary.expected_quarantined if path.split("/")[0] in made_ids]
    assert expected and sorted(outcome.path for outcome in report.with_status("quarantined")) == expected
    loaded = conn.execute("select partner_id, count(*) from raw.stock_snapshots group by all").fetchall()
    assert {partner_id for partner_id, rows in loaded if rows} == made_ids
    conn.close()


def test_the_count_of_partners_is_checked(tmp_path):
    with pytest.raises(ValueError, match="partners must be from 1"):
        generate_demo(tmp_path, CONFIG_DIR, partners=0)


def test_a_late_file_is_held_back_until_an_end_reaches_its_arrival(tmp_path):
    """Hansa's late stock file comes back every four weeks after the first end; on a landing ending on its business
    day it arrives after that night, so it is written only by a later end, with every other file as it was."""
    generate_demo(tmp_path, CONFIG_DIR, seed=7, days=70, end_date=END, scale="small")
    late_day = END + timedelta(days=28 - 4)
    late = f"hansa_handel/INVRPT_{late_day:%Y%m%d}.edi"
    held = generate_demo(tmp_path, CONFIG_DIR, seed=7, end_date=late_day, scale="small")
    assert held.held_back == (late,) and late not in held.late_files
    assert not (tmp_path / late).exists()
    assert (tmp_path / f"hansa_handel/SLSRPT_{late_day:%Y%m%d}.edi").exists(), "the day's other files are there"
    before = files_of(tmp_path)
    reached = generate_demo(tmp_path, CONFIG_DIR, seed=7, end_date=late_day + timedelta(days=1), scale="small")
    after = files_of(tmp_path)
    assert {name: after.get(name) for name in before} == before
    assert late in after and reached.held_back == () and late in reached.late_files
    arrived = datetime.fromtimestamp(after[late][1] / 1e9, ZoneInfo("Europe/Berlin"))
    assert arrived.date() == late_day + timedelta(days=1) and arrived.time() > CONFIGS["hansa_handel"].cutoff_time


def test_shipments_are_written_a_block_of_rows_at_a_time_with_the_same_bytes(tmp_path, monkeypatch):
    """The supplier's shipment history (millions of rows at supplier sizes) is made into text a block at a time:
    the same file, numbered on across blocks, as when written whole."""
    days = 70
    calendar = pd.date_range(END - timedelta(days=days - 1), periods=days + 63, freq="D")
    partner = simulate_partner(CONFIGS["redwood_grocers"], build_catalogue(7, "small"), calendar, days, 7, "small")
    shipments = partner.shipments.sort_values(["ship_date", "location_id", "product_id"], kind="stable")
    shipments = shipments.reset_index(drop=True)
    table = MASTER_DATA_FILES["shipments.csv"]
    supplier._write_master_file(tmp_path / "whole.csv", shipments, table, END)
    monkeypatch.setattr(supplier, "SHIPMENT_BLOCK_ROWS", 7)
    supplier._write_master_file(tmp_path / "blocks.csv", shipments, table, END)
    whole = (tmp_path / "whole.csv").read_text()
    assert len(shipments) > 20 and (tmp_path / "blocks.csv").read_text() == whole
    assert whole.splitlines()[1].startswith("SHP-0000001,") and f"SHP-{len(shipments):07d}," in whole.splitlines()[-1]


def test_a_backfill_over_the_partner_s_file_size_limit_comes_in_parts_under_it(demo, tmp_path, monkeypatch):
    """At supplier size two years of one record type would be one file of a gigabyte, which the partner's own
    ``max_file_mib`` quarantines: the demo splits it into parts under the limit, named by the dates they cover, with
    the same rows; a backfill under the limit stays one file (the default landing above)."""
    root, _ = demo
    configs = tmp_path / "partners"
    shutil.copytree(CONFIG_DIR, configs)
    config = configs / "redwood_grocers.yaml"
    limit_mib = 0.05
    config.write_text(config.read_text() + f"limits:\n  max_file_mib:\n    csv: {limit_mib}\n")
    landing = tmp_path / "landing"
    monkeypatch.setattr(simulation, "BLOCK_ROWS", 200)  # blocks of a few days, as at supplier size
    generate_demo(landing, configs, seed=7, days=DAYS, end_date=END, scale="small")

    def backfill(folder):
        return sorted(path for path in folder.glob("sales_*.csv") if re.fullmatch(r"sales_\d{8}_\d{8}\.csv", path.name))

    [whole] = backfill(root / "redwood_grocers")
    parts = backfill(landing / "redwood_grocers")
    assert len(parts) > 1 and all(part.stat().st_size <= limit_mib * 2**20 for part in parts)
    header, *rows = whole.read_text().splitlines()
    assert [line for part in parts for line in part.read_text().splitlines()[1:]] == rows
    assert all(part.read_text().splitlines()[0] == header for part in parts)
    tokens = [part.stem.split("_", 1)[1].split("_") for part in parts]
    assert tokens[0][0] == whole.stem.split("_")[1] and tokens[-1][1] == whole.stem.split("_")[2]
    for (_, last), (first, _) in zip(tokens, tokens[1:], strict=False):
        assert date.fromisoformat(first) == date.fromisoformat(last) + timedelta(days=1), "no day lost or repeated"
    conn = duckdb.connect()
    load_master_data(conn, landing / SUPPLIER_FOLDER)
    report = ingest_landing(conn, landing, load_partner_configs(configs), now=NOW)
    outcome = {item.path: item.status for item in report.outcomes}
    assert all(outcome[f"redwood_grocers/{part.name}"] == "loaded" for part in parts)
