"""The night's forecast with the partners' own forecasts as evidence (DuckDB I/O only; no Dagster).

``apply_partner_forecasts(conn, as_of_date)`` runs after the night's statistical forecast is stored in
``forecasts.forecast_history``. It reads the partner forecasts whose files had arrived by the night
(``intermediate.int_partner_forecasts_resolved``, ``known_on``), our statistical forecasts of the last
``EVIDENCE_WINDOW_DAYS`` nights and the uncensored sales since, weighs the two per series
(``partner_combination``), and rewrites the night's rows in place: ``p50`` / ``p90`` become the forecast the plan
uses (ours, the partner's or the combination), ``stat_p50`` / ``stat_p90`` keep ours, ``partner_p50`` the partner's
daily share, with the weights and the evidence-window errors beside them. Rerunning it gives the same rows: it always
starts from ``stat_p50``.

Memory follows a block of ``block_series`` series (the forecast's ``chunk_series``), not the night. The series
(tonight's, and the window's of the same partners) are numbered into blocks in a temporary table, and every read
joins it, so each frame is one block's. A series short of evidence borrows its partner's pooled weights, which need
all of the partner's series: the first pass adds up each partner's error sums block by block, the second its pooled
combination's error, and the third judges each block's series and updates its rows. Each block's rows and evidence
are read once, kept in a temporary folder between the passes (on disk, not in memory), and the updates run in one
transaction: a failure part-way leaves the night's previous rows. The results are those of the whole night at once
(sums of blocks may differ from one sum in the last bit of a pooled ratio).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from forecasts.forecasting.forecast_history import EVIDENCE_COLUMNS, ensure_forecast_tables
from forecasts.forecasting.partner_combination import (
    EVIDENCE_WINDOW_DAYS,
    MIN_EVIDENCE_DAYS,
    SERIES_KEYS,
    choose_weights,
    combine_night,
    evidence_pairs,
    partner_as_known,
    partner_combined_error,
    partner_daily,
    partner_sums,
    pooled_error_sums,
    pooled_judgement,
)
from orchestration.runtime.warehouse_tables import numbered_blocks, registered, table_exists, transaction

PARTNER_FORECASTS = "intermediate.int_partner_forecasts_resolved"
# The nightly forecast's default chunk (``warehouse_forecast.DEFAULT_CHUNK_SERIES``; the asset passes its
# ``chunk_series``): a block holds 28 night rows and, with a month of nights, some 400 evidence pairs per series.
DEFAULT_BLOCK_SERIES = 1000
_BLOCKS = "partner_evidence_series"

# Tonight's series, and the window's of tonight's partners (their evidence pools into the partner's), in blocks.
_SERIES_SQL = """
select distinct partner_id, location_id, product_id
from forecasts.forecast_history
where as_of_date = $night
   or (as_of_date between $night - $window and $night - 1 and forecast_date <= $night
       and partner_id in (select partner_id from forecasts.forecast_history where as_of_date = $night))
"""

# Rows come in the table's order, as a scan of the whole night gives them, so each series' sums add its rows in the
# same order whatever the blocks.
_NIGHT_SQL = f"""
select h.partner_id, h.location_id, h.product_id, h.forecast_date,
       coalesce(h.stat_p50, h.p50) as p50, coalesce(h.stat_p90, h.p90) as p90
from forecasts.forecast_history as h
join {_BLOCKS} as k using (partner_id, location_id, product_id)
where h.as_of_date = $night and k.block = $block
order by h.rowid
"""

# The partner forecasts and the sales the evidence reads, each selected once a night into a temporary table with
# its series' block: the tables they come from hold all history, which a scan per block would read again for
# every block (at 99,900 series, 100 scans of 84 M partner forecast rows).
_PARTNER_WINDOW = "partner_evidence_forecasts"
_PARTNER_WINDOW_SQL = f"""
create or replace temp table {_PARTNER_WINDOW} as
select k.block, f.partner_id, f.location_id, f.product_id, f.forecast_date, f.known_on, f.target_period_start,
       f.target_period_end, f.forecast_qty
from {PARTNER_FORECASTS} as f
join {_BLOCKS} as k using (partner_id, location_id, product_id)
where f.known_on <= $night and f.target_period_end > $night - $window
"""

_PARTNER_SQL = f"""
select partner_id, location_id, product_id, forecast_date, known_on, target_period_start, target_period_end,
       forecast_qty
from {_PARTNER_WINDOW}
where block = $block
order by all
"""

# Our statistical forecasts of the window's nights for days whose sales have arrived by tonight.
_OURS_SQL = f"""
select h.partner_id, h.location_id, h.product_id, h.as_of_date as night, h.forecast_date as date,
       coalesce(h.stat_p50, h.p50) as ours
