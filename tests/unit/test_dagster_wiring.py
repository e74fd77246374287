"""What the Dagster UI shows, decided in definitions that load without a run: partitions, progress, gate verdicts."""

import dagster as dg

from assets.forecasts import demand_forecast
from assets.ingest import partner_feeds, supplier_master_data
from assets.quality import partner_gate_outcome
from assets.warehouse import BuildProgress, model_key
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS, nightly_partitions, with_partitions
from orchestration.runtime.settings import DEFAULT_PARTITIONS_START


def test_master_data_is_unpartitioned_and_partner_feeds_are_nightly():
    assert supplier_master_data.partitions_def is None
    assert partner_feeds.partitions_def == NIGHTLY_PARTITIONS


def test_the_nights_start_where_the_setting_says_and_master_data_stays_unpartitioned():
    assert NIGHTLY_PARTITIONS.start.date().isoformat() == DEFAULT_PARTITIONS_START
    later = nightly_partitions("2025-06-01")
    moved = with_partitions(partner_feeds, later)
    assert all(spec.partitions_def == later for spec in moved.specs)
    assert with_partitions(supplier_master_data, later).partitions_def is None
    assert later.get_first_partition_key() == "2025-06-01"


def test_dbt_progress_is_reported_every_few_models_and_counts_failed_tests():
    progress = BuildProgress(models_total=7, tests_total=3, every=3)
    lines = []
    for event in [
        dg.Output(None, "a"),
        dg.AssetCheckResult(asset_key="a", passed=True),
        dg.Output(None, "b"),
        dg.Output(None, "c"),
        dg.AssetCheckResult(asset_key="c", passed=False),
    ]:
        if line := progress.record(event):
            lines.append(line)
    assert len(lines) == 1 and lines[0].startswith("dbt build: 3/7 models, 1/3 tests")
    assert progress.line().startswith("dbt build: 3/7 models, 2/3 tests, 1 failed")


def test_a_partners_gate_check_fails_as_a_warning_or_an_error_by_its_status():
    assert partner_gate_outcome({"status": "pass", "reasons": None})[0] is True
    passed, severity, line = partner_gate_outcome({"status": "warn", "reasons": "raw_sales: negative [warning]"})
    assert not passed and severity == dg.AssetCheckSeverity.WARN and "negative" in line
    passed, severity, _ = partner_gate_outcome({"status": "held", "reasons": "x"})
    assert not passed and severity == dg.AssetCheckSeverity.ERROR
    assert partner_gate_outcome(None)[2].startswith("not judged tonight")


def test_the_forecast_waits_for_the_promotion_days_mart_it_reads():
    assert model_key("marts.fct_promotion_days") in demand_forecast.dependency_keys
