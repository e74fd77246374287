"""Feed freshness against the agreed cut-off: clock changes, weekly feeds, quarantined and late files."""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assets.feeds.partner_config import load_partner_configs, parse_partner_config
from expectations.freshness import (
    DAILY,
    DEFAULT_GRACE,
    LATE,
    LEVEL_ERROR,
    LEVEL_PASS,
    LEVEL_WARN,
    MISSING,
    ON_TIME,
    WEEKLY,
    Delivery,
    DeliverySchedule,
    feed_cadences,
    judge_feed,
    judge_partner,
    parse_cutoff,
)
from orchestration.runtime import settings

FEEDS = {"stock": DAILY, "sales": DAILY, "forecast": WEEKLY}
BERLIN = DeliverySchedule("hansa_handel", "Europe/Berlin", time(6), FEEDS)
CHICAGO = DeliverySchedule("redwood_grocers", "America/Chicago", time(6), FEEDS)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(schedule: DeliverySchedule, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(schedule.timezone))


def sent(record_type: str, day: date, received: datetime, status: str = "loaded", first: date | None = None):
    """A ledger row as the check reads it: received_at naive UTC, like raw.feed_files."""
    naive = received.astimezone(UTC).replace(tzinfo=None)
    return Delivery(record_type, status, naive, first_business_date=first or day, last_business_date=day)


@pytest.mark.parametrize(
    ("schedule", "business_date", "due_utc"),
    [
        # Europe/Berlin springs forward on 2025-03-30 and falls back on 2025-10-26.
        (BERLIN, date(2025, 3, 28), utc(2025, 3, 29, 5)),
        (BERLIN, date(2025, 3, 29), utc(2025, 3, 30, 4)),
        (BERLIN, date(2025, 10, 24), utc(2025, 10, 25, 4)),
        (BERLIN, date(2025, 10, 25), utc(2025, 10, 26, 5)),
        # America/Chicago springs forward on 2025-03-09 and falls back on 2025-11-02.
        (CHICAGO, date(2025, 3, 7), utc(2025, 3, 8, 12)),
        (CHICAGO, date(2025, 3, 8), utc(2025, 3, 9, 11)),
        (CHICAGO, date(2025, 10, 31), utc(2025, 11, 1, 11)),
        (CHICAGO, date(2025, 11, 1), utc(2025, 11, 2, 12)),
    ],
)
def test_due_time_is_the_local_cutoff_the_next_morning_across_clock_changes(schedule, business_date, due_utc):
    assert schedule.due_at(business_date) == due_utc
    assert schedule.due_at(business_date).astimezone(schedule.zone).time() == time(6)


def test_the_latest_due_business_date_turns_over_at_the_local_cutoff():
    assert BERLIN.latest_due_business_date(utc(2025, 6, 27, 3, 59)) == date(2025, 6, 25)
    assert BERLIN.latest_due_business_date(utc(2025, 6, 27, 4, 0)) == date(2025, 6, 26)
    # 00:30 in Berlin is still the previous evening in UTC: the local date decides.
    assert BERLIN.latest_due_business_date(utc(2025, 6, 26, 22, 30)) == date(2025, 6, 25)


def test_a_file_after_the_cutoff_on_the_spring_forward_morning_is_late_by_the_summer_clock():
    ledger = [
        sent("stock", date(2025, 3, 28), local(BERLIN, 2025, 3, 29, 4, 10)),
        sent("stock", date(2025, 3, 29), utc(2025, 3, 30, 4, 30)),  # 06:30 CEST; would be 05:30 on winter time
    ]
    result = judge_feed(BERLIN, "stock", ledger, utc(2025, 3, 30, 10))
    assert result.status == LATE
    assert result.hours_late == pytest.approx(0.5)
    assert result.business_date == date(2025, 3, 29)
    assert result.due_at_local.isoformat() == "2025-03-30T06:00:00+02:00"
    assert result.level == LEVEL_WARN and not result.passed


def test_a_file_before_the_cst_cutoff_on_the_fall_back_morning_is_on_time():
    ledger = [sent("sales", date(2025, 11, 1), utc(2025, 11, 2, 11, 30))]  # 05:30 CST; 06:30 on summer time
    result = judge_feed(CHICAGO, "sales", ledger, utc(2025, 11, 2, 13))
    assert result.status == ON_TIME
    assert result.hours_late == 0.0
    assert result.level == LEVEL_PASS and result.passed
    assert result.last_business_date == date(2025, 11, 1)


