"""The GX suites for raw feeds, stock reconciliation and feed volume on small hand-made frames: a clean partner
passes every rule, each broken one fails exactly the rules it breaks, with the severity that decides whether it
is held (error) or only shown (warning)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from expectations.raw_feeds import (
    SALES_DATE_COLUMN,
    STOCK_DATE_COLUMN,
    raw_sales_suite,
    raw_stock_snapshots_suite,
)
from expectations.reconciliation import DATE_COLUMN as RECONCILIATION_DATE_COLUMN
from expectations.reconciliation import stock_reconciliation_suite
from expectations.runner import (
    SEVERITY_ERROR,
    SEVERITY_WARNING,
    blocking_partners,
    run_suite_on_partners,
    validate_by_partner,
)
from expectations.volume import feed_volume_suite, partner_daily_volume

AS_OF = date(2025, 3, 10)
DAYS = pd.date_range("2025-03-01", "2025-03-10")


def failures(outcomes, partner_id: str) -> set[tuple[str, str | None, str]]:
    return {(o.expectation, o.column, o.severity) for o in outcomes if o.partner_id == partner_id and not o.passed}


# --- raw sales ------------------------------------------------------------------------------------------------


def sales_lines(partner_id: str, units: list[float] | None = None) -> pd.DataFrame:
    """Ten days x ten items of daily sales lines, one file per day."""
    grid = pd.MultiIndex.from_product([DAYS, [f"SKU-{i}" for i in range(10)]], names=["day", "product_ref"])
    frame = grid.to_frame(index=False)
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_ref": frame["product_ref"],
            "period_start": frame["day"],
            "period_end": frame["day"],
            "units_sold": units if units is not None else 3.0,
            "units_returned": 0.0,
            "source_file_id": "f-" + frame["day"].dt.strftime("%m%d"),
            "source_line": frame.index + 2,
        }
    )


@pytest.fixture(scope="module")
def sales_outcomes():
    one_negative = sales_lines("one_negative", [3.0] * 99 + [-1.0])
    many_negative = sales_lines("many_negative", [-1.0] * 10 + [3.0] * 90)
    future = sales_lines("future")
    future.loc[0, ["period_start", "period_end"]] = pd.Timestamp("2025-03-11")
    blank_item = sales_lines("blank_item")
    blank_item.loc[5, "product_ref"] = None
    duplicated = sales_lines("duplicated")
    duplicated = pd.concat([duplicated, duplicated.iloc[[0]]], ignore_index=True)
    frame = pd.concat([sales_lines("clean"), one_negative, many_negative, future, blank_item, duplicated])
    return validate_by_partner(frame, raw_sales_suite(AS_OF))


def test_partners_read_one_at_a_time_are_judged_as_in_one_frame(sales_outcomes):
    read = []

    def partners():
        for partner in ["clean", "one_negative"]:
            read.append(partner)
            yield partner, sales_lines(partner, [3.0] * 99 + [-1.0] if partner == "one_negative" else None)

    run = run_suite_on_partners(partners(), raw_sales_suite(AS_OF))
    assert read == ["clean", "one_negative"] and sorted(run.results) == read
    assert run.rows_checked == 200
    assert run.outcomes == [o for o in sales_outcomes if o.partner_id in read]


def test_clean_sales_pass_every_rule(sales_outcomes):
    assert failures(sales_outcomes, "clean") == set()
    assert len([o for o in sales_outcomes if o.partner_id == "clean"]) > 10


def test_a_negative_sales_line_warns_and_many_hold_the_partner(sales_outcomes):
    between = "expect_column_values_to_be_between"
    assert failures(sales_outcomes, "one_negative") == {(between, "units_sold", SEVERITY_WARNING)}
    assert failures(sales_outcomes, "many_negative") == {
        (between, "units_sold", SEVERITY_WARNING),
        (between, "units_sold", SEVERITY_ERROR),
    }


def test_future_dates_and_blank_keys_hold_the_partner_and_repeated_lines_warn(sales_outcomes):
    assert failures(sales_outcomes, "future") == {("expect_column_values_to_be_between", "period_end", SEVERITY_ERROR)}
    assert failures(sales_outcomes, "blank_item") == {
        ("expect_column_values_to_not_be_null", "product_ref", SEVERITY_ERROR)
    }
    assert failures(sales_outcomes, "duplicated") == {
        (
            "expect_compound_columns_to_be_unique",
            "source_file_id,location_id,product_ref,period_start,period_end",
            SEVERITY_WARNING,
        )
    }
    assert set(blocking_partners(sales_outcomes)) == {"many_negative", "future", "blank_item"}


def test_a_parser_that_lost_a_column_holds_the_partner():
    lines = sales_lines("no_units").drop(columns=["units_sold"])
    failed = failures(validate_by_partner(lines, raw_sales_suite(AS_OF)), "no_units")
    assert ("expect_table_columns_to_match_set", None, SEVERITY_ERROR) in failed
    assert {severity for _, _, severity in failed} == {SEVERITY_ERROR, SEVERITY_WARNING}


# --- raw stock ------------------------------------------------------------------------------------------------


def stock_lines(partner_id: str, on_hand: list[float] | None = None) -> pd.DataFrame:
    lines = sales_lines(partner_id)
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": lines["location_id"],
            "product_ref": lines["product_ref"],
            "as_of_date": lines["period_end"],
            "on_hand_qty": on_hand if on_hand is not None else 12.0,
            "on_order_qty": 0.0,
            "in_transit_qty": 0.0,
            "uom": "EA",
            "source_file_id": lines["source_file_id"],
            "source_line": lines["source_line"],
        }
    )


@pytest.fixture(scope="module")
def stock_outcomes():
    blank_count = stock_lines("blank_count")
    blank_count.loc[3, "on_hand_qty"] = np.nan
    counted_twice = stock_lines("counted_twice")
    counted_twice = pd.concat([counted_twice, counted_twice.iloc[[7]]], ignore_index=True)
    frame = pd.concat(
        [
            stock_lines("clean"),
            stock_lines("phantom", [12.0] * 99 + [-2.0]),
            stock_lines("broken_counts", [-5.0] * 5 + [12.0] * 95),
            blank_count,
            counted_twice,
        ]
    )
    return validate_by_partner(frame, raw_stock_snapshots_suite(AS_OF))


def test_clean_stock_passes_and_each_broken_feed_fails_with_its_severity(stock_outcomes):
    between = "expect_column_values_to_be_between"
    assert failures(stock_outcomes, "clean") == set()
    assert failures(stock_outcomes, "phantom") == {(between, "on_hand_qty", SEVERITY_WARNING)}
    assert failures(stock_outcomes, "broken_counts") == {
        (between, "on_hand_qty", SEVERITY_WARNING),
        (between, "on_hand_qty", SEVERITY_ERROR),
    }
    assert failures(stock_outcomes, "blank_count") == {
        ("expect_column_values_to_not_be_null", "on_hand_qty", SEVERITY_ERROR)
    }
    assert failures(stock_outcomes, "counted_twice") == {
        ("expect_compound_columns_to_be_unique", "source_file_id,location_id,product_ref,as_of_date", SEVERITY_WARNING)
    }
    assert set(blocking_partners(stock_outcomes)) == {"broken_counts", "blank_count"}


# --- stock reconciliation -------------------------------------------------------------------------------------


def reconciliation_rows(partner_id: str, above_tolerance: int) -> pd.DataFrame:
    """A hundred reconciled counts (ten items x ten days), the first `above_tolerance` of them off."""
    lines = sales_lines(partner_id)
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_id": lines["product_ref"].str.replace("SKU", "P"),
            "reconciliation_date": lines["period_end"],
            "gap_qty": [8.0] * above_tolerance + [0.0] * (100 - above_tolerance),
            "is_above_tolerance": [True] * above_tolerance + [False] * (100 - above_tolerance),
        }
    )


def test_reconciliation_warns_on_a_few_gaps_and_holds_on_many():
    frame = pd.concat(
        [reconciliation_rows("clean", 0), reconciliation_rows("some_gaps", 10), reconciliation_rows("adrift", 30)]
    )
    outcomes = validate_by_partner(frame, stock_reconciliation_suite(AS_OF))
    in_set = "expect_column_values_to_be_in_set"
    assert failures(outcomes, "clean") == set()
    assert failures(outcomes, "some_gaps") == {(in_set, "is_above_tolerance", SEVERITY_WARNING)}
    assert failures(outcomes, "adrift") == {
        (in_set, "is_above_tolerance", SEVERITY_WARNING),
        (in_set, "is_above_tolerance", SEVERITY_ERROR),
    }
    assert RECONCILIATION_DATE_COLUMN in frame


# --- feed volume ----------------------------------------------------------------------------------------------


def daily_volume(partner_id: str, units_per_day: dict[str, float], lines_per_day: int = 4) -> pd.DataFrame:
    """`lines_per_day` sales lines on each listed day, sharing that day's units."""
    return pd.DataFrame(
        [
            {"partner_id": partner_id, "period_end": pd.Timestamp(day), "units_sold": units / lines_per_day}
            for day, units in units_per_day.items()
            for _ in range(lines_per_day)
        ]
    )


