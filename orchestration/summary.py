"""What a nightly run produced, printed for the engineer who ran it, and where to look next.

Only what the run itself wrote is shown as the night's: a failed run says where it failed and why, and prints no
plan, gate or report left in the warehouse by an earlier run.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import duckdb

from assets.renderers.report.inputs import PLAN_QUERY, read_report_frame
from assets.renderers.report.views import plan_costs
from forecasts.replenishment.explain import money
from orchestration.runtime.warehouse_tables import table_exists

# The schemas whose tables are counted, in the order a planner reads them: the plan first, the raw feeds last.
SUMMARY_SCHEMAS = ("replenishment", "forecasts", "quality", "marts", "staging", "raw")
# Within a schema, the tables people open first; the rest follow alphabetically.
LEADING_TABLES = {
    "replenishment": ("replenishment_plan", "exceptions", "plan_history"),
    "forecasts": ("forecast_history", "forecast_accuracy", "forecast_value_added"),
    "quality": ("partner_data_gate", "check_results"),
    "marts": ("fct_sales_daily", "fct_inventory_daily", "fct_shipments", "partner_scorecard"),
    "raw": ("feed_files", "stock_snapshots", "sales", "partner_forecasts"),
}
WIDTH = 100

PLAN_ASSET = "replenishment/replenishment_plan"
GATE_ASSET = "quality/partner_data_gate"
FEEDS_ASSET = "raw/feed_files"
REPORT_ASSET = "reports/nightly_report"
SNAPSHOT_ASSET = "reports/warehouse_snapshot"
EXPORTS_ASSET = "replenishment/partner_exports"
DBT_DOCS_ASSET = "warehouse/dbt_docs"
QUALITY_DOCS_ASSET = "quality/data_docs"


def table_row_counts(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """``(schema.table, rows)`` of every base table of the counted schemas, and of the marts that are views."""
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in (select unnest(?::varchar[])) "
        # Staging views re-read raw history, so only tables are counted, and the marts that are views of one.
        "and (table_type = 'BASE TABLE' or table_schema = 'marts') order by 1, 2",
        [list(SUMMARY_SCHEMAS)],
    ).fetchall()
    return [(f"{s}.{t}", conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables]


def group_by_schema(counts: list[tuple[str, int]]) -> dict[str, list[tuple[str, int]]]:
    """The same counts for people: by schema in `SUMMARY_SCHEMAS` order, leading tables first, then alphabetically."""
    by_schema: dict[str, dict[str, int]] = {}
    for qualified, rows in counts:
        schema, name = qualified.split(".", 1)
        by_schema.setdefault(schema, {})[name] = rows
    grouped: dict[str, list[tuple[str, int]]] = {}
    for schema in (s for s in SUMMARY_SCHEMAS if s in by_schema):
        tables = by_schema[schema]
        leading = [name for name in LEADING_TABLES.get(schema, ()) if name in tables]
        ordered = leading + sorted(name for name in tables if name not in leading)
        grouped[schema] = [(name, tables[name]) for name in ordered]
    return grouped


def format_table_counts(grouped: dict[str, list[tuple[str, int]]]) -> list[str]:
    """One wrapped line per schema: `replenishment  replenishment_plan 192 · exceptions 108 · …` (empty says so)."""
    width = max((len(schema) for schema in grouped), default=0)
    lines = []
    for schema, tables in grouped.items():
        items = " · ".join(f"{name} {rows:,}" if rows else f"{name} (empty)" for name, rows in tables)
        wrapped = textwrap.wrap(items, WIDTH - width - 4, break_on_hyphens=False)
        lines.append(f"  {schema:<{width}}  {wrapped[0]}")
        lines.extend(f"  {'':<{width}}  {line}" for line in wrapped[1:])
    return lines


def _plan_section(conn: duckdb.DuckDBPyConnection, business_date: date, top: int) -> list[str]:
    totals = conn.execute(
        """select count(*) filter (where ship_qty > 0), coalesce(sum(ship_qty), 0),
                  count(*) filter (where coalesce(allocated_qty, ship_qty) > 0),
                  coalesce(sum(coalesce(allocated_qty, ship_qty)), 0),
                  count(*) filter (where allocation_shortfall)
           from replenishment.replenishment_plan where plan_date = ?""",
        [business_date],
    ).fetchone()
    lines_needed, units_needed, lines_shipping, units_shipping, cut = totals
    out = [
        f"\nPlan for {business_date}: {lines_shipping} lines ship {units_shipping:,.0f} units "
        f"(the policy needs {lines_needed} lines, {units_needed:,.0f} units"
        + (f"; {cut} lines cut by our own stock)" if cut else ")")
    ]
    rows = conn.execute(
        f"""select partner_id, location_id, product_id, round(inventory_position, 1),
                   round(reorder_point, 1), round(order_up_to, 1), ship_qty,
                   coalesce(allocated_qty, ship_qty) as shipping, reason_code
            from replenishment.replenishment_plan where plan_date = ? and ship_qty > 0
            order by shipping desc, partner_id, location_id, product_id limit {top}""",
        [business_date],
    ).fetchall()
    if rows:
        out.append(
            f"  {'partner':<16} {'location':<10} {'product':<10} {'position':>9} {'ROP':>8} "
            f"{'up-to':>8} {'needed':>7} {'ships':>7}  reason"
        )
        out += [
            f"  {p:<16} {loc:<10} {prod:<10} {ip:>9} {rop:>8} {up:>8} {need:>7.0f} {ship:>7.0f}  {reason}"
            for p, loc, prod, ip, rop, up, need, ship, reason in rows
        ]
    return out


COST_FIGURES = (("holding", "holding"), ("shipping", "shipping"), ("stock-out", "stockout"), ("total", "total"))


def plan_cost_section(conn: duckdb.DuckDBPyConnection, business_date: date) -> list[str]:
    """The night's plan cost a day per partner, as the report's "Tonight's plan cost" table shows it (its plan and
    its figures): holding, shipping and stock-out on the chosen ship days, their total, and shipping on every agreed
    day; "–" for a partner without cost terms."""
    costs = plan_costs(read_report_frame(conn, PLAN_QUERY, business_date))
    if costs.empty:
        return []
    out = [
        "\nPlan cost a day (expected, on the ship days chosen, priced by each agreement):",
        f"  {'partner':<16}" + "".join(f" {label:>11}" for label, _ in COST_FIGURES) + f" {'every agreed day':>17}",
    ]
    for row in costs.to_dict("records"):
        figures = "".join(f" {money(row[column]):>11}" for _, column in COST_FIGURES)
        line = f"  {row['partner_id']:<16}{figures} {money(row['every_agreed_day']):>17}"
        if row["costed_locations"] == 0:
            line += "  no cost terms"
        elif row["partial"]:
            line += f"  partial: {row['costed_locations']} of {row['locations']} locations costed"
        out.append(line)
    return out


def _gate_section(conn: duckdb.DuckDBPyConnection, business_date: date) -> list[str]:
    gate = conn.execute(
        "select partner_id, status, failed_errors, failed_warnings from quality.partner_data_gate "
        "where as_of_date = ? order by 1",
        [business_date],
    ).fetchall()
    described = []
    for partner, status, errors, warnings in gate:
        detail = {"held": f" ({errors} error rule(s): no plan)", "warn": f" ({warnings} warning(s))"}.get(status, "")
        described.append(f"{partner} {status}{detail}")
    return ["\nData gate: " + "; ".join(described)] if described else []


def next_steps(artefacts: dict[str, Path], produced: set[str]) -> list[str]:
    """Where to look next, for what this run wrote: report, exports, snapshot, the UI, the docs."""
    entries = [
        (REPORT_ASSET, "report", artefacts["report"]),
        (EXPORTS_ASSET, "exports", artefacts["exports"]),
        (SNAPSHOT_ASSET, "snapshot", artefacts["snapshot"]),
        (DBT_DOCS_ASSET, "dbt docs", artefacts["dbt_docs"]),
        (QUALITY_DOCS_ASSET, "quality docs", artefacts["quality_docs"]),
    ]
    lines = ["\nWhere to look next:"]
    notes = {
        "snapshot": "  (query it read-only while the next night runs)",
        "report": "  (open in a browser)",
    }
    lines += [
        f"  {label:<13} {path}{notes.get(label, '')}"
        for asset, label, path in entries
        if asset in produced and path.exists()
    ]
    lines.append(f"  {'Dagster UI':<13} make ui  → http://127.0.0.1:3000 (lineage, checks, this run)")
    lines.append(f"  {'docs':<13} README.md, ARCHITECTURE.md; `cmi --help` for every command")
    return lines


def print_summary(paths, business_date: date, outcome, top: int = 10) -> None:
    """The night that just succeeded: plan, gate and files first, then every table by schema, then where to look."""
    warehouse = paths.warehouse
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}")
        return
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        if outcome.produced(PLAN_ASSET) and table_exists(conn, "replenishment.replenishment_plan"):
            for line in _plan_section(conn, business_date, top) + plan_cost_section(conn, business_date):
                print(line)
        if outcome.produced(GATE_ASSET) and table_exists(conn, "quality.partner_data_gate"):
            for line in _gate_section(conn, business_date):
                print(line)
        if outcome.produced(FEEDS_ASSET) and table_exists(conn, "raw.feed_files"):
            ledger = conn.execute("select status, count(*) from raw.feed_files group by 1 order by 2 desc").fetchall()
            if ledger:
                print("\nPartner files: " + ", ".join(f"{n} {status}" for status, n in ledger))
        print(f"\nTables in {warehouse} (row counts; plan first):")
        for line in format_table_counts(group_by_schema(table_row_counts(conn))):
            print(line)
    data = paths.data_dir
    artefacts = {
        "report": data / "reports" / business_date.isoformat() / "index.html",
        "exports": data / "exports",
        "snapshot": data / "snapshots" / "warehouse.duckdb",
        "dbt_docs": data / "dbt_docs" / "static_index.html",
        "quality_docs": data / "quality_docs" / business_date.isoformat() / "index.html",
    }
    for line in next_steps(artefacts, set(outcome.materialized)):
        print(line)


def print_failure(business_date: date, outcome, log_path: Path) -> None:
    """A failed night: each failed step with its cause, what did run, and the log. Nothing from an earlier night."""
    import sys

    print(f"\nNIGHT OF {business_date} FAILED (run {outcome.run_id})", file=sys.stderr)
    for failure in outcome.failures or []:
        print(f"  failed step: {failure.step}" + (f": {failure.cause}" if failure.cause else ""), file=sys.stderr)
    if not outcome.failures:
        print("  the run failed before any step: see the Dagster run log", file=sys.stderr)
    outputs = {"plan": PLAN_ASSET, "report": REPORT_ASSET, "exports": EXPORTS_ASSET}
    missing = [name for name, asset in outputs.items() if not outcome.produced(asset)]
    if missing:
        print(
            f"  not written for this night: {', '.join(missing)} (earlier files are left as they were)", file=sys.stderr
        )
    print(f"  dbt and step output: {log_path}", file=sys.stderr)
    print("  the run and its error, step by step: make ui → Runs", file=sys.stderr)
