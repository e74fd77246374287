"""Partner feed configuration: one YAML file per partner in ``data/partners/<partner_id>.yaml``.

A partner config says who the partner is (country, time zone, currency, feed cut-off) and, for each kind of
file it delivers, how to recognise the file (a glob pattern) and how to read it (format, delimiter, encoding,
number and date conventions, and which header carries which canonical column). Configs are validated when
loaded so that a typo fails loudly with the file and key named, instead of quarantining every delivery.

Keys: ``partner_id`` (must equal the file name), ``name``, ``country`` (ISO alpha-2, for holidays),
``timezone`` (IANA), ``currency`` (ISO 4217), ``feed_cutoff`` ("HH:MM" local), ``files`` and ``demo`` (free
form, read only by the demo generator) and ``limits`` (what one file may cost before it is refused:
``max_file_mib`` per format, ``max_line_kib``, the xlsx decompression limits, ``json_max_depth``,
``max_files_per_run``, ``max_folder_depth``; see ``loading/limits.py`` for the defaults). Each entry of
``files``: ``record_type`` (stock | sales | forecast | promotion;
for X12 and EDIFACT the main one, recorded in the ledger: an 852 also carries stock), ``pattern`` (glob),
``format`` (csv | xlsx | json | x12 | edifact), ``constants`` (canonical column -> value for columns the file
does not carry) and ``gtin`` (off | verify | normalise: check product refs as GS1 GTINs and, when normalising,
load them as GTIN-14; default off for column files, normalise for GTIN-qualified X12/EDIFACT items; off also
skips the GLN check digits of X12/EDIFACT locations).

Column-mapped formats (csv, xlsx, json) also take ``columns`` (canonical column -> header text; for JSON a dotted
path into nested records such as ``store.id``), ``date_format`` (strptime), ``decimal``, ``thousands`` and
``true_values`` / ``false_values`` (flag texts, quoted); csv and json take ``encoding``, csv ``delimiter``, xlsx
``sheet`` (name; default the first) and ``header_row`` (1-based; title rows above it are skipped), json
``records_path`` (dotted path to the list of records; default the top level). Promotion calendars (column
formats only) take ``promo_types``: the file's word for each promotion type -> discount | display | feature
(the canonical names are always understood).

Segment formats (x12, edifact) take ``message`` (852 | 846, INVRPT | SLSRPT: other messages in the file are
refused), ``item_qualifiers`` (which item id to use as product_ref, in order of preference, e.g. [UP, VN]),
``activity_codes`` (X12 852 ZA01 code -> canonical measure, merged over the defaults; null drops a code) and
``quantity_codes`` (X12 QTY01 or EDIFACT QTY qualifier -> canonical measure, merged likewise; where two codes feed
one measure for the same item, the default's order decides which wins and the other is accounted as unused).
Besides stock and sales, a code may feed ``units_received`` (the 852's QR by default) and ``units_out_of_stock``
(QO; EANCOM SLSRPT QTY+217); column-mapped files may carry both as columns of a sales file.

The optional ``export`` block says how the partner's plan files are written for its ERP: ``delimiter`` (one
character, default ","), ``decimal`` ("." or ","), ``encoding`` (default utf-8; e.g. utf-8-sig for a BOM),
``date_format`` (strftime, default ISO ``%Y-%m-%d``) and ``item_id`` (which of the partner's references in the
item cross-reference is its item id: sku, ean, upc or gtin; default the first of those the partner has).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import time
from fnmatch import fnmatchcase
from pathlib import Path, PurePath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from assets.feeds.contracts import PROMOTION_TYPES, RAW_FEED_COLUMNS, RECORD_TYPES
from assets.feeds.errors import PartnerConfigError
from assets.feeds.loading.limits import DEFAULT_LIMITS, FileLimits, parse_limits

# Canonical columns a file must deliver (as a header or a constant) for its rows to mean anything.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "stock": ("location_id", "product_ref", "as_of_date", "on_hand_qty"),
    "sales": ("location_id", "product_ref", "period_start", "units_sold"),
    "forecast": (
        "location_id",
        "product_ref",
        "forecast_date",
        "target_period_start",
        "target_period_end",
        "forecast_qty",
    ),
    # A blank or absent location is every location; a discount's depth is checked with the row (see promotions.py).
    "promotion": ("product_ref", "promo_start", "promo_end", "promo_type"),
}

# Filled by the loader, never read from a partner's file.
LINEAGE_COLUMNS = ("partner_id", "source_file_id", "source_line", "merged_lines")

COLUMN_FORMATS = ("csv", "xlsx", "json")  # rows and columns, read through the `columns` mapping
SEGMENT_FORMATS = ("x12", "edifact")  # EDI envelopes whose segments say what each value is
FILE_FORMATS = (*COLUMN_FORMATS, *SEGMENT_FORMATS)
GTIN_MODES = ("off", "verify", "normalise")
MESSAGES = {"x12": ("852", "846"), "edifact": ("INVRPT", "SLSRPT")}

# Canonical measures an EDI activity or quantity code may feed, and the record type each belongs to. Receipts and
# out-of-stock quantities are activity over the reported period, like sales, so they land on the sales rows.
MEASURES = {
    "on_hand_qty": "stock",
    "on_order_qty": "stock",
    "in_transit_qty": "stock",
    "units_sold": "sales",
    "units_returned": "sales",
    "units_received": "sales",
    "units_out_of_stock": "sales",
}

DEFAULT_TRUE_VALUES = ("1", "y", "yes", "true", "t", "x")
DEFAULT_FALSE_VALUES = ("0", "n", "no", "false", "f")

_PARTNER_KEYS = {"partner_id", "name", "country", "timezone", "currency", "feed_cutoff", "files", "demo", "limits"}
_PARTNER_KEYS |= {"export"}
_EXPORT_KEYS = {"delimiter", "decimal", "encoding", "date_format", "item_id"}
# The partner's own item id, when the export block does not name one: the first reference type the partner has.
ITEM_ID_PREFERENCE = ("sku", "ean", "upc", "gtin")
_FILE_KEYS = {
    "record_type",
    "pattern",
    "format",
    "delimiter",
    "encoding",
    "decimal",
    "thousands",
    "date_format",
    "columns",
    "constants",
    "true_values",
    "false_values",
    "gtin",
    "sheet",
    "header_row",
    "records_path",
    "message",
    "item_qualifiers",
    "activity_codes",
    "quantity_codes",
    "promo_types",
}
# Keys that only mean something for some formats; a key given for another format is a config mistake.
_FORMAT_KEYS = {
    "delimiter": ("csv",),
    "encoding": ("csv", "json"),
    "decimal": COLUMN_FORMATS,
    "thousands": COLUMN_FORMATS,
    "date_format": COLUMN_FORMATS,
    "columns": COLUMN_FORMATS,
    "true_values": COLUMN_FORMATS,
    "false_values": COLUMN_FORMATS,
    "sheet": ("xlsx",),
    "header_row": ("xlsx",),
    "records_path": ("json",),
    "message": SEGMENT_FORMATS,
    "item_qualifiers": SEGMENT_FORMATS,
    "activity_codes": ("x12",),
    "quantity_codes": SEGMENT_FORMATS,
    "promo_types": COLUMN_FORMATS,
}
_PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_CUTOFF = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class FileSpec:
    """How one kind of partner file is recognised (``pattern``) and read into canonical rows."""

    record_type: str
    pattern: str
    columns: dict[str, str] = field(default_factory=dict, hash=False)
    constants: dict[str, Any] = field(default_factory=dict, hash=False)
    format: str = "csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    date_format: str = "%Y-%m-%d"
    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = DEFAULT_FALSE_VALUES
    gtin: str | None = None
    sheet: str | None = None
    header_row: int = 1
    records_path: str | None = None
    message: str | None = None
    item_qualifiers: tuple[str, ...] | None = None
    activity_codes: dict[str, str | None] = field(default_factory=dict, hash=False)
    quantity_codes: dict[str, str | None] = field(default_factory=dict, hash=False)
    promo_types: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def gtin_mode(self) -> str:
        """How product refs are checked: as configured, else normalise for EDI item ids and off for columns."""
        if self.gtin is not None:
            return self.gtin
        return "normalise" if self.format in SEGMENT_FORMATS else "off"

    def matches(self, relative_path: str | PurePath) -> bool:
        """True when the file (path relative to the partner folder) matches this spec's glob pattern.

        A pattern without a slash is matched against the file name alone, so ``sales_*.csv`` also finds files
        a partner drops into a sub-folder.
        """
        posix = PurePath(relative_path).as_posix()
        target = posix if "/" in self.pattern else posix.rsplit("/", 1)[-1]
        return fnmatchcase(target, self.pattern)


@dataclass(frozen=True)
class ExportSpec:
    """How a partner's plan files are written: its ERP's CSV dialect and which of its item ids to use."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    date_format: str = "%Y-%m-%d"
    item_id: str | None = None