def test_overdue_hours_count_from_the_local_cutoff_on_the_fall_back_morning():
    ledger = [sent("stock", date(2025, 10, 24), local(BERLIN, 2025, 10, 25, 3))]
    # 06:30 CET on 2025-10-26: the file for the 25th was due at 06:00 CET (05:00 UTC), a 25-hour day after the last.
    result = judge_feed(BERLIN, "stock", ledger, utc(2025, 10, 26, 5, 30))
    assert result.status == MISSING
    assert result.business_date == date(2025, 10, 25)
    assert result.hours_overdue == pytest.approx(0.5)
    assert result.level == LEVEL_WARN


def test_a_quarantined_only_delivery_counts_as_not_delivered():
    ledger = [
        sent("sales", date(2025, 6, 25), local(BERLIN, 2025, 6, 26, 3)),
        sent("sales", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 3), status="quarantined"),
    ]
    within_grace = judge_feed(BERLIN, "sales", ledger, local(BERLIN, 2025, 6, 27, 7))
    assert within_grace.status == MISSING
    assert within_grace.business_date == date(2025, 6, 26)
    assert within_grace.last_business_date == date(2025, 6, 25)
    assert within_grace.hours_overdue == pytest.approx(1.0)
    assert within_grace.level == LEVEL_WARN
    past_grace = judge_feed(BERLIN, "sales", ledger, local(BERLIN, 2025, 6, 27, 14, 30))
    assert past_grace.hours_overdue == pytest.approx(8.5)
    assert past_grace.level == LEVEL_ERROR


@pytest.mark.parametrize(("minutes_past_grace", "level"), [(-6, LEVEL_WARN), (6, LEVEL_ERROR)])
def test_missing_turns_from_warning_to_error_after_the_grace_period(minutes_past_grace, level):
    ledger = [sent("stock", date(2025, 6, 25), local(BERLIN, 2025, 6, 26, 3))]
    at = local(BERLIN, 2025, 6, 27, 6) + DEFAULT_GRACE + timedelta(minutes=minutes_past_grace)
    assert judge_feed(BERLIN, "stock", ledger, at).level == level


def test_a_late_file_that_arrived_is_late_until_the_next_day_comes_on_time():
    ledger = [
        sent("stock", date(2025, 6, 25), local(BERLIN, 2025, 6, 26, 3)),
        sent("stock", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 9, 12)),
    ]
    before = judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 27, 8))
    assert before.status == MISSING and before.hours_overdue == pytest.approx(2.0)
    late = judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 27, 12))
    assert late.status == LATE
    assert late.hours_late == pytest.approx(3.2)
    assert late.received_at == local(BERLIN, 2025, 6, 27, 9, 12)
    ledger.append(sent("stock", date(2025, 6, 27), local(BERLIN, 2025, 6, 28, 4)))
    next_day = judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 28, 12))
    assert next_day.status == ON_TIME
    assert [due.business_date for due in next_day.recent][-3:] == [
        date(2025, 6, 25),
        date(2025, 6, 26),
        date(2025, 6, 27),
    ]
    assert [due.hours_late for due in next_day.recent][-3:] == [0.0, pytest.approx(3.2), 0.0]
    assert next_day.recent_misses == 5  # the 26th, and four days before the ledger starts


def test_files_received_after_the_evaluation_time_do_not_count():
    ledger = [sent("stock", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 9))]
    assert judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 27, 8)).status == MISSING


def test_a_superseded_file_was_delivered_and_a_duplicate_adds_nothing():
    superseded = [
        sent("sales", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 3), status="superseded"),
        sent("sales", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 11)),
    ]
    assert judge_feed(BERLIN, "sales", superseded, local(BERLIN, 2025, 6, 27, 12)).status == ON_TIME
    duplicate = [sent("sales", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 3), status="duplicate")]
    assert judge_feed(BERLIN, "sales", duplicate, local(BERLIN, 2025, 6, 27, 12)).status == MISSING


def test_missing_days_count_from_the_first_day_that_never_came():
    ledger = [sent("sales", date(2025, 6, 23), local(BERLIN, 2025, 6, 24, 3))]
    result = judge_feed(BERLIN, "sales", ledger, local(BERLIN, 2025, 6, 27, 8))
    assert result.business_date == date(2025, 6, 24)
    assert result.hours_overdue == pytest.approx(50.0)
    assert result.level == LEVEL_ERROR


def test_a_multi_day_backfill_delivers_every_day_it_spans():
    ledger = [sent("stock", date(2025, 6, 26), local(BERLIN, 2025, 6, 27, 3), first=date(2025, 1, 1))]
    result = judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 27, 12))
    assert result.status == ON_TIME
    assert all(due.hours_late is not None for due in result.recent)


def test_a_file_without_usable_lines_reports_the_day_before_it_came():
    ledger = [Delivery("stock", "loaded", local(BERLIN, 2025, 6, 27, 3).astimezone(UTC).replace(tzinfo=None))]
    result = judge_feed(BERLIN, "stock", ledger, local(BERLIN, 2025, 6, 27, 12))
    assert result.status == ON_TIME and result.business_date == date(2025, 6, 26)