from forecasts.forecast_history as h
join {_BLOCKS} as k using (partner_id, location_id, product_id)
where k.block = $block and h.as_of_date between $night - $window and $night - 1 and h.forecast_date <= $night
order by h.rowid
"""

_ACTUALS_WINDOW = "partner_evidence_actuals"
_ACTUALS_WINDOW_SQL = f"""
create or replace temp table {_ACTUALS_WINDOW} as
select k.block, s.partner_id, s.location_id, s.product_id, s.sales_date as date, s.units_sold as actual
from marts.fct_sales_daily as s
join {_BLOCKS} as k using (partner_id, location_id, product_id)
where s.sales_date between $night - $window + 1 and $night and not coalesce(s.is_stockout, false)
"""

_ACTUALS_SQL = f"""
select partner_id, location_id, product_id, date, actual
from {_ACTUALS_WINDOW}
where block = $block
order by all
"""

_UPDATE_COLUMNS = ["p50", "p90", *EVIDENCE_COLUMNS]


def apply_partner_forecasts(
    conn: duckdb.DuckDBPyConnection,
    as_of_date: date,
    *,
    window_days: int = EVIDENCE_WINDOW_DAYS,
    min_days: int = MIN_EVIDENCE_DAYS,
    block_series: int = DEFAULT_BLOCK_SERIES,
    progress: Callable[[str, int, int], None] | None = None,
) -> Counter:
    """Rewrite ``as_of_date``'s forecast rows with the partners' evidence, ``block_series`` series at a time;
    returns the rows per forecast source. ``progress(stage, blocks_done, blocks)`` is called after each block of
    the first pass (stage ``"read"``) and of the last (``"written"``)."""
    if block_series < 1:
        raise ValueError(f"block_series must be at least 1, got {block_series}")
    ensure_forecast_tables(conn)
    parameters = {"night": as_of_date, "window": window_days}
    with (
        numbered_blocks(conn, _BLOCKS, _SERIES_SQL, parameters, block_size=block_series) as blocks,
        _window_tables(conn, parameters) as has_table,
        tempfile.TemporaryDirectory(prefix="partner-evidence-") as folder,
    ):
        kept = [Path(folder) / f"block-{block}.pickle" for block in range(blocks)]
        sums = []
        for block, path in enumerate(kept):
            night, tonight, evidence = _read_block(conn, {**parameters, "block": block}, has_table)
            sums.append(partner_sums(evidence))
            if not evidence.empty:  # kept with the ids as categories: every reader turns them back to strings
                evidence = evidence.astype(dict.fromkeys(SERIES_KEYS, "category"))
            pd.to_pickle((night, tonight, evidence), path)
            del night, tonight, evidence
            if progress is not None:
                progress("read", block + 1, blocks)
        pooled = pooled_error_sums([part for part in sums if not part.empty])
        combined = [partner_combined_error(pd.read_pickle(path)[2], pooled) for path in kept]
        by_partner = pooled_judgement(pooled, combined, min_days)
        return _write_blocks(conn, kept, by_partner, min_days, as_of_date, progress)


@contextlib.contextmanager
def _window_tables(conn: duckdb.DuckDBPyConnection, parameters: dict) -> Iterator[bool]:
    """The window's partner forecasts and sales, numbered by block, as temporary tables while the block runs (none
    of the first when the warehouse has no partner forecasts); yields whether it has them."""
    has_table = table_exists(conn, PARTNER_FORECASTS)
    try:
        if has_table:
            conn.execute(_PARTNER_WINDOW_SQL, parameters)
            conn.execute(_ACTUALS_WINDOW_SQL, parameters)
        yield has_table
    finally:
        conn.execute(f"drop table if exists {_PARTNER_WINDOW}")
        conn.execute(f"drop table if exists {_ACTUALS_WINDOW}")


def _read_block(
    conn: duckdb.DuckDBPyConnection, parameters: dict, has_table: bool
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """One block's night rows, the partner's daily forecast of each as known tonight, and its evidence pairs."""
    night = conn.execute(_NIGHT_SQL, {k: parameters[k] for k in ("night", "block")}).df()
    forecasts = conn.execute(_PARTNER_SQL, {"block": parameters["block"]}).df() if has_table else pd.DataFrame()
    daily = partner_daily(forecasts) if not forecasts.empty else pd.DataFrame()
    wanted = night[SERIES_KEYS].assign(night=pd.Timestamp(parameters["night"]), date=night["forecast_date"])
    tonight = partner_as_known(daily, wanted)["partner_qty"]
    evidence = pd.DataFrame()
    if not daily.empty:
        ours = conn.execute(_OURS_SQL, parameters).df()
        actuals = conn.execute(_ACTUALS_SQL, {"block": parameters["block"]}).df()
        if not ours.empty and not actuals.empty:
            evidence = evidence_pairs(ours, daily, actuals)
    return night, tonight, evidence


def _write_blocks(
    conn: duckdb.DuckDBPyConnection,
    kept: list[Path],
    by_partner: pd.DataFrame,
    min_days: int,
    as_of_date: date,
    progress: Callable[[str, int, int], None] | None,
) -> Counter:
    """Judge each block's series and update its night rows, all blocks in one transaction."""
    sources: Counter = Counter()
    with transaction(conn):
        for done, path in enumerate(kept, start=1):
            night, tonight, evidence = pd.read_pickle(path)
            if not night.empty:
                with_partner = night.loc[tonight.notna().to_numpy(), SERIES_KEYS].drop_duplicates()
                weights = choose_weights(evidence, with_partner, min_days=min_days, by_partner=by_partner)
                rows = combine_night(night, tonight, weights)
                _update(conn, rows, as_of_date)
                sources.update(rows["forecast_source"].tolist())
            if progress is not None:
                progress("written", done, len(kept))
    return sources


def _update(conn: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of_date: date) -> None:
    rows = rows.assign(forecast_date=pd.to_datetime(rows["forecast_date"]).dt.date)
    assignments = ", ".join(f'"{column}" = e."{column}"' for column in _UPDATE_COLUMNS)
    with registered(conn, "night_evidence", rows[[*SERIES_KEYS, "forecast_date", *_UPDATE_COLUMNS]]):
        conn.execute(
            f"""update forecasts.forecast_history as h set {assignments}
                from night_evidence as e
                where h.as_of_date = $night and h.partner_id = e.partner_id and h.location_id = e.location_id
                  and h.product_id = e.product_id and h.forecast_date = e.forecast_date""",
            {"night": as_of_date},
        )