@dataclass(frozen=True)
class PartnerConfig:
    """One partner: identity, local conventions, the files it delivers and the demo generator's knobs."""

    partner_id: str
    name: str
    country: str
    timezone: str
    currency: str
    feed_cutoff: str
    files: tuple[FileSpec, ...]
    demo: dict[str, Any] = field(default_factory=dict, hash=False)
    source_path: Path | None = None
    limits: FileLimits = field(default=DEFAULT_LIMITS, hash=False)
    export: ExportSpec = field(default_factory=ExportSpec)

    def spec_for(self, filename: str | PurePath) -> FileSpec | None:
        """The first spec whose pattern matches ``filename`` (relative to the partner folder), else None."""
        for spec in self.files:
            if spec.matches(filename):
                return spec
        return None

    def specs_for(self, record_type: str) -> tuple[FileSpec, ...]:
        """All file specs delivering ``record_type``, in config order."""
        return tuple(spec for spec in self.files if spec.record_type == record_type)

    @property
    def cutoff_time(self) -> time:
        """Local time by which the previous business day's files are due."""
        hours, minutes = self.feed_cutoff.split(":")
        return time(int(hours), int(minutes))

    @property
    def zone(self) -> ZoneInfo:
        """The partner's time zone, for delivery deadlines and local business dates."""
        return ZoneInfo(self.timezone)


