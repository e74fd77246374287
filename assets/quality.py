"""Quality gates in Dagster: GX suites as blocking asset checks on the marts, the per-partner data gate, and the
night's Great Expectations Data Docs."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import great_expectations as gx
import pandas as pd

from assets.renderers.metadata import markdown_preview, partner_check_lines
from assets.renderers.sites import staged_directory
from assets.warehouse import model_key
from expectations.docs import (
    SITE_NAME,
    build_quality_site,
    partners_in,
    read_validation_records,
    write_validation_record,
)
from expectations.inventory import inventory_daily_suite
from expectations.output_checks import RuleResult, describe_failures, gate_rules
from expectations.raw_feeds import raw_sales_suite, raw_stock_snapshots_suite
from expectations.reconciliation import stock_reconciliation_suite
from expectations.runner import SEVERITY_ERROR, blocking_partners, run_suite_by_partner, run_suite_on_partners
from expectations.sales import sales_daily_suite
from expectations.store import CHECK_RESULTS_TABLE, ensure_quality_schema, store_outcomes
from expectations.volume import feed_volume_suite, partner_daily_volume
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS, known_before
from orchestration.runtime.resources import Artefacts, Warehouse
from orchestration.runtime.warehouse_tables import replace_date_rows, table_columns

GROUP = "quality"
OWNER = "team:data-quality"

# The nightly question is whether today's numbers can be trusted; older rows were judged on their own nights.
RECENT_WINDOW_DAYS = 28

PARTNER_GATE_KEY = dg.AssetKey(["quality", "partner_data_gate"])
QUALITY_DOCS_KEY = dg.AssetKey(["quality", "data_docs"])


@dataclass(frozen=True)
class SuiteCheck:
    """One GX suite run per partner on the recent rows of the table it guards."""

    name: str
    table: str
    date_column: str
    build_suite: Callable[[date], gx.ExpectationSuite]
    # Turns the recent rows into what the suite judges (e.g. one volume ratio per partner); None = the rows as read.
    # It also gets the partners known to send this table, so a partner silent over the whole window is judged too.
    prepare: Callable[[pd.DataFrame, date, list[str]], pd.DataFrame] | None = None
    # The columns read (a select list); a check with `prepare` reads the whole window at once, so only what it needs.
    columns: str = "*"
    window_days: int = RECENT_WINDOW_DAYS
    # Whether holding every partner fails the run. A rule about the data partners sent does; a rule about whether
    # they sent (feed volume) does not: a quiet night, with no files from anyone, holds each partner and alerts,
    # and the run still finishes (with nobody to plan) instead of failing as a whole.
    fails_run_when_all_held: bool = True


SUITE_CHECKS = (
    SuiteCheck("gx_raw_sales", "raw.sales", "period_end", raw_sales_suite),
    SuiteCheck("gx_raw_stock_snapshots", "raw.stock_snapshots", "as_of_date", raw_stock_snapshots_suite),
    # 28 trailing days plus the business date itself give the volume rule a full 28-day median.
    SuiteCheck(
        "gx_feed_volume",
        "raw.sales",
        "period_end",
        feed_volume_suite,
        prepare=lambda rows, business_date, partners: partner_daily_volume(
            rows, business_date, "period_end", "units_sold", expected_partners=partners
        ),
        columns="partner_id, period_end, units_sold",
        window_days=RECENT_WINDOW_DAYS + 1,
        fails_run_when_all_held=False,
    ),
    SuiteCheck("gx_fct_sales_daily", "marts.fct_sales_daily", "sales_date", sales_daily_suite),
    SuiteCheck("gx_fct_inventory_daily", "marts.fct_inventory_daily", "inventory_date", inventory_daily_suite),
    SuiteCheck(
        "gx_stock_reconciliation", "marts.stock_reconciliation", "reconciliation_date", stock_reconciliation_suite
    ),
)


# Raw tables are keyed like dbt models, `schema/table`, so one rule names every table a suite guards.
GUARDED_KEYS = sorted({model_key(check.table) for check in SUITE_CHECKS}, key=str)


def _window(check: SuiteCheck, business_date: date) -> tuple[str, dict[str, object]]:
    """The where clause and parameters of the rows a night's check judges: its recent rows, of known files."""
    # Future-dated rows are selected too: they are exactly what the "no future dates" rule must see.
    where = f"{check.date_column} >= $start"
    parameters: dict[str, object] = {"start": business_date - timedelta(days=check.window_days - 1)}
    if check.table.startswith("raw."):
        # Only files the night could have had: a past night replayed does not judge deliveries that came later.
        where += f" and source_file_id in ({KNOWN_FILES_SQL})"
        parameters["known_before"] = known_before(business_date)
    return where, parameters


