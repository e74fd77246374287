"""Forecast and replenishment assets: read the marts, call the pure maths, write the results. Nothing else."""

import os
from datetime import date, timedelta

import dagster as dg
import pandas as pd
from matplotlib.figure import Figure
from pydantic import Field, field_validator

from assets.quality import PARTNER_GATE_KEY, plannable_partners
from assets.renderers.metadata import markdown_preview, png_markdown
from forecasts.forecasting.accuracy import score_forecast_history
from forecasts.forecasting.engine import forecast_many
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR, save_forecast, series_id_for
from forecasts.forecasting.levels import LEVELS, LOCATION, aggregate_history, split_to_locations
from forecasts.forecasting.quantiles import Z_P90
from forecasts.replenishment.plan_history import plan_version, save_plan, save_planner_exceptions
from forecasts.replenishment.planner_exceptions import find_planner_exceptions
from forecasts.replenishment.policy import plan_replenishment
from forecasts.replenishment.projection import project_lines, projection_lines
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Warehouse
from orchestration.runtime.retries import retry_on_transient

FORECAST_KEY = dg.AssetKey(["forecasts", "demand_forecast"])
PLAN_KEY = dg.AssetKey(["replenishment", "replenishment_plan"])
EXCEPTIONS_KEY = dg.AssetKey(["replenishment", "exceptions"])

# Forecast bias is judged on the last four weeks of one-day-ahead forecasts against in-stock sales.
BIAS_WINDOW_DAYS = 28


class ForecastConfig(dg.Config):
    """Run configuration of the forecast (set it in the launchpad, or in run config for `cmi`-less runs)."""

    level: str = Field(
        default=LOCATION,
        description="location: one series per partner location x product; partner: one per partner x product, "
        "split back to locations by their share of the last 8 weeks' sales.",
    )

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        return value


# Long enough to cover the longest lead time plus review period, and to project stock-outs a few weeks out.
HORIZON_DAYS = 28
# Two years hold two yearly cycles; older history costs fit time without changing the forecast much.
HISTORY_DAYS = 730


def _forecast_plot(history: pd.DataFrame, forecast: pd.DataFrame, series_id: str) -> str:
    past = history[history["series_id"] == series_id].tail(120)
    future = forecast[forecast["series_id"] == series_id]
    figure = Figure(figsize=(8, 3))
    axis = figure.subplots()
    axis.plot(past["date"], past["qty"], color="#444", linewidth=1, label="units sold")
    axis.plot(future["date"], future["p50"], color="#1f77b4", label="forecast p50")
    axis.fill_between(future["date"], future["p50"], future["p90"], color="#1f77b4", alpha=0.25, label="p50-p90")
    axis.set_title(series_id.replace(SERIES_SEPARATOR, " / "))
    axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    return png_markdown(figure)


def _inventory_projection_plot(lines: pd.DataFrame, projections: list[pd.DataFrame]) -> str:
    figure = Figure(figsize=(8, 2.8 * len(lines)))
    axes = figure.subplots(len(lines), 1, squeeze=False)[:, 0]
    for axis, line, projection in zip(axes, lines.itertuples(index=False), projections, strict=True):
        shipped = float(line.allocated_qty)
        # Start from the night's count, so the first day's drop is visible too.
        dates = [pd.Timestamp(line.plan_date), *projection["date"]]
        start = [max(float(line.on_hand), 0.0)]
        axis.plot(
            dates,
            start + projection["on_hand_without_shipment"].tolist(),
            color="#d62728",
            linestyle="--",
            label="on hand without the shipment",
        )
        axis.plot(
            dates,
            start + projection["on_hand_with_shipment"].tolist(),
            color="#1f77b4",
            label=f"on hand with {shipped:g} units shipped",
        )
        axis.axhline(line.reorder_point, color="#ff7f0e", linestyle=":", label="reorder point")
        axis.axhline(line.safety_stock, color="#7f7f7f", linestyle=":", label="safety stock")
        if shipped > 0 and not pd.isna(line.expected_receipt_date):
            axis.axvline(line.expected_receipt_date, color="#1f77b4", alpha=0.3, linewidth=6)
        title = f"{line.partner_id} / {line.location_id} / {line.product_id}"
        if shipped > 0:
            title += f": ships {pd.Timestamp(line.ship_date):%Y-%m-%d}, arrives {line.expected_receipt_date:%Y-%m-%d}"
        axis.set_title(title, fontsize=9)
        axis.set_ylabel("units")
        axis.set_ylim(bottom=0)
        axis.legend(loc="upper right", fontsize=7)
    figure.autofmt_xdate()
    return png_markdown(figure)


