"""The entry point: simulate every configured partner, then write the supplier's files and each partner's feeds."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from assets.feeds.contracts import SUPPLIER_FOLDER
from assets.feeds.demo.deliveries import DAILY_FILE_DAYS, PartnerWriter
from assets.feeds.demo.demand import FORECAST_HORIZON_WEEKS
from assets.feeds.demo.simulation import simulate_partner
from assets.feeds.demo.supplier import write_supplier_files
from assets.feeds.demo.world import SCALES, build_catalogue
from assets.feeds.partner_config import load_partner_configs


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
        return "\n".join(lines)


def generate_demo(
    out_dir: Path,
    partner_config_dir: Path,
    seed: int = 7,
    days: int = 730,
    end_date: date | None = None,
    scale: str = "full",
) -> DemoSummary:
    """Write a realistic landing folder for every configured partner plus ``_supplier`` master data.

    ``end_date`` (default: yesterday) is the last business day partners report; history starts ``days - 1``
    days earlier. ``scale="small"`` keeps 2 locations and 5 products per partner for fast tests. The
    ``_supplier`` folder and each partner's folder under ``out_dir`` are replaced, nothing else is touched.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if days < DAILY_FILE_DAYS + 7 * FORECAST_HORIZON_WEEKS:
        raise ValueError(f"days must be at least {DAILY_FILE_DAYS + 7 * FORECAST_HORIZON_WEEKS}, got {days}")
    out_dir = Path(out_dir)
    configs = load_partner_configs(Path(partner_config_dir))
    if not configs:
        raise ValueError(f"no partner configs found in {partner_config_dir}")
    end = end_date or date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    calendar = pd.date_range(start, periods=days + 7 * (FORECAST_HORIZON_WEEKS + 1), freq="D")

    products = build_catalogue(seed, scale)
    partners = [
        simulate_partner(config, products, calendar, days, seed, scale) for _, config in sorted(configs.items())
    ]

    for folder in [SUPPLIER_FOLDER, *(partner.config.partner_id for partner in partners)]:
        if (out_dir / folder).exists():
            shutil.rmtree(out_dir / folder)
    shipment_count = write_supplier_files(out_dir / SUPPLIER_FOLDER, partners, products, end)

    files_per_partner: dict[str, int] = {}
    rows_per_record_type = {"stock": 0, "sales": 0, "forecast": 0, "promotion": 0}
    quarantined: list[str] = []
    duplicates: list[str] = []
    superseded: list[str] = []
    rejected: list[str] = []
    late: list[str] = []
    injected: dict[str, int] = {}
    files_per_format: dict[str, int] = {}
    for partner in partners:
        writer = PartnerWriter(out_dir, partner, start, end, seed)
        writer.write_all()
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
        for name, count in writer.defects.injected.items():
            injected[name] = injected.get(name, 0) + count

    return DemoSummary(
        out_dir=out_dir,
        start_date=start,
        end_date=end,
        files_per_partner=files_per_partner,
        rows_per_record_type=rows_per_record_type,
        series=sum(partner.series for partner in partners),
        products=len(products),
        locations=sum(len(partner.locations) for partner in partners),
        shipments=shipment_count,
        expected_quarantined=tuple(sorted(quarantined)),
        expected_duplicates=tuple(sorted(duplicates)),
        expected_superseded=tuple(sorted(superseded)),
        expected_rejects=tuple(sorted(rejected)),
        late_files=tuple(late),
        injected=injected,
        files_per_format=files_per_format,
    )