def _recent_rows(conn, check: SuiteCheck, business_date: date, partner_id: str | None = None) -> pd.DataFrame:
    """The rows the check judges, of one partner when given; prepared when the check prepares them."""
    where, parameters = _window(check, business_date)
    if partner_id is not None:
        where += " and partner_id = $partner"
        parameters["partner"] = partner_id
    # In a fixed order: a suite's example values (and so quality.check_results) are the same on every rerun.
    rows = conn.execute(f"select {check.columns} from {check.table} where {where} order by all", parameters).df()
    if check.prepare is None:
        return rows
    return check.prepare(rows, business_date, _partners_sending(conn, check, business_date))


def _rows_by_partner(conn, check: SuiteCheck, business_date: date) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each partner's recent rows in turn, read when its turn comes: memory follows the largest partner's window,
    not the night's."""
    where, parameters = _window(check, business_date)
    partners = conn.execute(
        f"select distinct partner_id from {check.table} where {where} and partner_id is not null order by 1",
        parameters,
    ).fetchall()
    for (partner_id,) in partners:
        yield str(partner_id), _recent_rows(conn, check, business_date, partner_id)


def _partners_sending(conn, check: SuiteCheck, business_date: date) -> list[str]:
    """Partners with any row in the table up to the business date (of files the night could have had)."""
    sql = f"select distinct partner_id from {check.table} where {check.date_column} <= $day"
    parameters: dict[str, object] = {"day": business_date}
    if check.table.startswith("raw."):
        sql += f" and source_file_id in ({KNOWN_FILES_SQL})"
        parameters["known_before"] = known_before(business_date)
    return [row[0] for row in conn.execute(f"{sql} order by 1", parameters).fetchall()]


KNOWN_FILES_SQL = "select source_file_id from raw.feed_files where coalesce(received_at < $known_before, true)"


def _build_check(
    check: SuiteCheck, partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS
) -> dg.AssetChecksDefinition:
    asset_key = model_key(check.table)

    @dg.asset_check(
        asset=asset_key,
        name=check.name,
        blocking=True,
        description=f"Great Expectations suite `{check.name.removeprefix('gx_')}` per partner on the last "
        f"{RECENT_WINDOW_DAYS} days. Failed error rules hold that partner's plan; "
        + (
            "the run fails only when no partner can be planned."
            if check.fails_run_when_all_held
            else "a night when every partner is held (nothing delivered) still runs, planning nobody."
        ),
        partitions_def=partitions_def,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, artefacts: Artefacts
    ) -> dg.AssetCheckResult:
        business_date = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            suite = check.build_suite(business_date)
            if check.prepare is None:
                run = run_suite_on_partners(_rows_by_partner(conn, check, business_date), suite)
            else:
                run = run_suite_by_partner(_recent_rows(conn, check, business_date), suite)
            run = run if run.results else None
            outcomes = run.outcomes if run is not None else []
            store_outcomes(
                conn,
                outcomes,
                run_id=context.run.run_id,
                as_of_date=business_date,
                asset_key=asset_key.to_user_string(),
                check_name=check.name,
            )
        write_validation_record(artefacts.quality_results(business_date), check.name, run)
        held = blocking_partners(outcomes)
        partners = sorted({o.partner_id for o in outcomes})
        failed = pd.DataFrame([o.as_row() for o in outcomes if not o.passed])
        nothing_plannable = not partners or set(held) == set(partners)
        fails_run = nothing_plannable and check.fails_run_when_all_held
        if nothing_plannable and not fails_run:
            context.log.warning(
                f"{check.name}: no partner passed for {business_date} ({len(held)} held): the night goes on "
                "without a forecast or plan for them"
            )
        return dg.AssetCheckResult(
            passed=not any(not o.passed for o in outcomes) and bool(partners),
            severity=dg.AssetCheckSeverity.ERROR if fails_run else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": run.rows_checked if run is not None else 0,
                "expectations_evaluated": len(outcomes),
                "partners_checked": len(partners),
                "partners_held": dg.MetadataValue.json(held),
                **{
                    key: dg.MetadataValue.text(line)
                    for key, line in partner_check_lines([o.as_row() for o in outcomes]).items()
                },
                "failures": dg.MetadataValue.md(
                    markdown_preview(
                        failed[
                            [
                                "partner_id",
                                "expectation",
                                "column",
                                "severity",
                                "unexpected_count",
                                "examples",
                            ]
                        ]
                        if not failed.empty
                        else failed
                    )
                ),
            },
        )

    return _check


