"""The entry point: simulate every configured partner, then write the supplier's files and each partner's feeds."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from assets.feeds.contracts import SUPPLIER_FOLDER
from assets.feeds.demo.deliveries import DAILY_FILE_DAYS, PartnerWriter
from assets.feeds.demo.demand import FORECAST_HORIZON_WEEKS
from assets.feeds.demo.files import write_file
from assets.feeds.demo.partners import parse_documents, partner_documents
from assets.feeds.demo.simulation import simulate_partner
from assets.feeds.demo.supplier import write_supplier_files
from assets.feeds.demo.world import SCALES, build_catalogue
from assets.feeds.partner_config import load_partner_configs

DEFAULT_DAYS = 730
MIN_DAYS = DAILY_FILE_DAYS + 7 * FORECAST_HORIZON_WEEKS
MANIFEST = "demo_manifest.json"
MANIFEST_KEYS = {"seed", "scale", "partners", "locations", "products", "days", "start", "anchor"}
# Where a landing with more partners than the configured ones keeps every partner's config (the pipeline does not
# read folders starting with "_" as partner folders).
PARTNER_CONFIG_FOLDER = "_partners"
MAX_PARTNERS = 200
# Lines the catalogue holds beyond what a partner carries, so each picks its slow and regular movers among more.
CATALOGUE_SPARE = 8


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
    held_back: tuple[str, ...] = ()  # late files that arrive after the end's night: a later end writes them
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
        if self.held_back:
            lines.append(f"  held back (arriving after the end's night): {', '.join(self.held_back)}")
        return "\n".join(lines)


def generate_demo(
    out_dir: Path,
    partner_config_dir: Path,
    seed: int = 7,
    days: int | None = None,
    end_date: date | None = None,
    scale: str = "full",
    locations: int | None = None,
    products: int | None = None,
    partners: int | None = None,
) -> DemoSummary:
    """Write a realistic landing folder for every configured partner plus ``_supplier`` master data.

    ``end_date`` (default: yesterday) is the last business day partners report; history starts ``days - 1``
    days earlier (default 730 days). ``scale="small"`` keeps 2 locations and 5 products per partner for fast tests.
    ``locations`` and ``products`` set every partner's count of stores and of products carried, whatever the
    scale: the partners' configured stores come first, then more in their cities, and the catalogue grows to a few
    more lines than a partner carries (see ``world.catalogue_items``). ``partners`` sets how many partners there
    are: past the configured ones, more made from them in turn (see ``partners.partner_documents``); the landing's
    ``_partners`` folder then holds every partner's config, for the pipeline's ``--partner-config``.

    The landing's ``demo_manifest.json`` records the seed, scale, partners, start and first end. An end no earlier
    than the landing's last day, with the same options (``days`` left out or as recorded), extends that landing as
    partners would: every file already there stays as it is and the deliveries of the new days are added.
    Otherwise the ``_supplier`` folder and each partner's folder under ``out_dir`` are replaced; nothing else is
    touched.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if days is not None and days < MIN_DAYS:
        raise ValueError(f"days must be at least {MIN_DAYS}, got {days}")
    out_dir = Path(out_dir)
    configs = load_partner_configs(Path(partner_config_dir))
    if not configs:
        raise ValueError(f"no partner configs found in {partner_config_dir}")
    documents = None
    if partners is not None:
        if not 1 <= partners <= MAX_PARTNERS:
            raise ValueError(f"partners must be from 1 to {MAX_PARTNERS}, got {partners}")
        documents = partner_documents(configs, partners, seed)
        configs = parse_documents(documents, out_dir / PARTNER_CONFIG_FOLDER)
    end = end_date or date.today() - timedelta(days=1)
    # A store's GLN has three digits for it, a product's UPC five (from 1001 on, with the catalogue's spare lines).
    for name, value, most in (("locations", locations, 999), ("products", products, 98_000)):
        if value is not None and not 1 <= value <= most:
            raise ValueError(f"{name} must be from 1 to {most}, got {value}")
    requested = {
        "seed": seed,
        "scale": scale,
        "partners": sorted(configs),
        "locations": locations,
        "products": products,
    }
    manifest = _read_manifest(out_dir)
    extends = (
        manifest is not None
        and {key: manifest.get(key) for key in requested} == requested
        and days in (None, manifest["days"])
        and end >= _last_end(out_dir, date.fromisoformat(manifest["anchor"]))
    )
    if extends:
        start, anchor = date.fromisoformat(manifest["start"]), date.fromisoformat(manifest["anchor"])
        anchor_days = manifest["days"]
    else:
        anchor_days = days or DEFAULT_DAYS
        start, anchor = end - timedelta(days=anchor_days - 1), end
    days = (end - start).days + 1
    calendar = pd.date_range(start, periods=days + 7 * (FORECAST_HORIZON_WEEKS + 1), freq="D")

    catalogue = build_catalogue(seed, scale, products + CATALOGUE_SPARE if products else None)
    if not extends:
        for folder in [SUPPLIER_FOLDER, PARTNER_CONFIG_FOLDER, *configs]:
            if (out_dir / folder).exists():
                shutil.rmtree(out_dir / folder)
        if documents is not None:
            _write_configs(out_dir / PARTNER_CONFIG_FOLDER, documents, anchor)

    files_per_partner: dict[str, int] = {}
    rows_per_record_type = {"stock": 0, "sales": 0, "forecast": 0, "promotion": 0}
    quarantined: list[str] = []
    duplicates: list[str] = []
    superseded: list[str] = []
    rejected: list[str] = []
    late: list[str] = []
    held_back: list[str] = []
    injected: dict[str, int] = {}
    files_per_format: dict[str, int] = {}
    simulated = []
    for _, config in sorted(configs.items()):
        # One partner's daily history at a time: its files written, only what the supplier's files need is kept.
        partner = simulate_partner(config, catalogue, calendar, days, seed, scale, anchor_days, locations, products)
        writer = PartnerWriter(out_dir, partner, start, end, seed, anchor)
        writer.write_all()
        simulated.append(replace(partner, history=None, forecasts=None))
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
        held_back += writer.held_back
        for name, count in writer.defects.injected.items():
            injected[name] = injected.get(name, 0) + count
        del partner, writer

    shipment_count = write_supplier_files(out_dir / SUPPLIER_FOLDER, simulated, catalogue, end, anchor)
    if not extends:
        _write_manifest(out_dir, requested | {"days": anchor_days, "start": start, "anchor": anchor})
    return DemoSummary(
        out_dir=out_dir,
        start_date=start,
        end_date=end,
        files_per_partner=files_per_partner,
        rows_per_record_type=rows_per_record_type,
        series=sum(partner.series for partner in simulated),
        products=len(catalogue),
        locations=sum(len(partner.locations) for partner in simulated),
        shipments=shipment_count,
        expected_quarantined=tuple(sorted(quarantined)),
        expected_duplicates=tuple(sorted(duplicates)),
        expected_superseded=tuple(sorted(superseded)),
        expected_rejects=tuple(sorted(rejected)),
        late_files=tuple(late),
        held_back=tuple(held_back),
        injected=injected,
        files_per_format=files_per_format,
    )


