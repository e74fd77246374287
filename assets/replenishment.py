"""Replenishment assets: the night's ship plan, the exceptions planners look at, and the per-partner plan files."""

from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from assets.feeds.partner_config import load_partner_configs
from assets.forecasts import FORECAST_KEY, HORIZON_DAYS
from assets.quality import PARTNER_GATE_KEY, column_schema, plannable_partners, rules_check_result
from assets.renderers.metadata import markdown_preview
from assets.renderers.partner_exports import write_partner_exports
from assets.renderers.plots import inventory_projection_chart, inventory_projection_plot
from assets.warehouse import FCT_SALES_DAILY, FCT_SHIPMENTS, REPLENISHMENT_INPUTS, SUPPLIER_STOCK
from expectations.output_checks import export_rules, plan_rules
from forecasts.forecasting.quantiles import Z_P90
from forecasts.replenishment.demand_window import LONGEST_GAP_DAYS, LONGEST_WAIT_DAYS
from forecasts.replenishment.explain import ExplanationInputs, explain_plan
from forecasts.replenishment.plan_history import (
    plan_version,
    previous_cadence,
    save_plan,
    save_plan_explanations,
    save_planner_exceptions,
)
from forecasts.replenishment.planner_exceptions import find_planner_exceptions
from forecasts.replenishment.policy import KEY_COLUMNS, allocate_fairly, plan_replenishment
from forecasts.replenishment.projection import project_lines, projection_lines
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse
from orchestration.runtime.warehouse_tables import key_blocks, registered, table_exists

PLAN_KEY = dg.AssetKey(["replenishment", "replenishment_plan"])
EXCEPTIONS_KEY = dg.AssetKey(["replenishment", "exceptions"])
EXPORTS_KEY = dg.AssetKey(["replenishment", "partner_exports"])

EXPLANATIONS_TABLE = "replenishment.plan_explanations"

# Forecast bias is judged on the last four weeks of one-day-ahead forecasts against in-stock sales.
BIAS_WINDOW_DAYS = 28


