"""The forecast fingerprint hashes every column of the forecast history but the run's id and time."""

from __future__ import annotations

import duckdb

from benchmarks.forecast_fingerprint import fingerprint


def test_the_fingerprint_sees_the_model_choice_evidence_and_not_the_run(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema forecasts")
        conn.execute(
            """create table forecasts.forecast_history as select date '2026-03-31' as as_of_date, 'p1' as partner_id,
                   'S-1' as location_id, 'A' as product_id, 'p1|S-1|A' as series_id,
                   date '2026-04-01' as forecast_date, 1.5 as p50, 3.0 as p90, 'adida' as model,
                   'intermittent' as demand_class, 2.0 as adi, 0.3 as cv2, 'adida 5% better' as choice_reason,
                   '{"adida": 0.9}' as choice_scores, 2 as choice_origins, 40 as choice_series,
                   'run-1' as run_id, now() as created_at"""
        )
    first = fingerprint(path)
    with duckdb.connect(str(path)) as conn:
        conn.execute("update forecasts.forecast_history set run_id = 'run-2', created_at = now()")
    assert fingerprint(path) == first
    with duckdb.connect(str(path)) as conn:
        conn.execute("update forecasts.forecast_history set choice_reason = 'the default scores best'")
    assert fingerprint(path)[0] == 1 and fingerprint(path) != first