def steady(partner_id: str, today: float | None, days: int = 28) -> pd.DataFrame:
    """100 units a day for `days` days before the business date, then `today` (None: no file today)."""
    history = {str(AS_OF - pd.Timedelta(days=offset)): 100.0 for offset in range(1, days + 1)}
    if today is not None:
        history[str(AS_OF)] = today
    return daily_volume(partner_id, history)


def test_volume_is_the_day_against_the_trailing_median_with_empty_days_as_zero():
    rows = pd.concat([steady("steady", 150.0), steady("lost_file", None)])
    # A day in the window without any rows counts as zero, not as a gap.
    rows = rows[~((rows["partner_id"] == "steady") & (rows["period_end"] == pd.Timestamp("2025-03-05")))]
    volume = partner_daily_volume(rows, AS_OF, SALES_DATE_COLUMN, "units_sold").set_index("partner_id")
    assert volume.loc["steady", "units"] == 150.0
    assert volume.loc["steady", "row_count"] == 4
    assert volume.loc["steady", "trailing_days_with_rows"] == 27
    assert volume.loc["steady", "trailing_median_units"] == 100.0
    assert volume.loc["steady", "volume_ratio"] == 1.5
    assert volume.loc["lost_file", ["row_count", "units", "volume_ratio", "row_count_ratio"]].tolist() == [0, 0, 0, 0]
    assert (volume["volume_date"] == pd.Timestamp(AS_OF)).all()


