"""Feed freshness: did each partner feed arrive by the agreed delivery cut-off? Pure logic, no Dagster.

A partner's files for business date D are due on D+1 at its local cut-off (``feed_cutoff`` in the partner's
``timezone``): the rule `int_feed_files_dated` applies in dbt. Daily feeds (stock and sales) are judged on the
latest business date already due at the evaluation time; weekly feeds (the partners' own forecasts, and stock or
sales a partner sends only as weekly X12 852s) are due seven days after the last period they delivered.

A file counts as delivered when the ledger loaded it, also when a later resend superseded it (it still came in
time); a quarantined file never does, and a duplicate only repeats an earlier delivery. A file covers the business
dates from its first to its last line date, so a multi-day backfill or a weekly report delivers every day it spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from assets.feeds.partner_config import PartnerConfig

DAILY = "daily"
WEEKLY = "weekly"

ON_TIME = "on_time"
LATE = "late"
MISSING = "missing"

# What the result asks of an operator: nothing, a look (late, or overdue within the grace period), or action.
LEVEL_PASS = "pass"
LEVEL_WARN = "warn"
LEVEL_ERROR = "error"

DELIVERED_STATUSES = frozenset({"loaded", "superseded"})

# How long a feed may be overdue before it is an error rather than a warning. Partners often deliver a little after
# the cut-off; a working morning later someone has to chase the file.
DEFAULT_GRACE = timedelta(hours=6)

WEEK = timedelta(days=7)
# X12 852 product activity reports a whole period (its XQ segment), in practice a week.
WEEKLY_MESSAGES = frozenset({"852"})

# How many due dates (daily) or delivered periods (weekly) the result lists, so recent lateness stays visible
# after the latest file came on time.
RECENT_DAYS = 7
RECENT_WEEKS = 4


def feed_cadences(config: PartnerConfig) -> dict[str, str]:
    """Record type -> ``daily`` or ``weekly`` for every record type the partner's config has files for.

    Partner forecasts are weekly documents (target weeks, issued once a week). Stock and sales are daily unless
    every file the partner sends for them is a weekly message (X12 852). Promotion calendars have no due date:
    a partner sends one when it plans promotions.
    """
    cadences: dict[str, str] = {}
    for record_type in dict.fromkeys(spec.record_type for spec in config.files):
        if record_type == "promotion":
            continue
        specs = config.specs_for(record_type)
        weekly = record_type == "forecast" or all(
            spec.format == "x12" and spec.message in WEEKLY_MESSAGES for spec in specs
        )
        cadences[record_type] = WEEKLY if weekly else DAILY
    return cadences


def parse_cutoff(text: str | None) -> time | None:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) as a time of day; None for anything else."""
    if not text:
        return None
    try:
        return time.fromisoformat(str(text).strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class DeliverySchedule:
    """When a partner's feeds are due: its time zone, its local cut-off and how often each feed comes."""

    partner_id: str
    timezone: str
    feed_cutoff: time
    cadences: Mapping[str, str] = field(hash=False)
    grace: timedelta = DEFAULT_GRACE

    @classmethod
    def from_config(
        cls,
        config: PartnerConfig,
        *,
        timezone: str | None = None,
        feed_cutoff: time | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> DeliverySchedule:
        """The config's schedule; ``timezone`` / ``feed_cutoff`` (e.g. the agreed values in master data) win."""
        return cls(
            partner_id=config.partner_id,
            timezone=timezone or config.timezone,
            feed_cutoff=feed_cutoff or config.cutoff_time,
            cadences=feed_cadences(config),
            grace=grace,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def due_at(self, business_date: date) -> datetime:
        """The instant (UTC) the files for ``business_date`` are due: the next day at the local cut-off.

        The local wall-clock time decides, so the UTC instant moves by an hour when the partner's clocks change.
        """
        local = datetime.combine(business_date + timedelta(days=1), self.feed_cutoff, tzinfo=self.zone)
        return local.astimezone(UTC)

    def latest_due_business_date(self, at: datetime) -> date:
        """The newest business date whose files were due at or before ``at``."""
        at = as_utc(at)
        candidate = at.astimezone(self.zone).date() - timedelta(days=1)
        return candidate if self.due_at(candidate) <= at else candidate - timedelta(days=1)

    def judged_at(self, now: datetime, business_date: date | None = None) -> datetime:
        """When to judge: now, or for a past business date the end of the partner's next day.

        By then the files of ``business_date`` were due under any cut-off, so re-running an old night judges that
        night's deliveries as they stood then, not by what arrived since.
        """
        now = as_utc(now)
        if business_date is None:
            return now
        end_of_next_day = datetime.combine(business_date + timedelta(days=2), time(0), tzinfo=self.zone)
        return min(now, end_of_next_day.astimezone(UTC))


@dataclass(frozen=True)
class Delivery:
    """One feed-ledger row: a file a partner sent, when it came, what became of it and which days it reports.

    ``received_at`` without a time zone is UTC, as in ``raw.feed_files``. Business dates are the first and last
    line dates of the file; a file without usable lines is taken for the day before it came (its local date).
    """

    record_type: str | None
    status: str
    received_at: datetime
    first_business_date: date | None = None
    last_business_date: date | None = None
    path: str = ""


@dataclass(frozen=True)
class DueDate:
    """One business date (or weekly period end) of a feed: when it was due and when its data first came."""

    business_date: date
    due_at: datetime
    received_at: datetime | None

    @property
    def hours_late(self) -> float | None:
        """Hours after the cut-off the data came (0 when on time); None when it never came."""
        if self.received_at is None:
            return None
        return max(0.0, _hours(self.received_at - self.due_at))


@dataclass(frozen=True)
class FeedFreshness:
    """How one partner feed stands at ``evaluated_at``.

    ``business_date`` is the date judged: for an on-time or late feed the latest one due (weekly: the last period
    delivered), for a missing feed the first one that never came (weekly: the next period expected); ``due_at``
    is its deadline (UTC). ``hours_overdue`` counts from that deadline and is None when nothing was ever delivered.
    """

    partner_id: str
    record_type: str
    cadence: str
    status: str
    timezone: str
    feed_cutoff: time
    evaluated_at: datetime
    business_date: date | None
    due_at: datetime | None
    received_at: datetime | None
    hours_late: float
    hours_overdue: float | None
    last_business_date: date | None
    past_grace: bool
    grace: timedelta
    recent: tuple[DueDate, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == ON_TIME

    @property
    def level(self) -> str:
        """pass; warn when late or overdue within the grace period; error when missing past cut-off and grace."""
        if self.status == ON_TIME:
            return LEVEL_PASS
        return LEVEL_ERROR if self.status == MISSING and self.past_grace else LEVEL_WARN

    @property
    def due_at_local(self) -> datetime | None:
        return self.due_at.astimezone(ZoneInfo(self.timezone)) if self.due_at is not None else None

    @property
    def recent_misses(self) -> int:
        """Recent due dates whose data came late or not at all."""
        return sum(1 for due in self.recent if due.hours_late is None or due.hours_late > 0)

    def summary(self) -> str:
        """One line for logs and check descriptions, in the partner's local time."""
        what = f"{self.partner_id} {self.record_type}"
        due = f"{self.due_at_local:%Y-%m-%d %H:%M %Z}" if self.due_at_local is not None else "-"
        if self.status == ON_TIME:
            return f"{what}: {self.business_date} on time (due {due})"
        if self.status == LATE:
            return f"{what}: {self.business_date} came {self.hours_late:.1f} h after the cut-off ({due})"
        if self.hours_overdue is None:
            return f"{what}: never delivered"
        return f"{what}: {self.business_date} missing, {self.hours_overdue:.1f} h past the cut-off ({due})"


def judge_partner(schedule: DeliverySchedule, deliveries: Iterable[Delivery], at: datetime) -> list[FeedFreshness]:
    """Every feed of the partner's schedule, judged at ``at`` on the partner's ledger rows."""
    deliveries = list(deliveries)
    return [judge_feed(schedule, record_type, deliveries, at) for record_type in schedule.cadences]


def judge_feed(
    schedule: DeliverySchedule, record_type: str, deliveries: Sequence[Delivery], at: datetime
) -> FeedFreshness:
    """One feed at ``at``: on time, late (with hours late) or missing (with hours overdue).

    Only files received by ``at`` count, so the same ledger judged at an earlier time gives the earlier answer.
    """
    at = as_utc(at)
    covered = _covered_spans(schedule, record_type, deliveries, at)
    cadence = schedule.cadences.get(record_type, DAILY)
    base = {
        "partner_id": schedule.partner_id,
        "record_type": record_type,
        "cadence": cadence,
        "timezone": schedule.timezone,
        "feed_cutoff": schedule.feed_cutoff,
        "evaluated_at": at,
        "last_business_date": max((span.last for span in covered), default=None),
        "grace": schedule.grace,
    }
    if cadence == WEEKLY:
        return _judge_weekly(schedule, covered, at, base)
    return _judge_daily(schedule, covered, at, base)


@dataclass(frozen=True)
class _Span:
    first: date
    last: date
    received_at: datetime


def _covered_spans(
    schedule: DeliverySchedule, record_type: str, deliveries: Sequence[Delivery], at: datetime
) -> list[_Span]:
    spans = []
    for delivery in deliveries:
        received_at = as_utc(delivery.received_at)
        if delivery.record_type != record_type or delivery.status not in DELIVERED_STATUSES or received_at > at:
            continue
        fallback = received_at.astimezone(schedule.zone).date() - timedelta(days=1)
        last = delivery.last_business_date or delivery.first_business_date or fallback
        first = min(delivery.first_business_date or last, last)
        spans.append(_Span(first, last, received_at))
    return spans


def _first_arrival(covered: Sequence[_Span], business_date: date) -> datetime | None:
    return min((span.received_at for span in covered if span.first <= business_date <= span.last), default=None)


def _due_date(schedule: DeliverySchedule, covered: Sequence[_Span], business_date: date) -> DueDate:
    return DueDate(business_date, schedule.due_at(business_date), _first_arrival(covered, business_date))


def _judge_daily(schedule: DeliverySchedule, covered: list[_Span], at: datetime, base: dict) -> FeedFreshness:
    latest = schedule.latest_due_business_date(at)
    recent = tuple(_due_date(schedule, covered, latest - timedelta(days=back)) for back in reversed(range(RECENT_DAYS)))
    # Spans are contiguous, so the newest covered day up to `latest` is the end of the last span reaching it.
    covered_upto = max((min(span.last, latest) for span in covered if span.first <= latest), default=None)
    if covered_upto == latest:
        return _arrived(_due_date(schedule, covered, latest), base, recent)
    if covered_upto is None:
        return _never_delivered(base, recent, latest, schedule.due_at(latest))
    first_missing = covered_upto + timedelta(days=1)
    return _missing(schedule, first_missing, at, base, recent)


def _judge_weekly(schedule: DeliverySchedule, covered: list[_Span], at: datetime, base: dict) -> FeedFreshness:
    periods = sorted({span.last for span in covered})
    recent = tuple(_due_date(schedule, covered, period) for period in periods[-RECENT_WEEKS:])
    if not periods:
        return _never_delivered(base, recent, None, None)
    expected = periods[-1] + WEEK
    if schedule.due_at(expected) <= at:
        return _missing(schedule, expected, at, base, recent)
    return _arrived(_due_date(schedule, covered, periods[-1]), base, recent)


def _arrived(due: DueDate, base: dict, recent: tuple[DueDate, ...]) -> FeedFreshness:
    hours_late = due.hours_late or 0.0
    return FeedFreshness(
        **base,
        status=LATE if hours_late > 0 else ON_TIME,
        business_date=due.business_date,
        due_at=due.due_at,
        received_at=due.received_at,
        hours_late=hours_late,
        hours_overdue=0.0,
        past_grace=False,
        recent=recent,
    )


def _missing(
    schedule: DeliverySchedule, business_date: date, at: datetime, base: dict, recent: tuple[DueDate, ...]
) -> FeedFreshness:
    due_at = schedule.due_at(business_date)
    return FeedFreshness(
        **base,
        status=MISSING,
        business_date=business_date,
        due_at=due_at,
        received_at=None,
        hours_late=0.0,
        hours_overdue=_hours(at - due_at),
        past_grace=at - due_at > schedule.grace,
        recent=recent,
    )


def _never_delivered(
    base: dict, recent: tuple[DueDate, ...], business_date: date | None, due_at: datetime | None
) -> FeedFreshness:
    # Nothing to count the delay from: a feed that never came needs someone to act, whatever the grace period.
    return FeedFreshness(
        **base,
        status=MISSING,
        business_date=business_date,
        due_at=due_at,
        received_at=None,
        hours_late=0.0,
        hours_overdue=None,
        past_grace=True,
        recent=recent,
    )


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is read as UTC, as the ledger stores it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)