def _read_manifest(out_dir: Path) -> dict | None:
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.keys() >= MANIFEST_KEYS else None


def _last_end(out_dir: Path, anchor: date) -> date:
    """The last business day the landing holds: the anchor, or the last day the supplier's dated stock says."""
    days = [anchor]
    for path in (out_dir / SUPPLIER_FOLDER).glob("supplier_stock_*.csv"):
        try:
            days.append(datetime.strptime(path.stem.rsplit("_", 1)[-1], "%Y%m%d").date())
        except ValueError:
            continue
    return max(days)


def _write_configs(folder: Path, documents: dict[str, str], anchor: date) -> None:
    """Every partner's config as the pipeline reads it, delivered with the manifest."""
    written = datetime.combine(anchor + timedelta(days=1), time(0, 0), tzinfo=UTC).timestamp()
    for partner_id, text in documents.items():
        write_file(folder / f"{partner_id}.yaml", text.encode("utf-8"), written)


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    """What the landing was written with, for a later end to extend it (it lies beside the partner folders, where
    the pipeline does not look)."""
    text = json.dumps({key: str(value) if isinstance(value, date) else value for key, value in manifest.items()})
    written = datetime.combine(manifest["anchor"] + timedelta(days=1), time(0, 0), tzinfo=UTC).timestamp()
    write_file(out_dir / MANIFEST, (text + "\n").encode("utf-8"), written)
