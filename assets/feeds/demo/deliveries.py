"""One partner's deliveries: which file carries which rows on which day, in which format, and when it arrives.

The documents themselves come from the format modules (``tabular``, ``x12``, ``edifact``) and the planted
imperfections from ``defects``; this module decides the schedule and keeps the count of what was written.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from assets.feeds.demo import defects, edifact, promotions, x12
from assets.feeds.demo.defects import Defects
from assets.feeds.demo.files import file_name, write_file
from assets.feeds.demo.simulation import PartnerData
from assets.feeds.demo.tabular import render_delimited, render_json, render_xlsx
from assets.feeds.demo.world import gln, partner_rng
from assets.feeds.partner_config import FileSpec

DAILY_FILE_DAYS = 14  # the last two weeks arrive as one file per day; everything before as an onboarding backfill
FORECAST_FILE_WEEKS = 16  # weekly partner forecasts delivered as separate files
# The day (days before the end) whose 846 comes as two interchanges, the second in 005010 with a count in cases.
TWO_INTERCHANGE_DAY = 7
# After the landing's first end, the planted imperfections come back every four weeks (see ``planted_offset``).
PLANT_CYCLE_DAYS = 28
# A long backfill file is split into parts of at most this share of the partner's size limit for its format.
PART_SHARE = 0.75


class PartnerWriter:
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

    EDI_WEEK_DELIVERY = ("00:20", "00:45")  # weekly 852 and its corrected resend, before the daily 846s arrive

    def __init__(
        self, out_dir: Path, partner: PartnerData, start: date, end: date, seed: int, anchor: date | None = None
    ) -> None:
        self.partner = partner
        self.config = partner.config
        self.folder = out_dir / self.config.partner_id
        self.start = start
        self.end = end
        # The end the landing was first written for: the backfill, the format mix and the planted imperfections
        # are laid out from it, so a later end only adds the deliveries of the days after it.
        self.anchor = anchor or end
        self.seed = seed
        self.rng = partner_rng(seed, self.config, 99)
        self.issue_rng = partner_rng(seed, self.config, 98)
        ref_type = partner.items["ref_type"].iloc[0]
        self.defects = Defects(self.config, ref_type, self.rng)
        self.files = 0
        self.files_per_format: dict[str, int] = {}
        self.rows = {"stock": 0, "sales": 0, "forecast": 0, "promotion": 0}
        self.quarantined: list[str] = []
        self.duplicates: list[str] = []
        self.superseded: list[str] = []
        self.rejected: list[str] = []
        self.late: list[str] = []
        self.held_back: list[str] = []  # late files that arrive after the end's night, not written yet
        self.holding = False  # while a held-back file is made: nothing is written or counted
        self.control_number = 100  # interchange control numbers, one per EDI file, as the partner's translator counts
        window = self.config.demo.get("delivery_window") or ["01:00", "05:00"]
        self.window_minutes = tuple(_minutes(text) for text in window)
        demo = self.config.demo
        self.x12_weeks = int(demo.get("x12_weeks", 0))
        self.edifact_days = int(demo.get("edifact_days", 0))
        self.tabular_days = int(demo.get("tabular_days", 0))
        qualifier = {"upc": "UP", "ean": "EN"}.get(ref_type, "VN")
        timezone = self.config.timezone
        self.x12 = x12.X12Partner(
            sender=str(demo.get("edi_sender", self.config.partner_id.upper()))[:15],
            name=self.config.name,
            timezone=timezone,
            item_qualifier=qualifier,
            store_names=dict(zip(partner.locations["location_id"], partner.locations["location_name"], strict=True)),
        )
        self.edifact = edifact.EdifactPartner(
            partner_id=self.config.partner_id,
            name=str(demo.get("edi_name", self.config.name)),
            gln=gln(str(demo.get("gln_prefix", "000000000")), 0),
            timezone=timezone,
            item_qualifier=qualifier,
            line_ending=demo.get("line_ending", "\n"),
        )

    def write_all(self) -> None:
        first_daily = self.anchor - timedelta(days=DAILY_FILE_DAYS - 1)
        edi_start = first_daily - timedelta(days=7 * self.x12_weeks)
        history_end = edi_start - timedelta(days=1)
        history_token = f"{self.start:%Y%m%d}_{history_end:%Y%m%d}"
        history_delivery = self._delivery_time(history_end)
        history = self.partner.history
        backfill = history.day_of(history_end) + 1
        for record_type, rows in (("stock", history.stock), ("sales", history.sales)):
            dates = pd.DatetimeIndex(history.dates)
            blocks = (
                (dates[first], dates[stop - 1], rows(first, stop, categorical=True))
                for first, stop in history.blocks(0, backfill)
            )
            self._write_blocks(record_type, history_token, blocks, history_delivery)

        for week in range(self.x12_weeks):
            week_start = edi_start + timedelta(days=7 * week)
            self._weekly_852(week, week_start, week_start + timedelta(days=6))

        business_day = edi_start
        while business_day <= self.end:
            offset = self.planted_offset(business_day)
            delivered = self._delivery_time(business_day)
            day = history.day_of(business_day)
            stock_rows = self.defects.damage_stock(history.stock(day, day + 1), offset)
            self._daily_stock(business_day, offset, stock_rows, delivered)
            if business_day >= first_daily:
                sales_rows = self.defects.damage_sales(history.sales(day, day + 1), offset)
                self._daily_sales(business_day, offset, sales_rows, delivered)
            business_day += timedelta(days=1)

        forecasts = self.partner.forecasts
        issue_dates = forecasts.issues
        issued_by_anchor = sum(issue.date() <= self.anchor for issue in issue_dates)
        first_weekly = max(issued_by_anchor - FORECAST_FILE_WEEKS, 0)
        if first_weekly:
            first, last = issue_dates[0].date(), issue_dates[first_weekly - 1].date()
            blocks = (
                (issue_dates[position], issue_dates[position], forecasts.issue(position))
                for position in range(first_weekly)
            )
            self._write_blocks("forecast", f"{first:%Y%m%d}_{last:%Y%m%d}", blocks, self._issue_time(last))
        for position in range(first_weekly, len(issue_dates)):
            issue_day = issue_dates[position].date()
            self._write("forecast", f"{issue_day:%Y%m%d}", forecasts.issue(position), self._issue_time(issue_day))
        self._promotion_calendars()

    def _promotion_calendars(self) -> None:
        """The partner's promotion calendars and their corrections, from a random stream of their own."""
        specs = self.config.specs_for("promotion")
        if not specs or self.partner.promotion_days is None:
            return
        rng = partner_rng(self.seed, self.config, promotions.PROMOTION_STREAM)
        line_ending = self.config.demo.get("line_ending", "\n")
        timing = partner_rng(self.seed, self.config, promotions.TIMING_STREAM)
        for calendar in promotions.calendar_files(self.partner, self.start, self.end, rng, self.anchor, timing):
            title = f"{self.config.name} {specs[0].sheet or ''}".strip()
            content = promotions.render_calendar(calendar.statements, specs[0], line_ending, title, calendar.day)
            self._emit(specs[0], calendar.token, content, calendar.delivered, "promotion", len(calendar.statements))

    def planted_offset(self, business_day: date) -> int:
        """Days before the first end, which say what is planted on a day; after it the plan repeats each cycle."""
        offset = (self.anchor - business_day).days
        return offset if offset >= 0 else offset % PLANT_CYCLE_DAYS

    # --- deliveries by format ---

    def _daily_stock(self, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        if self.defects.planted("late_file", offset):
            delivered = self._late_time(business_day)
            late = self._relative(file_name(self._spec_for("stock", business_day), token))
            if business_day >= self.end:
                # It arrives after the night of the landing's last day: an end that reaches its day writes it. It is
                # made all the same, so the control numbers of the files after it are those of that later end.
                self.held_back.append(late)
                self.holding = True
                lists = (self.quarantined, self.duplicates, self.superseded, self.rejected)
                kept = [len(items) for items in lists]
                self._daily_stock_files(business_day, offset, rows, delivered)
                for items, count in zip(lists, kept, strict=True):
                    del items[count:]
                self.holding = False
                return
            self.late.append(late)
        self._daily_stock_files(business_day, offset, rows, delivered)

    def _daily_stock_files(self, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        spec = self._spec_for("stock", business_day)
        if spec.format == "x12":
            self._daily_846(spec, business_day, offset, rows, delivered)
        elif spec.format == "edifact":
            content = edifact.inventory_report(self.edifact, rows, business_day, delivered, self._next_control())
            if self.defects.planted("empty_file", offset):
                self.quarantined.append(self._relative(self._emit(spec, token, b"", delivered, "stock", 0)))
                resent = delivered + 2 * 3600
                content = edifact.inventory_report(self.edifact, rows, business_day, resent, self._next_control())
                self._emit(spec, f"{token}_2", content, resent, "stock", len(rows))
            else:
                self._emit(spec, token, content, delivered, "stock", len(rows))
        elif spec.format == "xlsx":
            content = render_xlsx(rows, spec, self.config, self.partner.items, business_day)
            self._emit(spec, token, content, delivered, "stock", len(rows))
        else:
            self._write("stock", token, rows, delivered)

    def _daily_sales(self, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        spec = self._spec_for("sales", business_day)
        if spec.format == "edifact":
            self._daily_slsrpt(spec, business_day, offset, rows, delivered)
        elif spec.format == "json":
            content = render_json(rows, spec, self.config, self.partner.items, delivered)
            self._emit(spec, token, content, delivered, "sales", len(rows))
        else:
            encoding = None
            if self.defects.planted("undecodable_file", offset):
                encoding = defects.UNDECODABLE_ENCODING
            path = self._write("sales", token, rows, delivered, encoding=encoding)
            if encoding is not None:
                self.quarantined.append(self._relative(path))
            if self.defects.planted("duplicate_file", offset):
                copy = path.with_name(path.stem + "_resend" + path.suffix)
                write_file(copy, path.read_bytes(), delivered + 3 * 3600)
                self._count_file(spec, "sales", len(rows))
                self.duplicates.append(self._relative(copy))

    def _weekly_852(self, week: int, week_start: date, week_end: date) -> None:
        """One week's activity per store and item, spread by SDQ, and the week-end stock (ZA*QA).

        ZA*QS sold and ZA*QU returned; ZA*QR the units of our shipments that arrived that week (the simulated
        arrivals, so late and early deliveries show in the week they really came) and ZA*QO the demand the store
        lost to an empty shelf, each only for the stores it concerns.
        """
        spec = self._spec("sales", "x12", "852")
        history = self.partner.history
        in_week = history.sales(history.day_of(week_start), history.day_of(week_end) + 1)
        measures = ["units_sold", "units_returned", "units_received", "units_out_of_stock"]
        totals = in_week.groupby(["product_ref", "location_id"], sort=False)[measures].sum()
        closing_day = history.day_of(week_end)
        closing = history.stock(closing_day, closing_day + 1).set_index(["product_ref", "location_id"])
        extra_store = self.defects.unknown_store_in(week, self.x12_weeks)
        token = f"{week_start:%Y%m%d}_{week_end:%Y%m%d}"
        delivered = self._local_timestamp(week_end + timedelta(days=1), _minutes(self.EDI_WEEK_DELIVERY[0]))
        content, extra_rows = x12.product_activity_852(
            self.x12, totals, closing, week_start, week_end, delivered, self._next_control(), extra_store, self.rng
        )
        if extra_rows:
            self.defects.count("unknown_store_rows", extra_rows)
        if self.defects.wrong_count_in(week):
            broken = defects.wrong_se_counts(content)
            self.quarantined.append(self._relative(self._emit(spec, token, broken, delivered, "sales", len(totals))))
            self.rows["stock"] += len(closing)
            delivered = self._local_timestamp(week_end + timedelta(days=1), _minutes(self.EDI_WEEK_DELIVERY[1]))
            content, _ = x12.product_activity_852(
                self.x12, totals, closing, week_start, week_end, delivered, self._next_control(), extra_store, self.rng
            )
            token += "_2"
        self._emit(spec, token, content, delivered, "sales", len(totals))
        self.rows["stock"] += len(closing)

    def _daily_846(self, spec: FileSpec, business_day: date, offset: int, rows: pd.DataFrame, delivered: float) -> None:
        token = f"{business_day:%Y%m%d}"
        control = self._next_control()
        content = x12.inventory_846(self.x12, rows, business_day, delivered, control)
        if self.defects.planted("truncated_interchange", offset):
            # The partner's transfer broke off; a complete copy (new control number) follows three hours later.
            cut = defects.truncated(content)
            self.quarantined.append(self._relative(self._emit(spec, token, cut, delivered, "stock", len(rows))))
            resent = delivered + 3 * 3600
            content = x12.inventory_846(self.x12, rows, business_day, resent, self._next_control())
            self._emit(spec, f"{token}_2", content, resent, "stock", len(rows))
            return
        if offset == TWO_INTERCHANGE_DAY and rows["location_id"].nunique() > 1:
            content = self._two_interchanges(rows, business_day, delivered, control)
        self._emit(spec, token, content, delivered, "stock", len(rows))
        if self.defects.planted("control_number_reuse", offset):
            # The translator retransmits the interchange with a fresh timestamp but the same control number.
            retransmitted = delivered + 6 * 3600
            content = x12.inventory_846(self.x12, rows, business_day, retransmitted, control)
            path = self._emit(spec, f"{token}_2", content, retransmitted, "stock", len(rows))
            self.quarantined.append(self._relative(path))

    def _two_interchanges(self, rows: pd.DataFrame, business_day: date, delivered: float, control: int) -> bytes:
        """The day's 846 as two interchanges in one file, as a translator batches them: the first stores in
        004010, the others in a 005010 interchange of their own (acknowledged by a 999) that reports one count in
        cases: the first item whose count is a whole number of its cases, else one whose count is an exact
        fraction of them (an opened case: 57 units of 6 a case are 9.5 cases). When none of those stores has such a
        count, the second interchange is the store of the first other one that has."""
        stores = list(dict.fromkeys(rows["location_id"]))
        later = set(stores[(len(stores) + 1) // 2 :])
        candidates = [
            ((store not in later, on_hand % case_pack != 0), (product_ref, store), case_pack)
            for product_ref, store, on_hand in zip(
                rows["product_ref"], rows["location_id"], rows["on_hand_qty"], strict=True
            )
            if (case_pack := self.partner.case_packs.get(product_ref)) and on_hand > 0 and on_hand * 8 % case_pack == 0
        ]
        in_cases = dict([min(candidates, key=lambda item: item[0])[1:]]) if candidates else {}
        if in_cases and (chosen := next(iter(in_cases))[1]) not in later:
            later = {chosen}
        first = rows[~rows["location_id"].isin(later)]
        second = rows[rows["location_id"].isin(later)]
        content = x12.inventory_846(self.x12, first, business_day, delivered, control)
        return content + x12.inventory_846(
            self.x12, second, business_day, delivered, self._next_control(), version="005010", in_cases=in_cases
        )

    def _daily_slsrpt(
        self, spec: FileSpec, business_day: date, offset: int, rows: pd.DataFrame, delivered: float
    ) -> None:
        token = f"{business_day:%Y%m%d}"
        if self.defects.planted("bad_check_digit", offset) and len(rows):
            rows = self.defects.mistype_item_number(rows)
            content = edifact.sales_report(self.edifact, rows, business_day, delivered, self._next_control())
            self.rejected.append(self._relative(self._emit(spec, token, content, delivered, "sales", len(rows))))
            return
        if self.defects.planted("corrected_resend", offset) and len(rows):
            # The first report miscounts one line; the partner resends the whole day corrected that afternoon.
            wrong = self.defects.miscount_line(rows)
            content = edifact.sales_report(self.edifact, wrong, business_day, delivered, self._next_control())
            self.superseded.append(self._relative(self._emit(spec, token, content, delivered, "sales", len(rows))))
            delivered += 8 * 3600
            token += "_2"
        content = edifact.sales_report(self.edifact, rows, business_day, delivered, self._next_control())
        self._emit(spec, token, content, delivered, "sales", len(rows))

    def _next_control(self) -> int:
        self.control_number += 1
        return self.control_number

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
        minutes = int(self.issue_rng.integers(self.window_minutes[0], self.window_minutes[1] + 1))
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

    def _spec_for(self, record_type: str, business_day: date) -> FileSpec:
        """Which of the partner's file specs carries this record type on the day; after the first end, the last's."""
        offset = (self.anchor - business_day).days
        if record_type == "stock" and self.x12_weeks:
            return self._spec("stock", "x12", "846")
        if self.edifact_days and offset < self.edifact_days:
            return self._spec(record_type, "edifact", "INVRPT" if record_type == "stock" else "SLSRPT")
        if offset >= DAILY_FILE_DAYS - self.tabular_days:
            return self._spec(record_type, "xlsx" if record_type == "stock" else "json")
        return self._spec(record_type, "csv")

    def _emit(self, spec: FileSpec, token: str, content: bytes, mtime: float, record_type: str, rows: int) -> Path:
        name = file_name(spec, token)
        if self.config.spec_for(name) is not spec:
            raise ValueError(f"{self.config.source_path}: demo file name {name} is not read by the spec {spec.pattern}")
        path = self.folder / name
        if not self.holding:
            write_file(path, content, mtime)
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
        text = render_delimited(rows, spec, self.config, self.partner.items)
        return self._emit(spec, token, text.encode(encoding or spec.encoding), mtime, record_type, len(rows))

    def _write_blocks(
        self, record_type: str, token: str, blocks: Iterable[tuple[date, date, pd.DataFrame]], mtime: float
    ) -> list[Path]:
        """A long delimited file written a block of rows at a time (the same bytes as all its rows at once), named by
        ``token``; each block comes with the first and last dates it covers.

        A partner at supplier size would not send two years of a record type as one file over its own
        ``max_file_mib`` (ingestion would quarantine it): once a block would take the file past ``PART_SHARE`` of
        that limit, the file is closed and the next one started, each part named by the dates it covers and
        starting with its own header. A history under the limit stays one file named by ``token``.
        """
        spec = self._spec(record_type, "csv")
        self._check_name(spec, file_name(spec, token))
        budget = int(self.config.limits.max_file_bytes(spec.format) * PART_SHARE)
        self.folder.mkdir(parents=True, exist_ok=True)
        parts: list[_Part] = []
        for first, last, block in blocks:
            part = parts[-1] if parts else None
            text = render_delimited(block, spec, self.config, self.partner.items, part is None)
            data = part.encoder.encode(text) if part is not None else b""
            if part is None or (part.size and part.size + len(data) > budget):
                if part is not None:
                    part.close()
                    text = render_delimited(block, spec, self.config, self.partner.items, True)
                part = _Part(self.folder / f".{record_type}.part{len(parts)}", spec.encoding, first)
                parts.append(part)
                data = part.encoder.encode(text)
            part.write(data, last, len(block))
        if parts:
            parts[-1].close()
        written = []
        for part in parts:
            name = file_name(spec, token if len(parts) == 1 else f"{part.first:%Y%m%d}_{part.last:%Y%m%d}")
            self._check_name(spec, name)
            path = part.path.replace(self.folder / name)
            os.utime(path, (mtime, mtime))
            self._count_file(spec, record_type, part.rows)
            written.append(path)
        return written

    def _check_name(self, spec: FileSpec, name: str) -> None:
        if self.config.spec_for(name) is not spec:
            raise ValueError(f"{self.config.source_path}: demo file name {name} is not read by the spec {spec.pattern}")


class _Part:
    """One part of a long delimited file while it is written (see ``PartnerWriter._write_blocks``)."""

    def __init__(self, path: Path, encoding: str, first: date) -> None:
        self.path = path
        self.encoder = codecs.getincrementalencoder(encoding)()
        self.file = path.open("wb")
        self.first = self.last = first
        self.size = self.rows = 0

    def write(self, data: bytes, last: date, rows: int) -> None:
        self.file.write(data)
        self.size += len(data)
        self.last = last
        self.rows += rows

    def close(self) -> None:
        self.file.write(self.encoder.encode("", final=True))
        self.file.close()


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])