def test_a_feed_never_delivered_is_an_error_without_hours():
    result = judge_feed(BERLIN, "stock", [], local(BERLIN, 2025, 6, 27, 12))
    assert result.status == MISSING
    assert result.hours_overdue is None and result.last_business_date is None
    assert result.level == LEVEL_ERROR
    assert result.summary() == "hansa_handel stock: never delivered"


def test_weekly_852_sales_are_due_the_day_after_each_week():
    weekly = DeliverySchedule("redwood_grocers", "America/Chicago", time(6), {"sales": WEEKLY})
    ledger = [sent("sales", date(2025, 6, 22), local(weekly, 2025, 6, 23, 0, 20), first=date(2025, 6, 16))]
    midweek = judge_feed(weekly, "sales", ledger, local(weekly, 2025, 6, 26, 12))
    assert midweek.status == ON_TIME and midweek.business_date == date(2025, 6, 22)
    before_cutoff = judge_feed(weekly, "sales", ledger, local(weekly, 2025, 6, 30, 5, 59))
    assert before_cutoff.status == ON_TIME
    overdue = judge_feed(weekly, "sales", ledger, local(weekly, 2025, 6, 30, 7))
    assert overdue.status == MISSING
    assert overdue.business_date == date(2025, 6, 29)
    assert overdue.hours_overdue == pytest.approx(1.0)
    assert overdue.level == LEVEL_WARN
    assert judge_feed(weekly, "sales", ledger, local(weekly, 2025, 7, 1, 7)).level == LEVEL_ERROR


def test_a_weekly_forecast_dated_before_it_was_sent_is_late():
    ledger = [
        sent("forecast", date(2025, 6, 16), local(BERLIN, 2025, 6, 16, 4)),
        sent("forecast", date(2025, 6, 23), local(BERLIN, 2025, 6, 24, 9)),
    ]
    result = judge_feed(BERLIN, "forecast", ledger, local(BERLIN, 2025, 6, 25, 12))
    assert result.status == LATE and result.hours_late == pytest.approx(3.0)
    assert [due.business_date for due in result.recent] == [date(2025, 6, 16), date(2025, 6, 23)]


def test_judge_partner_covers_every_feed_of_the_schedule():
    results = judge_partner(BERLIN, [], local(BERLIN, 2025, 6, 27, 12))
    assert [(r.record_type, r.cadence) for r in results] == [("stock", DAILY), ("sales", DAILY), ("forecast", WEEKLY)]


def test_an_old_business_date_is_judged_at_the_end_of_the_partners_next_day():
    now = utc(2026, 1, 15, 9)
    assert BERLIN.judged_at(now) == now
    assert BERLIN.judged_at(now, date(2025, 6, 30)) == utc(2025, 7, 1, 22)  # midnight CEST starting 2 July
    assert BERLIN.judged_at(now, date(2026, 1, 15)) == now


def test_cadences_follow_the_demo_partners_configs():
    configs = load_partner_configs(settings.PROJECT_ROOT / "data" / "partners")
    assert {partner: feed_cadences(config) for partner, config in configs.items()} == {
        partner: {"stock": DAILY, "sales": DAILY, "forecast": WEEKLY} for partner in configs
    }


def test_a_partner_sending_only_weekly_852s_has_a_weekly_sales_feed():
    document = {
        "partner_id": "edi_only",
        "name": "EDI Only",
        "country": "US",
        "timezone": "America/Chicago",
        "currency": "USD",
        "feed_cutoff": "07:30",
        "files": [
            {"record_type": "sales", "pattern": "852_*.x12", "format": "x12", "message": "852"},
            {"record_type": "stock", "pattern": "846_*.x12", "format": "x12", "message": "846"},
        ],
    }
    config = parse_partner_config(document, Path("edi_only.yaml"))
    assert feed_cadences(config) == {"sales": WEEKLY, "stock": DAILY}
    schedule = DeliverySchedule.from_config(config)
    assert (schedule.timezone, schedule.feed_cutoff) == ("America/Chicago", time(7, 30))
    agreed = DeliverySchedule.from_config(config, timezone="America/New_York", feed_cutoff=parse_cutoff("06:00"))
    assert (agreed.timezone, agreed.feed_cutoff) == ("America/New_York", time(6))


@pytest.mark.parametrize(
    ("text", "expected"), [("06:00", time(6)), ("23:30:00", time(23, 30)), ("", None), ("6h", None)]
)
def test_cutoffs_from_master_data_are_read_or_left_to_the_config(text, expected):
    assert parse_cutoff(text) == expected