def load_partner_configs(
    config_dir: Path,
    partners: Collection[str] = (),
    on_error: Callable[[Path, PartnerConfigError], None] | None = None,
) -> dict[str, PartnerConfig]:
    """Read and validate every ``*.yaml`` / ``*.yml`` in ``config_dir`` (or only those named ``<partner>.yaml`` for
    the given ``partners``), keyed by partner id.

    Without ``on_error``, raises PartnerConfigError naming the file and key for bad YAML, unknown keys or record
    types, missing required canonical columns or a partner id configured twice; a missing folder is an error too,
    since no partner could then be read. With ``on_error``, each such error is handed to it and that file (or the
    missing folder) is left out, so one partner's broken file cannot take the others' configs down with it.
    """
    config_dir = Path(config_dir)

    def failed(path: Path, error: PartnerConfigError) -> None:
        if on_error is None:
            raise error
        on_error(path, error)

    configs: dict[str, PartnerConfig] = {}
    if not config_dir.is_dir():
        failed(config_dir, PartnerConfigError(config_dir, None, "partner config folder does not exist"))
        return configs
    paths = sorted([*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")])
    for path in paths:
        if partners and path.stem not in partners:
            continue
        try:
            config = load_partner_config(path)
            if config.partner_id in configs:
                other = configs[config.partner_id].source_path
                raise PartnerConfigError(path, "partner_id", f"'{config.partner_id}' is also configured in {other}")
        except PartnerConfigError as error:
            failed(path, error)
            continue
        configs[config.partner_id] = config
    return configs


def load_partner_config(path: Path) -> PartnerConfig:
    """Read and validate one partner YAML file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise PartnerConfigError(path, where, f"invalid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PartnerConfigError(path, None, f"not UTF-8 text: {exc}") from exc
    return parse_partner_config(document, path)


def parse_partner_config(document: Any, path: Path) -> PartnerConfig:
    """Validate an already-parsed YAML document; ``path`` is only used to name the file in errors."""
    if not isinstance(document, Mapping):
        raise PartnerConfigError(path, None, "expected a mapping of partner settings at the top level")
    _reject_unknown_keys(document, _PARTNER_KEYS, path, "")
    partner_id = _required_str(document, "partner_id", path, "")
    if not _PARTNER_ID.match(partner_id):
        raise PartnerConfigError(path, "partner_id", f"'{partner_id}' must be lower-case letters, digits and _")
    if path.suffix in (".yaml", ".yml") and path.stem != partner_id:
        raise PartnerConfigError(path, "partner_id", f"'{partner_id}' differs from the file name '{path.stem}'")
    country = _required_str(document, "country", path, "")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise PartnerConfigError(path, "country", f"'{country}' is not an ISO 3166 alpha-2 code such as US")
    timezone = _required_str(document, "timezone", path, "")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PartnerConfigError(path, "timezone", f"unknown IANA time zone '{timezone}'") from exc
    currency = _required_str(document, "currency", path, "")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise PartnerConfigError(path, "currency", f"'{currency}' is not an ISO 4217 code such as EUR")
    feed_cutoff = _required_str(document, "feed_cutoff", path, "")
    if not _CUTOFF.match(feed_cutoff):
        raise PartnerConfigError(path, "feed_cutoff", f"'{feed_cutoff}' is not a HH:MM local time")
    files = document.get("files")
    if not isinstance(files, list) or not files:
        raise PartnerConfigError(path, "files", "expected a non-empty list of file specs")
    specs = tuple(_parse_file_spec(entry, path, f"files[{index}]") for index, entry in enumerate(files))
    demo = document.get("demo") or {}
    if not isinstance(demo, Mapping):
        raise PartnerConfigError(path, "demo", "expected a mapping")
    return PartnerConfig(
        partner_id=partner_id,
        name=_required_str(document, "name", path, ""),
        country=country,
        timezone=timezone,
        currency=currency,
        feed_cutoff=feed_cutoff,
        files=specs,
        demo=dict(demo),
        source_path=path,
        limits=parse_limits(document.get("limits"), path),
        export=_parse_export(document.get("export"), path),
    )


def _parse_export(entry: Any, path: Path) -> ExportSpec:
    if entry is None:
        return ExportSpec()
    if not isinstance(entry, Mapping):
        raise PartnerConfigError(path, "export", "expected a mapping")
    _reject_unknown_keys(entry, _EXPORT_KEYS, path, "export")
    delimiter = _optional_str(entry, "delimiter", path, "export", ",")
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise PartnerConfigError(path, "export.delimiter", f"{delimiter!r} must be one character, not a quote")
    decimal = _optional_str(entry, "decimal", path, "export", ".")
    if decimal not in (".", ","):
        raise PartnerConfigError(path, "export.decimal", f"{decimal!r} must be '.' or ','")
    if decimal == delimiter:
        raise PartnerConfigError(path, "export.decimal", "the decimal mark cannot be the delimiter")
    encoding = _optional_str(entry, "encoding", path, "export", "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise PartnerConfigError(path, "export.encoding", f"unknown encoding '{encoding}'") from exc
    item_id = entry.get("item_id")
    if item_id is not None and item_id not in ITEM_ID_PREFERENCE:
        raise PartnerConfigError(path, "export.item_id", f"{item_id!r} is not one of {', '.join(ITEM_ID_PREFERENCE)}")
    return ExportSpec(
        delimiter=delimiter,
        decimal=decimal,
        encoding=encoding,
        date_format=_optional_str(entry, "date_format", path, "export", "%Y-%m-%d"),
        item_id=item_id,
    )


def _parse_file_spec(entry: Any, path: Path, key: str) -> FileSpec:
    if not isinstance(entry, Mapping):
        raise PartnerConfigError(path, key, "expected a mapping")
    _reject_unknown_keys(entry, _FILE_KEYS, path, key)
    record_type = _required_str(entry, "record_type", path, key)
    if record_type not in RECORD_TYPES:
        raise PartnerConfigError(
            path,
            f"{key}.record_type",
            f"unknown record type '{record_type}' (expected one of {RECORD_TYPES})",
        )
    pattern = _required_str(entry, "pattern", path, key)
    file_format = _optional_str(entry, "format", path, key, "csv")
    if file_format not in FILE_FORMATS:
        raise PartnerConfigError(path, f"{key}.format", f"unknown format '{file_format}' (expected {FILE_FORMATS})")
    if record_type == "promotion" and file_format not in COLUMN_FORMATS:
        raise PartnerConfigError(
            path, f"{key}.format", f"promotion calendars are read from {', '.join(COLUMN_FORMATS)} files only"
        )
    for name, formats in _FORMAT_KEYS.items():
        if entry.get(name) is not None and file_format not in formats:
            raise PartnerConfigError(
                path, f"{key}.{name}", f"does not apply to format {file_format} (only to {', '.join(formats)})"
            )
    delimiter = _optional_str(entry, "delimiter", path, key, ",")
    if len(delimiter) != 1:
        raise PartnerConfigError(path, f"{key}.delimiter", f"{delimiter!r} must be a single character")
    encoding = _optional_str(entry, "encoding", path, key, "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise PartnerConfigError(path, f"{key}.encoding", f"unknown encoding '{encoding}'") from exc
    decimal = _optional_str(entry, "decimal", path, key, ".")
    thousands = entry.get("thousands")
    if thousands is not None and not isinstance(thousands, str):
        raise PartnerConfigError(path, f"{key}.thousands", "expected a string or null")
    if len(decimal) != 1:
        raise PartnerConfigError(path, f"{key}.decimal", f"{decimal!r} must be a single character")
    if thousands is not None and (len(thousands) != 1 or thousands == decimal):
        raise PartnerConfigError(
            path, f"{key}.thousands", f"{thousands!r} must be one character different from the decimal mark"
        )
    date_format = _optional_str(entry, "date_format", path, key, "%Y-%m-%d")
    if "%" not in date_format:
        raise PartnerConfigError(path, f"{key}.date_format", f"'{date_format}' has no strftime directive")
    gtin = entry.get("gtin")
    if gtin is not None and gtin not in GTIN_MODES:
        raise PartnerConfigError(path, f"{key}.gtin", f"{gtin!r} is not one of {', '.join(GTIN_MODES)}")

    columns = _string_mapping(entry.get("columns"), path, f"{key}.columns")
    constants = entry.get("constants") or {}
    if not isinstance(constants, Mapping):
        raise PartnerConfigError(path, f"{key}.constants", "expected a mapping of canonical column to value")
    if file_format in COLUMN_FORMATS:
        carried: tuple[str, ...] = (record_type,)
        allowed = [column for column in RAW_FEED_COLUMNS[record_type] if column not in LINEAGE_COLUMNS]
    else:
        # An EDI message can carry several record types (an 852 reports stock and sales); its measures come from
        # the message's codes, so constants may only fill the descriptive columns (uom, currency) of either.
        carried = ("stock", "sales")
        allowed = [
            column
            for carried_type in carried
            for column in RAW_FEED_COLUMNS[carried_type]
            if column not in LINEAGE_COLUMNS and column not in MEASURES
        ]
    for section, names in (("columns", columns), ("constants", constants)):
        for canonical in names:
            if canonical not in allowed:
                raise PartnerConfigError(
                    path,
                    f"{key}.{section}.{canonical}",
                    f"not a canonical {'/'.join(carried)} column (expected one of {', '.join(dict.fromkeys(allowed))})",
                )
    for canonical in constants:
        if canonical in columns:
            raise PartnerConfigError(
                path, f"{key}.constants.{canonical}", "given both as a file column and as a constant"
            )
    if file_format in COLUMN_FORMATS:
        missing = [
            column for column in REQUIRED_COLUMNS[record_type] if column not in columns and column not in constants
        ]
        if missing:
            raise PartnerConfigError(
                path, f"{key}.columns", f"missing required {record_type} column(s): {', '.join(missing)}"
            )
    message = entry.get("message")
    if message is not None:
        message = str(message).strip().upper()
        if message not in MESSAGES[file_format]:
            raise PartnerConfigError(
                path, f"{key}.message", f"'{message}' is not one of {', '.join(MESSAGES[file_format])}"
            )
    return FileSpec(
        record_type=record_type,
        pattern=pattern,
        columns=columns,
        constants=dict(constants),
        format=file_format,
        delimiter=delimiter,
        encoding=encoding,
        decimal=decimal,
        thousands=thousands,
        date_format=date_format,
        true_values=_flag_values(entry, "true_values", path, key, DEFAULT_TRUE_VALUES),
        false_values=_flag_values(entry, "false_values", path, key, DEFAULT_FALSE_VALUES),
        gtin=gtin,
        sheet=_optional_str(entry, "sheet", path, key, "") or None,
        header_row=_header_row(entry, path, key),
        records_path=_optional_str(entry, "records_path", path, key, "") or None,
        message=message,
        item_qualifiers=_qualifiers(entry, path, key),
        activity_codes=_code_mapping(entry, "activity_codes", path, key, width=2),
        quantity_codes=_code_mapping(entry, "quantity_codes", path, key, width=2 if file_format == "x12" else 1),
        promo_types=_promo_types(entry, path, key),
    )


def _promo_types(document: Mapping, path: Path, key: str) -> dict[str, str]:
    """The partner's word for a promotion type (as it writes it; files are read case-insensitively) -> type."""
    value = document.get("promo_types")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PartnerConfigError(path, f"{key}.promo_types", "expected a mapping of the file's word to a type")
    mapping: dict[str, str] = {}
    for text, promo_type in value.items():
        if promo_type not in PROMOTION_TYPES:
            raise PartnerConfigError(
                path, f"{key}.promo_types.{text}", f"{promo_type!r} is not one of {', '.join(PROMOTION_TYPES)}"
            )
        mapping[str(text).strip()] = promo_type
    return mapping


def _header_row(document: Mapping, path: Path, key: str) -> int:
    value = document.get("header_row", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PartnerConfigError(path, f"{key}.header_row", f"expected a row number from 1, got {value!r}")
    return value


def _qualifiers(document: Mapping, path: Path, key: str) -> tuple[str, ...] | None:
    value = document.get("item_qualifiers")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise PartnerConfigError(path, f"{key}.item_qualifiers", "expected a non-empty list of qualifier codes")
    return tuple(item.strip().upper() for item in value)


def _code_mapping(document: Mapping, name: str, path: Path, key: str, width: int) -> dict[str, str | None]:
    """EDI code -> canonical measure (or None to drop the code); numeric codes are zero-padded to ``width``."""
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PartnerConfigError(path, f"{key}.{name}", "expected a mapping of code to canonical measure")
    mapping: dict[str, str | None] = {}
    for code, measure in value.items():
        if isinstance(code, bool) or not isinstance(code, str | int):
            raise PartnerConfigError(path, f"{key}.{name}", f"code {code!r} must be text such as 'QS' or '33'")
        text = str(code).strip().upper()
        text = text.zfill(width) if text.isdigit() else text
        if measure is not None and measure not in MEASURES:
            raise PartnerConfigError(
                path,
                f"{key}.{name}.{text}",
                f"'{measure}' is not a canonical measure (expected one of {', '.join(MEASURES)} or null)",
            )
        mapping[text] = measure
    return mapping


def _reject_unknown_keys(document: Mapping, allowed: set[str], path: Path, key: str) -> None:
    for name in document:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            raise PartnerConfigError(path, where, f"unknown key (expected one of {', '.join(sorted(allowed))})")


def _required_str(document: Mapping, name: str, path: Path, key: str) -> str:
    where = f"{key}.{name}" if key else name
    value = document.get(name)
    if value is None:
        raise PartnerConfigError(path, where, "required key is missing")
    if not isinstance(value, str) or not value.strip():
        raise PartnerConfigError(path, where, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _optional_str(document: Mapping, name: str, path: Path, key: str, default: str) -> str:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value == "":
        raise PartnerConfigError(path, f"{key}.{name}", f"expected a non-empty string, got {value!r}")
    return value


def _string_mapping(value: Any, path: Path, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PartnerConfigError(path, key, "expected a mapping of canonical column to header text")
    mapping: dict[str, str] = {}
    for canonical, header in value.items():
        if not isinstance(header, str | int) or not str(header).strip():
            raise PartnerConfigError(path, f"{key}.{canonical}", f"expected header text, got {header!r}")
        mapping[str(canonical)] = str(header).strip()
    return mapping


def _flag_values(document: Mapping, name: str, path: Path, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not value:
        raise PartnerConfigError(path, f"{key}.{name}", "expected a non-empty list of strings")
    texts = []
    for item in value:
        if isinstance(item, bool):
            # YAML 1.1 reads unquoted yes/no/on/off as booleans, losing the text the file really carries.
            raise PartnerConfigError(path, f"{key}.{name}", f"quote {item!r}: flag values are file text")
        texts.append(str(item))
    return tuple(text.strip() for text in texts)
