"""Tabular partner files: delimited text (CSV/TSV dialects), Excel stock workbooks and JSON sales exports.

Each renders canonical rows the way the partner's system writes them: its headers, column order, date and number
formats, flags and extra description columns, and gives the same bytes for the same rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from assets.feeds.contracts import DATE_COLUMNS, QUANTITY_COLUMNS
from assets.feeds.demo.world import catalogue_item
from assets.feeds.partner_config import FileSpec, PartnerConfig


def _per_distinct(values, render, quote=None) -> np.ndarray:
    """``render`` applied to each distinct value once, spread back over the rows (files repeat few values often);
    ``quote`` then quotes the distinct texts that need it. A categorical column's categories are its values."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        codes, distinct = values.cat.codes.to_numpy(), values.cat.categories.to_numpy()
    else:
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        distinct = np.asarray(distinct)
    texts = np.asarray(render(distinct), dtype=object)
    return (quote(texts) if quote else texts)[codes]


def _format_decimal(values: np.ndarray, places: int, spec: FileSpec, quote=None) -> np.ndarray:
    thousands = spec.thousands or ""

    def render(distinct: np.ndarray) -> list[str]:
        texts = [f"{value:,.{places}f}" for value in distinct]
        if thousands == "," and spec.decimal == ".":
            return texts
        return [text.replace(",", "\0").replace(".", spec.decimal).replace("\0", thousands) for text in texts]

    return _per_distinct(values, render, quote)


def render_delimited(
    rows: pd.DataFrame, spec: FileSpec, config: PartnerConfig, items: pd.DataFrame, header: bool = True
) -> str:
    """Canonical rows as the partner writes them: its headers, column order, dates, numbers and flags.

    Without ``header``, the rows only: a file's later block. Fields are quoted as Python's csv writer (and so
    ``DataFrame.to_csv``) quotes them; the lines are one join of every field and separator, several times faster
    than a writer's row by row.
    """
    line_ending = config.demo.get("line_ending", "\n")
    quote = _csv_quoter(spec.delimiter, line_ending)
    columns: dict[str, np.ndarray] = {}
    extra_columns = dict(config.demo.get("extra_columns") or {})
    descriptions = _descriptions(config, items)
    for canonical, name in spec.columns.items():
        values = rows[canonical]
        if canonical in DATE_COLUMNS:
            columns[name] = _per_distinct(
                pd.to_datetime(values).to_numpy(),
                lambda days: pd.DatetimeIndex(days).strftime(spec.date_format),
                quote,
            )
        elif canonical == "net_sales_amount":
            columns[name] = _format_decimal(values.to_numpy(dtype=float), 2, spec, quote)
        elif canonical == "forecast_qty":
            columns[name] = _format_decimal(values.to_numpy(dtype=float), 1, spec, quote)
        elif canonical in QUANTITY_COLUMNS:
            columns[name] = _per_distinct(
                values.to_numpy(dtype=float).astype(np.int64), lambda counts: [str(count) for count in counts]
            )
        elif canonical == "promo_flag":
            flags = quote(np.array([spec.false_values[0], spec.true_values[0]], dtype=object))
            columns[name] = flags[values.to_numpy(dtype=bool).astype(np.int8)]
        else:
            columns[name] = _per_distinct(values, lambda texts: [str(text) for text in texts], quote)
        if canonical == "product_ref":
            for extra_header, attribute in extra_columns.items():
                lookup = descriptions.get(attribute, {})
                columns[extra_header] = _per_distinct(
                    rows["product_ref"], lambda refs, lookup=lookup: [lookup.get(ref, "") for ref in refs], quote
                )
    count = len(rows)
    grid = np.empty((count, 2 * len(columns)), dtype=object)
    for position, texts in enumerate(columns.values()):
        grid[:, 2 * position] = texts
    grid[:, 1::2] = spec.delimiter
    if len(columns):
        grid[:, -1] = line_ending
    heading = spec.delimiter.join(quote(np.array(list(columns), dtype=object))) + line_ending if header else ""
    return heading + "".join(grid.ravel().tolist())


def _csv_quoter(delimiter: str, line_ending: str):
    """Texts quoted where Python's csv writer would quote them (QUOTE_MINIMAL), the rest as they are."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_MINIMAL)
    special = {delimiter, '"', "\r", "\n", *line_ending}

    def quote(texts: np.ndarray) -> np.ndarray:
        if not any(char in "".join(texts) for char in special):
            return texts
        texts = texts.copy()
        for index, text in enumerate(texts):
            if special & set(text):
                buffer.seek(0)
                buffer.truncate()
                writer.writerow([text, ""])
                texts[index] = buffer.getvalue()[: -len(delimiter) - len(line_ending)]
        return texts

    return quote


def _descriptions(config: PartnerConfig, items: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Partner item ref -> catalogue text, for extra columns partners add to their files."""
    result: dict[str, dict[str, str]] = {"description": {}, "description_zh": {}}
    for ref, product_id in zip(items["partner_item_ref"], items["product_id"], strict=True):
        item = catalogue_item(product_id)
        result["description"][ref] = item.description
        result["description_zh"][ref] = item.description_zh
    return result


def render_xlsx(rows: pd.DataFrame, spec: FileSpec, config: PartnerConfig, items: pd.DataFrame, day: date) -> bytes:
    """A stock workbook as a store system exports it: a title row, a blank row, then the header and typed cells."""
    workbook, sheet = titled_sheet(spec, f"{config.name} {spec.sheet or ''}".strip(), day)
    extra_columns = dict(config.demo.get("extra_columns") or {})
    descriptions = _descriptions(config, items)
    headers: list[str] = []
    for canonical, header in spec.columns.items():
        headers.append(header)
        if canonical == "product_ref":
            headers += list(extra_columns)
    sheet.append(headers)
    row_number = sheet.max_row
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
        row_number += 1
        append_row(sheet, cells, row_number)
    return workbook_bytes(workbook, day)


def titled_sheet(spec: FileSpec, title: str, day: date) -> tuple[openpyxl.Workbook, Worksheet]:
    """A workbook whose sheet starts as a store system's export does: a title row, blank rows, up to the header."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.sheet or "Sheet1"
    sheet.append([title, day.strftime(spec.date_format)])
    for _ in range(spec.header_row - 2):
        sheet.append([])
    return workbook, sheet


def append_row(sheet: Worksheet, cells: list[object], row_number: int | None = None) -> None:
    """One row of typed cells, its dates shown as the partner's system shows them. A caller that counts its rows
    passes the row's number, which spares a pass over the whole sheet per row."""
    sheet.append(cells)
    row_number = row_number or sheet.max_row
    for column, value in enumerate(cells, start=1):
        if isinstance(value, datetime):
            sheet.cell(row=row_number, column=column).number_format = "yyyy/mm/dd"


def workbook_bytes(workbook: openpyxl.Workbook, day: date) -> bytes:
    """The saved workbook, the same bytes for the same cells (see :func:`_deterministic_zip`)."""
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


def render_json(
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
