"""The demand forecast asset: read the sales history, call the forecasting engine, write the forecast history."""

import os
from datetime import date, timedelta

import dagster as dg
from pydantic import Field, field_validator

from assets.quality import PARTNER_GATE_KEY, plannable_partners
from assets.renderers.metadata import markdown_preview
from assets.renderers.plots import forecast_plot
from assets.warehouse import DIM_PARTNER, FCT_SALES_DAILY
from forecasts.forecasting.accuracy import score_forecast_history
from forecasts.forecasting.engine import forecast_many
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR, save_forecast, series_id_for
from forecasts.forecasting.levels import LEVELS, LOCATION, aggregate_history, split_to_locations
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Warehouse
from orchestration.runtime.retries import retry_on_transient

FORECAST_KEY = dg.AssetKey(["forecasts", "demand_forecast"])


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


@dg.asset(
    key=FORECAST_KEY,
    deps=[FCT_SALES_DAILY, DIM_PARTNER, PARTNER_GATE_KEY],
    group_name="forecasts",
    owners=["team:demand-planning"],
    kinds={"prophet", "duckdb"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def demand_forecast(
    context: dg.AssetExecutionContext, warehouse: Warehouse, config: ForecastConfig
) -> dg.MaterializeResult:
    """Daily demand forecast (p50, p90) per partner location and product for the next 28 days."""
    business_date = date.fromisoformat(context.partition_key)
    with warehouse.connect() as conn:
        partners = plannable_partners(conn, business_date)
        history = conn.execute(
            """
            select partner_id, location_id, product_id, sales_date as date, units_sold as qty,
                   is_stockout as censored
            from marts.fct_sales_daily
            where partner_id in (select unnest(?::varchar[])) and sales_date between ? and ?
            order by partner_id, location_id, product_id, sales_date
            """,
            [partners, business_date - timedelta(days=HISTORY_DAYS - 1), business_date],
        ).df()
        countries = dict(conn.execute("select partner_id, country from marts.dim_partner").fetchall())
    history["series_id"] = series_id_for(history)
    series = aggregate_history(history, config.level)
    # Every series id starts with its partner, at either level.
    series_countries = {sid: countries.get(sid.split(SERIES_SEPARATOR, 1)[0]) for sid in series["series_id"].unique()}
    total = len(series_countries)
    context.log.info(
        f"forecasting {total} series at the {config.level} level for {len(partners)} partners as of {business_date}"
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
        rows = save_forecast(conn, forecast, as_of_date=business_date, run_id=context.run_id)
        scored = score_forecast_history(conn, business_date)
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
        metadata["top_series_plot"] = dg.MetadataValue.md(forecast_plot(history, forecast, top_series[0]))
    return dg.MaterializeResult(metadata=metadata)