def build_forecast_assets(mart_keys: dict[str, dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=FORECAST_KEY,
        deps=[mart_keys["marts.fct_sales_daily"], mart_keys["marts.dim_partner"], PARTNER_GATE_KEY],
        group_name="forecasts",
        owners=["team:demand-planning"],
        kinds={"prophet", "duckdb"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def demand_forecast(
        context: dg.AssetExecutionContext, warehouse: Warehouse, config: ForecastConfig
    ) -> dg.MaterializeResult:
        """Daily demand forecast (p50, p90) per partner location and product for the next 28 days."""
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            partners = plannable_partners(conn, as_of)
            history = conn.execute(
                """
                select partner_id, location_id, product_id, sales_date as date, units_sold as qty,
                       is_stockout as censored
                from marts.fct_sales_daily
                where partner_id in (select unnest(?::varchar[])) and sales_date between ? and ?
                order by partner_id, location_id, product_id, sales_date
                """,
                [partners, as_of - timedelta(days=HISTORY_DAYS - 1), as_of],
            ).df()
            countries = dict(conn.execute("select partner_id, country from marts.dim_partner").fetchall())
        history["series_id"] = series_id_for(history)
        series = aggregate_history(history, config.level)
        # Every series id starts with its partner, at either level.
        series_countries = {
            sid: countries.get(sid.split(SERIES_SEPARATOR, 1)[0]) for sid in series["series_id"].unique()
        }
        total = len(series_countries)
        context.log.info(
            f"forecasting {total} series at the {config.level} level for {len(partners)} partners as of {as_of}"
        )

        def report(done: int, of: int) -> None:
            context.log.info(f"forecast progress: {done}/{of} series")

        # A worker process killed from outside is transient; a model error in the maths is not.
        with retry_on_transient():
            forecast = forecast_many(
                series,
                horizon=HORIZON_DAYS,
                countries=series_countries,
                n_jobs=max(1, min(os.cpu_count() or 1, 4)),
                progress=report,
            )
        forecast = split_to_locations(forecast, history, config.level)
        with warehouse.connect() as conn:
            rows = save_forecast(conn, forecast, as_of_date=as_of, run_id=context.run_id)
            scored = score_forecast_history(conn, as_of)
            accuracy = conn.execute("select * from forecasts.forecast_accuracy_by_model order by 1 desc limit 10").df()
        by_model = forecast.drop_duplicates("series_id")["model"].value_counts().to_dict()
        top_series = history.groupby("series_id")["qty"].sum().sort_values(ascending=False).index[:1]
        metadata = {
            "dagster/row_count": rows,
            "series": total,
            "partners": dg.MetadataValue.json(partners),
            "series_by_model": dg.MetadataValue.json({str(k): int(v) for k, v in by_model.items()}),
            "preview": dg.MetadataValue.md(markdown_preview(forecast)),
            "past_forecasts_scored": scored,
            "accuracy_by_model": dg.MetadataValue.md(markdown_preview(accuracy)),
        }
        if len(top_series):
            metadata["top_series_plot"] = dg.MetadataValue.md(_forecast_plot(history, forecast, top_series[0]))
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        key=PLAN_KEY,
        deps=[
            FORECAST_KEY,
            PARTNER_GATE_KEY,
            mart_keys["marts.fct_inventory_daily"],
            mart_keys["marts.fct_shipments"],
            mart_keys["marts.replenishment_policy"],
            mart_keys["staging.stg_supplier__supplier_stock"],
        ],
        group_name="replenishment",
        owners=["team:supply-planning"],
        kinds={"duckdb", "python"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def replenishment_plan(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """What to ship to each partner location and product for the business date, with the policy's reasons."""
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            partners = plannable_partners(conn, as_of)
            inputs = conn.execute(REPLENISHMENT_INPUTS_SQL, {"as_of": as_of, "partners": partners, "z_p90": Z_P90}).df()
            available = dict(conn.execute(SUPPLIER_STOCK_SQL, {"as_of": as_of}).fetchall())
            plan = plan_replenishment(inputs, plan_date=as_of, supplier_stock=available or None)
            saved = save_plan(conn, plan, plan_date=as_of, run_id=context.run_id)
            lines = projection_lines(plan)
            demand = conn.execute(PROJECTION_DEMAND_SQL, {"as_of": as_of}).df()
            receipts = conn.execute(IN_TRANSIT_RECEIPTS_SQL, {"as_of": as_of}).df()
        shipping = plan[plan["ship_qty"] > 0].sort_values("ship_qty", ascending=False)
        plots = {}
        if not lines.empty:
            projections = project_lines(lines, demand, receipts, as_of, horizon=HORIZON_DAYS)
            plots["inventory_projection_plot"] = dg.MetadataValue.md(_inventory_projection_plot(lines, projections))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(plan),
                "lines_to_ship": int((plan["ship_qty"] > 0).sum()),
                "units_to_ship": float(plan["ship_qty"].sum()),
                "history_version": saved.version_note,
                "lines_cut_by_our_stock": int(plan["allocation_shortfall"].sum()),
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

    @dg.asset(
        key=EXCEPTIONS_KEY,
        deps=[PLAN_KEY, FORECAST_KEY, mart_keys["marts.fct_sales_daily"]],
        group_name="replenishment",
        owners=["team:supply-planning"],
        kinds={"duckdb", "python"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def exceptions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """What a planner must look at today: stock-outs inside lead time, excess, stale feeds, bias, big changes."""
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            plan = plan_version(conn, as_of)
            previous = plan_version(conn, as_of, before=True)
            bias = conn.execute(FORECAST_BIAS_SQL, {"as_of": as_of, "window": BIAS_WINDOW_DAYS}).df()
            found = find_planner_exceptions(
                plan, previous if not previous.empty else None, bias if not bias.empty else None
            )
            rows = save_planner_exceptions(conn, found, plan_date=as_of)
        counts = found.groupby(["exception_type", "severity"]).size().reset_index(name="rows") if rows else found
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "by_type": dg.MetadataValue.md(markdown_preview(counts, rows=20)),
                "preview": dg.MetadataValue.md(markdown_preview(found)),
            }
        )

    return [demand_forecast, replenishment_plan, exceptions]


# Per series: Σ(forecast − sales) / Σ sales of one-day-ahead p50 over the window, on in-stock days only.
FORECAST_BIAS_SQL = """
select
    forecast.partner_id, forecast.location_id, forecast.product_id,
    (sum(forecast.p50) - sum(sales.units_sold)) / nullif(sum(sales.units_sold), 0) as bias
from forecasts.forecast_history as forecast
join marts.fct_sales_daily as sales
    on sales.partner_id = forecast.partner_id
    and sales.location_id = forecast.location_id
    and sales.product_id = forecast.product_id
    and sales.sales_date = forecast.forecast_date
where forecast.forecast_date = forecast.as_of_date + 1
    and forecast.as_of_date between $as_of - $window and $as_of - 1
    and not sales.is_stockout
group by all
having sum(sales.units_sold) > 0
"""


# What the projection plot needs for its lines: the night's daily forecast, and our shipments still on their way by
# the day they are expected (an overdue one is expected tomorrow).
PROJECTION_DEMAND_SQL = """
select partner_id, location_id, product_id, forecast_date, p50
from forecasts.forecast_history
where as_of_date = $as_of
"""

IN_TRANSIT_RECEIPTS_SQL = """
select
    partner_id, location_id, product_id,
    greatest(coalesce(expected_receipt_date, $as_of + 1), $as_of + 1) as receipt_date,
    sum(qty) as qty
from marts.fct_shipments
where status = 'in_transit'
group by all
"""


# Our stock per product: the latest figure on or before the business date (none: allocation is not limited).
SUPPLIER_STOCK_SQL = """
select product_id, available_qty
from staging.stg_supplier__supplier_stock
where as_of_date <= $as_of
qualify as_of_date = max(as_of_date) over (partition by product_id)
"""

# One row per plannable partner location x product: stock position, in-transit, the forecast over the policy's
# lead time + review period, and the agreed policy.
REPLENISHMENT_INPUTS_SQL = """
with policy as (
    select * from marts.replenishment_policy
    where partner_id in (select unnest($partners::varchar[]))
),
stock as (
    select partner_id, location_id, product_id, on_hand_qty, on_order_qty, observation_age_days
    from marts.fct_inventory_daily
    where inventory_date = $as_of
),
in_transit as (
    select partner_id, location_id, product_id, sum(qty) as in_transit_qty
    from marts.fct_shipments
    where status = 'in_transit'
    group by all
),
forecast as (
    select partner_id, location_id, product_id, forecast_date, p50, p90
    from forecasts.forecast_history
    where as_of_date = $as_of
),
demand as (
    select
        policy.partner_id, policy.location_id, policy.product_id,
        avg(forecast.p50) as demand_daily_mean,
        avg((forecast.p90 - forecast.p50) / $z_p90) as demand_daily_std
    from policy
    join forecast using (partner_id, location_id, product_id)
    where forecast.forecast_date <= $as_of + cast(ceil(policy.lead_time_days + policy.review_period_days) as integer)
    group by all
),
final as (
    select
        policy.partner_id, policy.location_id, policy.product_id,
        stock.on_hand_qty as on_hand,
        coalesce(stock.on_order_qty, 0) as on_order,
        coalesce(in_transit.in_transit_qty, 0) as in_transit,
        0.0 as committed,
        stock.observation_age_days,
        demand.demand_daily_mean,
        demand.demand_daily_std,
        policy.lead_time_days, policy.lead_time_std_days, policy.review_period_days, policy.service_level,
        policy.min_cover_days, policy.max_cover_days, policy.case_pack, policy.moq, policy.ship_days
    from policy
    join stock using (partner_id, location_id, product_id)
    join demand using (partner_id, location_id, product_id)
    left join in_transit using (partner_id, location_id, product_id)
)
select * from final order by partner_id, location_id, product_id
"""