def build_quality_checks(
    partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS,
) -> list[dg.AssetChecksDefinition]:
    """One blocking GX check per guarded table, on the nights' partitions."""
    return [_build_check(check, partitions_def) for check in SUITE_CHECKS]


QUALITY_CHECKS = build_quality_checks()


@dg.asset(
    key=PARTNER_GATE_KEY,
    deps=GUARDED_KEYS,
    group_name=GROUP,
    owners=[OWNER],
    kinds={"duckdb", "great_expectations"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def partner_data_gate(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per partner and business date: may its data reach the forecast and plan (pass, warn or held)?"""
    business_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as conn:
        ensure_quality_schema(conn)
        conn.execute(
            """create table if not exists quality.partner_data_gate (
                   as_of_date date, partner_id varchar, status varchar, failed_errors integer,
                   failed_warnings integer, reasons varchar, run_id varchar)"""
        )
        gate = conn.execute(
            f"""
            select ?::date as as_of_date, partner_id,
                   case when count(*) filter (where not passed and severity = ?) > 0 then 'held'
                        when count(*) filter (where not passed) > 0 then 'warn'
                        else 'pass' end as status,
                   count(*) filter (where not passed and severity = ?) as failed_errors,
                   count(*) filter (where not passed and severity <> ?) as failed_warnings,
                   -- Ordered, so a rerun of the night writes the same text.
                   string_agg(distinct failure, '; ' order by failure) as reasons,
                   ? as run_id
            from (
                select *,
                       case when not passed then suite || ': ' || expectation
                            || coalesce('(' || "column" || ')', '') || ' [' || severity || ']' end as failure
                from {CHECK_RESULTS_TABLE}
                where as_of_date = ?
            )
            group by partner_id order by partner_id
            """,
            [business_date, SEVERITY_ERROR, SEVERITY_ERROR, SEVERITY_ERROR, context.run_id, business_date],
        ).df()
        replace_date_rows(conn, "quality.partner_data_gate", "as_of_date", business_date, gate)
        schema = column_schema(conn, "quality.partner_data_gate", GATE_COLUMNS)
    held = gate.loc[gate["status"] == "held", "partner_id"].tolist()
    if held:
        context.log.warning(f"partners held from forecast and plan on {business_date}: {', '.join(held)}")
    # One short line per partner, shown as it is on the asset page (a long markdown table hides behind a button).
    per_partner = {
        f"partner {row.partner_id}": f"{row.status}: {row.failed_errors} error rule(s), "
        f"{row.failed_warnings} warning rule(s) failed"
        for row in gate.itertuples(index=False)
    }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(gate),
            "dagster/column_schema": schema,
            "partners_held": len(held),
            "held_partner_ids": ", ".join(held),
            **per_partner,
            "gate": dg.MetadataValue.md(markdown_preview(gate.drop(columns=["run_id"]))),
        }
    )


def plannable_partners(conn, business_date: date) -> list[str]:
    """Partners whose data passed the error-severity rules for this business date."""
    return [
        row[0]
        for row in conn.execute(
            "select partner_id from quality.partner_data_gate where as_of_date = ? and status <> 'held' "
            "order by partner_id",
            [business_date],
        ).fetchall()
    ]


@dg.asset(
    key=QUALITY_DOCS_KEY,
    deps=GUARDED_KEYS,
    group_name=GROUP,
    owners=[OWNER],
    kinds={"great_expectations", "html"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def data_docs(context: dg.AssetExecutionContext, artefacts: Artefacts) -> dg.MaterializeResult:
    """Great Expectations Data Docs of the night: each suite's result per partner, expectation by expectation."""
    business_date = date.fromisoformat(context.partition_key)
    records = read_validation_records(artefacts.quality_results(business_date))
    if not records:
        context.log.warning(f"no GX validation results kept for {business_date}: the Data Docs index will be empty")
    started = time.perf_counter()
    target = artefacts.quality_docs(business_date)
    with staged_directory(target) as site_dir:
        site = build_quality_site(records, site_dir, f"{SITE_NAME} {business_date.isoformat()}")
    failed = site.failed_validations
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target / "index.html")),
            "validation_pages": len(site.validation_pages),
            "suite_pages": len(site.suite_pages),
            "partners": len(partners_in(records)),
            "failed_validations": dg.MetadataValue.md("\n".join(f"- {item}" for item in failed) or "_none_"),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
    )


