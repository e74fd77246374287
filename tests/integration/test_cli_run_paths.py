"""`cmi run --warehouse/--landing/--partner-config` win over the environment and the config file.

Observed from outside, as an engineer would: three places each hold a warehouse path, a landing with one delivery
of the same partner under another file name, and a partner config folder (only the options' one configures the
partner). After one `cmi run`, only the options' warehouse exists, and its feed ledger holds the options' delivery,
loaded with the options' partner config. That the environment wins over the config file is test_cli_config's.

The landings hold no supplier master data, so the night stops after ingesting the feeds: all this test needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.cli import warehouse_dagster_home

CMI = Path(sys.executable).with_name("cmi")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARTNER = "option_partner"
PARTNER_CONFIG = """\
partner_id: option_partner
name: Option Partner
country: US
timezone: UTC
currency: USD
feed_cutoff: "06:00"
files:
  - record_type: stock
    pattern: "inventory_*.csv"
    format: csv
    delimiter: ","
    encoding: utf-8
    decimal: "."
    date_format: "%Y-%m-%d"
    columns:
      location_id: store_nbr
      product_ref: upc
      as_of_date: inventory_date
      on_hand_qty: on_hand_units
    constants: {uom: EA}
"""
NIGHT = "2025-06-30"


def place(root: Path, delivered_on: str, configures_partner: bool) -> dict[str, Path]:
    """A warehouse path (not created), a landing with one stock count of PARTNER, and a partner config folder."""
    landing, partners = root / "landing", root / "partners"
    (landing / PARTNER).mkdir(parents=True)
    (landing / PARTNER / f"inventory_{delivered_on}.csv").write_text(
        f"store_nbr,upc,inventory_date,on_hand_units\nS1,012345678905,{delivered_on[:4]}-{delivered_on[4:6]}-"
        f"{delivered_on[6:]},7\n",
        encoding="utf-8",
    )
    partners.mkdir()
    if configures_partner:
        (partners / f"{PARTNER}.yaml").write_text(PARTNER_CONFIG, encoding="utf-8")
    return {"warehouse": root / "warehouse.duckdb", "landing": landing, "partners": partners}


def test_run_options_win_over_the_environment_and_the_config_file(tmp_path):
    option = place(tmp_path / "option", "20250630", configures_partner=True)
    environment = place(tmp_path / "environment", "20250629", configures_partner=False)
    config_file = place(tmp_path / "config-file", "20250628", configures_partner=False)
    cmi_env = tmp_path / "cmi.env"
    cmi_env.write_text(
        f"CMI_DUCKDB_PATH={config_file['warehouse']}\nCMI_LANDING_DIR={config_file['landing']}\n"
        f"CMI_PARTNER_CONFIG_DIR={config_file['partners']}\n",
        encoding="utf-8",
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("CMI_") and name != "DAGSTER_HOME"}
    env.update(
        {
            "CMI_CONFIG_FILE": str(cmi_env),
            "CMI_DUCKDB_PATH": str(environment["warehouse"]),
            "CMI_LANDING_DIR": str(environment["landing"]),
            "CMI_PARTNER_CONFIG_DIR": str(environment["partners"]),
            "CMI_DATA_DIR": str(tmp_path / "data"),
        }
    )
    run = subprocess.run(
        [
            str(CMI),
            "run",
            "--as-of",
            NIGHT,
            "--warehouse",
            str(option["warehouse"]),
            "--landing",
            str(option["landing"]),
            "--partner-config",
            str(option["partners"]),
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert option["warehouse"].exists(), run.stderr[-3000:]
    assert not environment["warehouse"].exists()
    assert not config_file["warehouse"].exists()
    with duckdb.connect(str(option["warehouse"]), read_only=True) as conn:
        ledger = conn.execute("select partner_id, path, status from raw.feed_files order by all").fetchall()
    assert ledger == [(PARTNER, f"{PARTNER}/inventory_20250630.csv", "loaded")], run.stderr[-3000:]
    # The run is kept in the options' warehouse's own Dagster home, the one `cmi ui` on that warehouse opens: filed
    # under the nightly job, with the night's partition of the feeds materialized.
    instance = dg.DagsterInstance.from_config(str(warehouse_dagster_home(tmp_path / "data", option["warehouse"])))
    try:
        (record,) = instance.get_run_records(dg.RunsFilter(job_name="nightly"))
        assert record.dagster_run.tags["dagster/partition"] == NIGHT
        assert instance.get_materialized_partitions(dg.AssetKey(["raw", "feed_files"])) == {NIGHT}
    finally:
        instance.dispose()