@dg.asset(
    key=PLAN_KEY,
    deps=[
        FORECAST_KEY,
        PARTNER_GATE_KEY,
        REPLENISHMENT_INPUTS,
        FCT_SHIPMENTS,
        SUPPLIER_STOCK,
    ],
    group_name="replenishment",
    owners=["team:supply-planning"],
    kinds={"duckdb", "python"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def replenishment_plan(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """What to ship to each partner location and product for the business date, with the policy's reasons."""
    business_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as conn:
        partners = plannable_partners(conn, business_date)
        available = dict(conn.execute(SUPPLIER_STOCK_SQL, {"business_date": business_date}).fetchall())
        blocks = list(plan_blocks(conn, business_date, partners))
        # Each block's lines are planned from that block's rows; our stock is then shared out over every line.
        # A block whose lines all lack tonight's forecast plans nothing; its empty frame would change the columns'
        # dtypes in the concatenation (pandas 3), and with them the plan's fingerprint.
        block_plans = [plan_block(conn, business_date, partners, keys) for keys in blocks]
        plan = pd.concat([frame for frame in block_plans if not frame.empty] or block_plans[:1], ignore_index=True)
        if available:
            plan = allocate_fairly(plan, available)
        saved = save_plan(conn, plan, plan_date=business_date, run_id=context.run_id)
        explanation_rows = save_plan_explanations(
            conn,
            (explain_block(conn, plan, keys, business_date, available) for keys in blocks),
            plan_date=business_date,
            version=saved.version,
        )
        lines = projection_lines(plan)
        with registered(conn, "projection_keys", lines[KEY_COLUMNS]):
            demand = conn.execute(PROJECTION_DEMAND_SQL, {"business_date": business_date}).df()
            receipts = conn.execute(IN_TRANSIT_RECEIPTS_SQL, {"business_date": business_date}).df()
        schema = column_schema(conn, "replenishment.replenishment_plan", PLAN_COLUMNS)
    shipping = plan[plan["ship_qty"] > 0].sort_values("ship_qty", ascending=False)
    plots = {}
    if not lines.empty:
        projections = project_lines(lines, demand, receipts, business_date, horizon=HORIZON_DAYS)
        first = next(lines.itertuples(index=False))
        # The chart of the first line shows on the asset page as it is; the plot of every line opens from its
        # "[Show Markdown]" button.
        plots["inventory_projection"] = dg.MetadataValue.text(
            f"{first.partner_id} / {first.location_id} / {first.product_id}: projected stock, blue with the "
            "shipment, red dashed without it; orange, reorder point; grey, safety stock"
        )
        plots["inventory_projection_chart"] = dg.MetadataValue.md(inventory_projection_chart(first, projections[0]))
        plots["inventory_projection_plot"] = dg.MetadataValue.md(inventory_projection_plot(lines, projections))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(plan),
            "dagster/column_schema": schema,
            "lines_to_ship": int((plan["ship_qty"] > 0).sum()),
            "units_to_ship": float(plan["ship_qty"].sum()),
            "history_version": saved.version_note,
            "lines_cut_by_our_stock": int(plan["allocation_shortfall"].sum()),
            "explanation_rows": explanation_rows,
            "by_reason": dg.MetadataValue.json(plan["reason_code"].value_counts().to_dict()),
            "top_lines": dg.MetadataValue.md(
                markdown_preview(
                    shipping[
                        [
                            "partner_id",
                            "location_id",
                            "product_id",
                            "inventory_position",
                            "reorder_point",
                            "order_up_to",
                            "ship_qty",
                            "reason_code",
                        ]
                    ]
                )
            ),
            **plots,
        }
    )


# A block of the plan: whole partner locations (a location's lines share its trucks) of about this many series.
# Memory of the plan step is bounded by one block's daily forecast and explanations, and the plan's own rows.
PLAN_BLOCK_SERIES = 1_000


def no_locations() -> pd.DataFrame:
    """An empty block: a night with nothing to plan still reads and writes its (empty) plan once."""
    return pd.DataFrame({"partner_id": pd.Series(dtype=str), "location_id": pd.Series(dtype=str)})


def plan_blocks(conn: duckdb.DuckDBPyConnection, business_date: date, partners: list[str]) -> list[pd.DataFrame]:
    """The night's plannable partner locations in blocks of about ``PLAN_BLOCK_SERIES`` series, in key order (at
    least one block, empty when nothing is plannable)."""
    parameters = {"business_date": business_date, "partners": partners}
    blocks = list(key_blocks(conn, PLANNED_LOCATIONS_SQL, parameters, block_rows=PLAN_BLOCK_SERIES))
    return blocks or [no_locations()]


def plan_block(
    conn: duckdb.DuckDBPyConnection, business_date: date, partners: list[str], keys: pd.DataFrame
) -> pd.DataFrame:
    """The plan of one block of partner locations, before our stock is shared out."""
    with registered(conn, "block_keys", keys):
        inputs = conn.execute(
            REPLENISHMENT_INPUTS_SQL, {"business_date": business_date, "partners": partners, "z_p90": Z_P90}
        ).df()
        # The plan before this night (never this night's own, so a rerun plans the same): its cadence is kept.
        previous = previous_cadence(conn, business_date, within="block_keys")
        inputs = inputs.merge(previous, on=["partner_id", "location_id", "product_id"], how="left")
        window = {"business_date": business_date, "wait": LONGEST_WAIT_DAYS, "gap": LONGEST_GAP_DAYS}
        forecast = conn.execute(RISK_WINDOW_FORECAST_SQL, window).df()
    return plan_replenishment(inputs, plan_date=business_date, daily_forecast=forecast)


def explain_block(
    conn: duckdb.DuckDBPyConnection, plan: pd.DataFrame, keys: pd.DataFrame, business_date: date, available: dict
) -> pd.DataFrame:
    """The explanation rows of the plan lines of one block of partner locations."""
    lines = plan.merge(keys, on=["partner_id", "location_id"])
    with registered(conn, "block_keys", keys):
        return explain_plan(lines, read_explanation_inputs(conn, business_date, available), business_date)


def read_explanation_inputs(conn: duckdb.DuckDBPyConnection, business_date: date, available: dict) -> ExplanationInputs:
    """The frames a plan line is explained from, for the partner locations of ``block_keys``: where each stock count
    came from, our shipments on the way, the agreement, the night's forecast, its measured accuracy and the
    partner's data gate."""

    def frame(table: str, sql: str, order: str = "", by_location: bool = True) -> pd.DataFrame | None:
        if not table_exists(conn, table):
            return None
        if by_location:
            sql = f"select * from ({sql}) as rows semi join block_keys using (partner_id, location_id) {order}"
        return conn.execute(sql, {"business_date": business_date} if "$business_date" in sql else {}).df()

    return ExplanationInputs(
        stock=frame("marts.fct_inventory_daily", STOCK_SOURCES_SQL),
        in_transit=frame("marts.fct_shipments", IN_TRANSIT_SHIPMENTS_SQL),
        agreements=frame("marts.replenishment_policy", AGREEMENTS_SQL),
        forecast=frame(
            "forecasts.forecast_history",
            EXPLAINED_FORECAST_SQL,
            "order by partner_id, location_id, product_id, forecast_date",
        ),
        accuracy=frame("forecasts.forecast_accuracy", SERIES_ACCURACY_SQL),
        gate=frame("quality.partner_data_gate", GATE_SQL, by_location=False),
        supplier_stock=available,
    )


@dg.asset(
    key=EXCEPTIONS_KEY,
    deps=[PLAN_KEY, FORECAST_KEY, FCT_SALES_DAILY],
    group_name="replenishment",
    owners=["team:supply-planning"],
    kinds={"duckdb", "python"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def exceptions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """What a planner must look at today: stock-outs inside lead time, excess, stale feeds, bias, big changes."""
    business_date = date.fromisoformat(context.partition_key)
    counts: list[pd.Series] = []
    preview: list[pd.DataFrame] = []

    def found_by_block(conn: duckdb.DuckDBPyConnection):
        # A block of the plan's locations at a time: the plan, the plan before it and the bias of its series.
        for keys in saved_plan_blocks(conn, business_date):
            with registered(conn, "block_keys", keys):
                plan = plan_version(conn, business_date, within="block_keys")
                previous = plan_version(conn, business_date, before=True, within="block_keys")
                window = {"business_date": business_date, "window": BIAS_WINDOW_DAYS}
                bias = conn.execute(FORECAST_BIAS_SQL, window).df()
            found = find_planner_exceptions(
                plan, previous if not previous.empty else None, bias if not bias.empty else None
            )
            counts.append(found.groupby(["exception_type", "severity"]).size())
            if sum(map(len, preview)) < PREVIEW_ROWS:
                preview.append(found.head(PREVIEW_ROWS))
            yield found

    with warehouse.connect() as conn:
        rows = save_planner_exceptions(conn, found_by_block(conn), plan_date=business_date)
        schema = column_schema(conn, "replenishment.exceptions", EXCEPTION_COLUMNS)
    first = pd.concat(preview, ignore_index=True) if preview else pd.DataFrame()
    by_type = pd.concat(counts).groupby(level=[0, 1]).sum().reset_index(name="rows") if rows else first.iloc[0:0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            "by_type": dg.MetadataValue.md(markdown_preview(by_type, rows=20)),
            "preview": dg.MetadataValue.md(markdown_preview(first, rows=PREVIEW_ROWS)),
        }
    )


PREVIEW_ROWS = 10


def saved_plan_blocks(conn: duckdb.DuckDBPyConnection, business_date: date) -> list[pd.DataFrame]:
    """The partner locations of the night's saved plan in blocks of about ``PLAN_BLOCK_SERIES`` lines, in key order
    (one empty block when there is no plan)."""
    blocks = []
    if table_exists(conn, "replenishment.plan_history"):
        blocks = list(key_blocks(conn, SAVED_PLAN_LOCATIONS_SQL, {"day": business_date}, block_rows=PLAN_BLOCK_SERIES))
    return blocks or [no_locations()]


@dg.asset(
    key=EXPORTS_KEY,
    deps=[PLAN_KEY],
    group_name="replenishment",
    owners=["team:supply-planning"],
    kinds={"csv", "json"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def partner_exports(
    context: dg.AssetExecutionContext, warehouse: Warehouse, artefacts: Artefacts, feed_folders: FeedFolders
) -> dg.MaterializeResult:
    """One CSV and one JSON file per partner under data/exports/<partner>/, holding only that partner's rows, with
    its own item ids, GTINs, store GLNs and cases, in the CSV dialect of its export config."""
    business_date = date.fromisoformat(context.partition_key)
    configs = load_partner_configs(
        feed_folders.partner_configs(),
        on_error=lambda path, error: context.log.warning(f"{path}: {error}; its exports use the default dialect"),
    )
    dialects = {partner_id: config.export for partner_id, config in configs.items()}
    paths = []
    with warehouse.connect(read_only=True) as conn:
        planned = []
        if table_exists(conn, "replenishment.plan_history"):
            planned = [row[0] for row in conn.execute(SAVED_PLAN_PARTNERS_SQL, {"day": business_date}).fetchall()]
        products = conn.execute(PRODUCTS_SQL).df() if table_exists(conn, "marts.dim_product") else None
        # One partner's plan rows at a time: a partner's files hold all its rows, and only its own.
        for number, partner_id in enumerate(planned or [None]):
            keys = pd.DataFrame({"partner_id": pd.Series([partner_id] if partner_id else [], dtype=str)})
            with registered(conn, "partner_keys", keys):
                plan = plan_version(conn, business_date, within="partner_keys" if partner_id else None)
                items, locations = (
                    conn.execute(sql).df() if table_exists(conn, table) else None
                    for table, sql in (
                        ("staging.stg_supplier__partner_items", PARTNER_ITEMS_SQL),
                        ("marts.dim_location", LOCATIONS_SQL),
                    )
                )
            paths += write_partner_exports(
                plan,
                artefacts.exports(),
                business_date,
                items=items,
                locations=locations,
                products=products,
                dialects=dialects,
                withdraw=set(configs) - set(planned) if number == 0 else (),
            )
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md("\n".join(f"- `{path}`" for path in paths) or "_no plan rows_"),
            "partners": len(planned),
        }
    )


# The partners of the night's saved plan (its newest version), and its locations with their lines, in key order.
SAVED_PLAN_PARTNERS_SQL = """
select distinct partner_id from replenishment.plan_history
where plan_date = $day and version = (select max(version) from replenishment.plan_history where plan_date = $day)
order by partner_id
"""

SAVED_PLAN_LOCATIONS_SQL = """
select partner_id, location_id, count(*) as rows from replenishment.plan_history
where plan_date = $day and version = (select max(version) from replenishment.plan_history where plan_date = $day)
group by all
order by partner_id, location_id
"""

PARTNER_ITEMS_SQL = """
select partner_id, partner_item_ref, product_id, ref_type from staging.stg_supplier__partner_items
semi join partner_keys using (partner_id)
"""
LOCATIONS_SQL = """
select partner_id, location_id, gln, location_name from marts.dim_location semi join partner_keys using (partner_id)
"""
PRODUCTS_SQL = "select product_id, gtin, product_description from marts.dim_product"

PLAN_COLUMNS = {
    "partner_id": "The partner.",
    "location_id": "The partner's store or warehouse.",
    "product_id": "Our product.",
    "plan_date": "The business date whose end-of-day stock the plan starts from.",
    "on_hand": "Units on hand at the partner location, as last counted.",
    "inventory_position": "On hand + on order + in transit (our shipments not yet received) - committed.",
    "safety_stock": "Units held against demand and lead-time uncertainty at the agreed service level.",
    "reorder_point": "Ship when the inventory position is at or below this.",
    "order_up_to": "The position a shipment restores.",
    "ship_qty": "What the policy needs shipped: order-up-to minus position, in whole case packs, at least the MOQ.",
    "allocated_qty": "What ships: ship_qty, cut case by case when our own stock cannot cover every partner.",
    "allocation_shortfall": "True when allocated_qty is below ship_qty.",
    "ship_days_agreed": "The days the agreements let the location's truck come.",
    "ship_days": "The days the plan ships on: the location's cheapest subset of the agreed days.",
    "ship_date": "The first of the plan's ship days after the plan date.",
    "expected_receipt_date": "Ship date plus the agreed lead time.",
    "days_of_cover": "Days the current position lasts at the forecast demand.",
    "reason_code": "Why the row ships or not (below_reorder_point, above_reorder_point, no_demand, ...).",
    "holding_cost_per_day": "Expected cost a day of the line's stock on the plan's ship days.",
    "shipping_cost_per_day": "The line's share of its location's deliveries, a day.",
    "stockout_cost_per_day": "Expected cost a day of the line's units short at the agreed service level.",
    "location_cost_per_day": "The location's expected cost a day on the plan's ship days.",
    "location_agreed_cost_per_day": "The location's expected cost a day shipping on every agreed day.",
}

EXCEPTION_COLUMNS = {
    "plan_date": "The plan's business date.",
    "exception_type": "What needs a look: stock-out inside lead time, excess, stale feed, forecast bias, big change.",
    "severity": "critical, warning or info.",
    "detail": "The numbers behind the exception, in words.",
}


# Per series: Σ(forecast − sales) / Σ sales of one-day-ahead p50 over the window, on in-stock days only.
FORECAST_BIAS_SQL = """
select
    forecast.partner_id, forecast.location_id, forecast.product_id,
    (sum(forecast.p50) - sum(sales.units_sold)) / nullif(sum(sales.units_sold), 0) as bias
from forecasts.forecast_history as forecast
join block_keys as block on block.partner_id = forecast.partner_id and block.location_id = forecast.location_id
join marts.fct_sales_daily as sales
    on sales.partner_id = forecast.partner_id
    and sales.location_id = forecast.location_id
    and sales.product_id = forecast.product_id
    and sales.sales_date = forecast.forecast_date
where forecast.forecast_date = forecast.as_of_date + 1
    and forecast.as_of_date between $business_date - $window and $business_date - 1
    and not sales.is_stockout
group by all
having sum(sales.units_sold) > 0
"""


# What the projection plot needs for its lines: the night's daily forecast, and our shipments still on their way by
# the day they are expected (an overdue one is expected tomorrow).
PROJECTION_DEMAND_SQL = """
select partner_id, location_id, product_id, forecast_date, p50
from forecasts.forecast_history
semi join projection_keys using (partner_id, location_id, product_id)
where as_of_date = $business_date
"""

IN_TRANSIT_RECEIPTS_SQL = """
select
    partner_id, location_id, product_id,
    greatest(coalesce(expected_receipt_date, $business_date + 1), $business_date + 1) as receipt_date,
    sum(qty) as qty
from marts.fct_shipments
semi join projection_keys using (partner_id, location_id, product_id)
where status = 'in_transit'
group by all
"""


# Where the business date's stock count of each series came from: the file and line a partner sent it in.
STOCK_SOURCES_SQL = """
select
    inventory.partner_id, inventory.location_id, inventory.product_id,
    inventory.observed_date, inventory.on_hand_qty, inventory.on_order_qty,
    inventory.source_file_id, inventory.source_line, inventory.product_ref,
    coalesce(files.received_at, inventory.received_at) as received_at,
    files.path
from marts.fct_inventory_daily as inventory
left join raw.feed_files as files using (source_file_id)
where inventory.inventory_date = $business_date
"""

IN_TRANSIT_SHIPMENTS_SQL = """
select partner_id, location_id, product_id, shipment_id, ship_date, expected_receipt_date, qty
from marts.fct_shipments
where status = 'in_transit'
"""

AGREEMENTS_SQL = """
select partner_id, location_id, product_id, ship_days, agreement_source
from marts.replenishment_policy
"""

EXPLAINED_FORECAST_SQL = """
select partner_id, location_id, product_id, forecast_date, p50, p90, model, demand_class
from forecasts.forecast_history
where as_of_date = $business_date
"""

# The newest scored forecast run of each series before the night: the accuracy the plan can rely on.
SERIES_ACCURACY_SQL = """
select partner_id, location_id, product_id, as_of_date, wape, bias, periods_scored
from forecasts.forecast_accuracy
where as_of_date < $business_date and periods_scored > 0
qualify as_of_date = max(as_of_date) over (partition by partner_id, location_id, product_id)
"""

GATE_SQL = """
select partner_id, status, failed_errors, failed_warnings
from quality.partner_data_gate
where as_of_date = $business_date
"""

# Our stock per product: the latest figure on or before the business date (none: allocation is not limited).
SUPPLIER_STOCK_SQL = """
select product_id, available_qty
from staging.stg_supplier__supplier_stock
where as_of_date <= $business_date
qualify as_of_date = max(as_of_date) over (partition by product_id)
"""

# The night's daily forecast of each planned series as far as its risk period can reach whatever ship days are
# chosen (demand_window: 6 + L + max(review, 7) days): the plan averages it over each line's own risk period.
RISK_WINDOW_FORECAST_SQL = """
select
    forecast.partner_id, forecast.location_id, forecast.product_id, forecast.forecast_date, forecast.p50, forecast.p90
from forecasts.forecast_history as forecast
join marts.replenishment_inputs as inputs using (partner_id, location_id, product_id)
semi join block_keys using (partner_id, location_id)
where forecast.as_of_date = $business_date
    and inputs.plan_date = $business_date
    and forecast.forecast_date <= $business_date + ceil(
        $wait + inputs.lead_time_days + greatest(coalesce(inputs.review_period_days, 0), $gap)
    )::integer
"""

# The night's plannable partner locations and how many series each plans, in key order: the plan's blocks.
PLANNED_LOCATIONS_SQL = """
select partner_id, location_id, count(*) as rows
from marts.replenishment_inputs
where plan_date = $business_date and partner_id in (select unnest($partners::varchar[]))
group by all
order by partner_id, location_id
"""

# One row per plannable partner location x product of the block's locations (`block_keys`): the stock position,
# in-transit and agreed terms that dbt's `marts.replenishment_inputs` holds for the night, the night's forecast over
# lead time + review period (the forecast runs after dbt, so it is joined here; it chooses the ship days, and the
# plan then averages the forecast over each line's own risk period), and the agreement's cost terms that choose the
# ship days.
REPLENISHMENT_INPUTS_SQL = """
with inputs as (
    select * from marts.replenishment_inputs
    semi join block_keys using (partner_id, location_id)
    where plan_date = $business_date and partner_id in (select unnest($partners::varchar[]))
),
forecast as (
    select partner_id, location_id, product_id, forecast_date, p50, p90
    from forecasts.forecast_history
    where as_of_date = $business_date
),
costs as (
    select partner_id, location_id, product_id, unit_cost, holding_cost_rate, shipment_cost, stockout_penalty_rate
    from marts.replenishment_policy
),
demand as (
    select
        inputs.partner_id, inputs.location_id, inputs.product_id,
        avg(forecast.p50) as demand_daily_mean,
        avg((forecast.p90 - forecast.p50) / $z_p90) as demand_daily_std
    from inputs
    join forecast using (partner_id, location_id, product_id)
    where forecast.forecast_date <= $business_date + inputs.demand_horizon_days
    group by all
),
final as (
    select
        inputs.partner_id, inputs.location_id, inputs.product_id,
        inputs.on_hand, inputs.on_order, inputs.in_transit, inputs.committed,
        inputs.observation_age_days,
        demand.demand_daily_mean,
        demand.demand_daily_std,
        inputs.lead_time_days, inputs.lead_time_std_days, inputs.review_period_days, inputs.service_level,
        inputs.min_cover_days, inputs.max_cover_days, inputs.case_pack, inputs.moq, inputs.ship_days,
        costs.unit_cost, costs.holding_cost_rate, costs.shipment_cost, costs.stockout_penalty_rate
    from inputs
    join demand using (partner_id, location_id, product_id)
    left join costs using (partner_id, location_id, product_id)
)
select * from final order by partner_id, location_id, product_id
"""


def build_plan_checks(partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS) -> list[dg.AssetChecksDefinition]:
    """The plan's invariants and the exports' (one file per partner with its plan rows, no other partner's rows)."""

    @dg.asset_check(
        asset=PLAN_KEY,
        name="plan_invariants",
        description="Allocated never above the need, no negative quantity, one row per partner location x product, "
        "shipped quantities in whole case packs and at least the MOQ.",
        partitions_def=partitions_def,
    )
    def plan_invariants(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as conn:
            plan = plan_version(conn, date.fromisoformat(context.partition_key))
        return rules_check_result(plan_rules(plan), plan_rows=len(plan))

    @dg.asset_check(
        asset=EXPORTS_KEY,
        name="one_file_per_partner",
        description="Every partner with plan rows has an export file with exactly its plan rows, and no file holds "
        "another partner's rows.",
        partitions_def=partitions_def,
    )
    def exports_hold_their_partner(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, artefacts: Artefacts
    ) -> dg.AssetCheckResult:
        business_date = date.fromisoformat(context.partition_key)
        with warehouse.connect(read_only=True) as conn:
            plan = plan_version(conn, business_date)
        exported = read_exported_rows(artefacts.exports(), business_date)
        return rules_check_result(export_rules(plan, exported), partner_files=len(exported))

    return [plan_invariants, exports_hold_their_partner]


def read_exported_rows(exports_dir, business_date: date) -> dict[str, list[dict]]:
    """Each partner folder's JSON plan file of the night as a list of rows (a file is a list of rows, or an object
    whose `lines` or `rows` hold them)."""
    import json

    found: dict[str, list[dict]] = {}
    if not exports_dir.is_dir():
        return found
    for folder in sorted(p for p in exports_dir.iterdir() if p.is_dir()):
        for path in sorted(folder.glob(f"*{business_date.isoformat()}*.json")):
            content = json.loads(path.read_text(encoding="utf-8"))
            rows = content if isinstance(content, list) else content.get("lines") or content.get("rows") or []
            found.setdefault(folder.name, []).extend(rows)
    return found