# --- What the analyst tables hold, and the invariants of what a night produces, as Dagster metadata and checks ---

GATE_COLUMNS = {
    "as_of_date": "The business date judged.",
    "partner_id": "The partner.",
    "status": "pass: every rule held; warn: a warning rule failed (recorded, plan goes on); held: an error rule "
    "failed, so no forecast or plan for this partner tonight.",
    "failed_errors": "Error-severity rules that failed.",
    "failed_warnings": "Warning-severity rules that failed.",
    "reasons": "Each failed rule: suite, expectation, column and severity.",
    "run_id": "The Dagster run that judged it.",
}


def column_schema(conn, table: str, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    """The table's columns as the warehouse has them, with what each means where we say it: `dagster/column_schema`."""
    described = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, data_type.lower(), description=described.get(name))
            for name, data_type in table_columns(conn, table)
        ]
    )


def rules_check_result(results: list[RuleResult], **metadata) -> dg.AssetCheckResult:
    """An asset check result from rule results: one metadata line per rule (readable without opening anything),
    and the first offending rows of each broken rule."""
    lines = {
        f"rule {result.rule}": "holds" if result.passed else f"{result.failures} row(s) break it: {result.description}"
        for result in results
    }
    offending = {
        f"offending {result.rule}": dg.MetadataValue.md(markdown_preview(result.offending))
        for result in results
        if not result.passed
    }
    return dg.AssetCheckResult(
        passed=all(result.passed for result in results),
        severity=dg.AssetCheckSeverity.ERROR,
        description=describe_failures(results),
        metadata={**lines, **offending, **metadata},
    )


def build_gate_checks(
    partners: list[str], partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS
) -> list[dg.AssetChecksDefinition]:
    """The gate's own invariant (one row per checked partner) and one check per partner, so who is held or warned
    shows in the asset's check list, not inside a dialog."""

    @dg.asset_check(
        asset=PARTNER_GATE_KEY,
        name="gate_rows",
        description="One gate row per partner whose data was checked tonight, each with status pass, warn or held.",
        partitions_def=partitions_def,
    )
    def gate_rows(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        business_date = date.fromisoformat(context.partition_key)
        with warehouse.connect(read_only=True) as conn:
            gate = conn.execute(
                "select partner_id, status from quality.partner_data_gate where as_of_date = ?", [business_date]
            ).df()
            checked = [
                row[0]
                for row in conn.execute(
                    f"select distinct partner_id from {CHECK_RESULTS_TABLE} where as_of_date = ? order by 1",
                    [business_date],
                ).fetchall()
            ]
        return rules_check_result(gate_rules(gate, checked), partners=len(gate))

    return [gate_rows, *(_partner_gate_check(partner, partitions_def) for partner in sorted(partners))]


def partner_gate_outcome(row: dict | None) -> tuple[bool, dg.AssetCheckSeverity, str]:
    """(passed, severity, one line) for one partner's gate row of the night; no row means it was not judged."""
    if row is None:
        return False, dg.AssetCheckSeverity.WARN, "not judged tonight: no data of this partner was checked"
    status, reasons = row["status"], row.get("reasons") or ""
    if status == "pass":
        return True, dg.AssetCheckSeverity.WARN, "pass: every rule held"
    severity = dg.AssetCheckSeverity.ERROR if status == "held" else dg.AssetCheckSeverity.WARN
    verdict = "held from forecast and plan" if status == "held" else "warn: plan goes on"
    return False, severity, f"{verdict}; {reasons}" if reasons else verdict


def _partner_gate_check(partner: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=PARTNER_GATE_KEY,
        name=f"{partner}__data_gate",
        description=f"{partner}: may its data reach tonight's forecast and plan? Fails as a warning when a warning "
        "rule failed, as an error when the partner is held.",
        partitions_def=partitions_def,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        business_date = date.fromisoformat(context.partition_key)
        with warehouse.connect(read_only=True) as conn:
            found = conn.execute(
                "select status, failed_errors, failed_warnings, reasons from quality.partner_data_gate "
                "where as_of_date = ? and partner_id = ?",
                [business_date, partner],
            ).df()
        row = found.iloc[0].to_dict() if not found.empty else None
        passed, severity, line = partner_gate_outcome(row)
        metadata = {"status": row["status"] if row else "not judged", "verdict": line}
        if row:
            metadata |= {"failed_errors": int(row["failed_errors"]), "failed_warnings": int(row["failed_warnings"])}
        return dg.AssetCheckResult(passed=passed, severity=severity, description=line, metadata=metadata)

    return _check