def test_a_short_history_or_a_weekly_feed_is_not_judged():
    weekly = daily_volume("weekly", {str(AS_OF - pd.Timedelta(days=7 * k)): 700.0 for k in range(4)})
    rows = pd.concat([steady("new_partner", 100.0, days=3), weekly])
    volume = partner_daily_volume(rows, AS_OF, SALES_DATE_COLUMN, "units_sold").set_index("partner_id")
    assert volume["volume_ratio"].isna().all()
    assert volume["row_count_ratio"].isna().all()


def test_without_a_quantity_the_volume_is_the_line_count():
    rows = steady("lines", 100.0).rename(columns={"period_end": STOCK_DATE_COLUMN})
    volume = partner_daily_volume(rows, AS_OF, STOCK_DATE_COLUMN)
    assert volume.loc[0, ["units", "volume_ratio"]].tolist() == [4.0, 1.0]


def test_a_drop_or_a_spike_warns_and_a_lost_file_or_unit_mix_up_holds_the_partner():
    rows = pd.concat(
        [
            steady("usual", 120.0),
            steady("slow_day", 40.0),
            steady("lost_file", None),
            steady("in_cases", 1200.0),
            steady("new_partner", 10.0, days=2),
        ]
    )
    volume = partner_daily_volume(rows, AS_OF, SALES_DATE_COLUMN, "units_sold")
    outcomes = validate_by_partner(volume, feed_volume_suite(AS_OF))
    between = "expect_column_values_to_be_between"
    assert failures(outcomes, "usual") == set()
    assert failures(outcomes, "new_partner") == set()
    assert failures(outcomes, "slow_day") == {(between, "volume_ratio", SEVERITY_WARNING)}
    assert failures(outcomes, "lost_file") == {
        (between, column, severity)
        for column in ("volume_ratio", "row_count_ratio")
        for severity in (SEVERITY_WARNING, SEVERITY_ERROR)
    }
    assert failures(outcomes, "in_cases") == {
        (between, "volume_ratio", SEVERITY_WARNING),
        (between, "volume_ratio", SEVERITY_ERROR),
    }
    assert set(blocking_partners(outcomes)) == {"lost_file", "in_cases"}


def test_a_partner_silent_over_the_whole_window_is_held_not_dropped_from_the_night():
    older = daily_volume("gone_quiet", {str(AS_OF - pd.Timedelta(days=60)): 100.0})
    rows = pd.concat([steady("usual", 100.0), older])
    volume = partner_daily_volume(
        rows, AS_OF, SALES_DATE_COLUMN, "units_sold", expected_partners=["usual", "gone_quiet"]
    ).set_index("partner_id")
    assert volume.loc["gone_quiet", ["days_with_rows", "row_count", "trailing_days_with_rows"]].tolist() == [0, 0, 0]
    assert volume.loc["usual", "days_with_rows"] == 29
    outcomes = validate_by_partner(volume.reset_index(), feed_volume_suite(AS_OF))
    assert failures(outcomes, "usual") == set()
    assert failures(outcomes, "gone_quiet") == {
        ("expect_column_values_to_be_between", "days_with_rows", SEVERITY_ERROR)
    }
    assert set(blocking_partners(outcomes)) == {"gone_quiet"}


def test_a_quiet_night_holds_each_usual_sender_on_its_own():
    # Nobody sent a file for the business date; the window itself may even be empty of rows.
    rows = pd.concat([steady("a", None), steady("b", None), steady("new_partner", None, days=2)])
    volume = partner_daily_volume(rows, AS_OF, SALES_DATE_COLUMN, "units_sold", expected_partners=["a", "b", "c"])
    outcomes = validate_by_partner(volume, feed_volume_suite(AS_OF))
    assert set(blocking_partners(outcomes)) == {"a", "b", "c"}
    assert failures(outcomes, "new_partner") == set()
    empty = partner_daily_volume(rows.iloc[:0], AS_OF, SALES_DATE_COLUMN, "units_sold", expected_partners=["a"])
    assert empty[["partner_id", "days_with_rows"]].values.tolist() == [["a", 0]]
    assert partner_daily_volume(rows.iloc[:0], AS_OF, SALES_DATE_COLUMN).empty
