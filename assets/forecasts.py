"""The demand forecast asset: forecast the warehouse's sales history, a chunk of series at a time, into the forecast
history."""

import os
from datetime import date

import dagster as dg
from pydantic import Field, field_validator

from assets.quality import PARTNER_GATE_KEY, column_schema, plannable_partners, rules_check_result
from assets.renderers.metadata import markdown_preview
from assets.renderers.plots import forecast_chart, forecast_plot, series_label
from assets.warehouse import DIM_PARTNER, FCT_PROMOTION_DAYS, FCT_SALES_DAILY, REPLENISHMENT_POLICY, model_key
from expectations.output_checks import forecast_rules
from forecasts.forecasting.accuracy import score_forecast_history
from forecasts.forecasting.engine import useful_workers
from forecasts.forecasting.forecast_value_added import VALUE_ADDED_TABLE, score_value_added
from forecasts.forecasting.levels import LEVELS, LOCATION
from forecasts.forecasting.model_choice import choice_lines, choice_summary
from forecasts.forecasting.partner_evidence import PARTNER_FORECASTS, apply_partner_forecasts
from forecasts.forecasting.warehouse_forecast import DEFAULT_CHUNK_SERIES, forecast_warehouse
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import ForecastCompute, Warehouse
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

    chunk_series: int = Field(
        default=DEFAULT_CHUNK_SERIES,
        ge=1,
        description="Series read, forecast and written at a time (and weighed against the partners' forecasts "
        "after): the forecast's memory follows this, not the number of series (about 80 KiB per series of two "
        "years' daily history).",
    )


# Long enough to cover the longest lead time plus review period, and to project stock-outs a few weeks out.
HORIZON_DAYS = 28
# Two years hold two yearly cycles; older history costs fit time without changing the forecast much.
HISTORY_DAYS = 730


FORECAST_COLUMNS = {
    "as_of_date": "The business date the forecast was made on (every night's forecast is kept).",
    "series_id": "partner / location / product.",
    "forecast_date": "The day forecast.",
    "p50": "Median daily demand in units.",
    "p90": "Daily demand exceeded one day in ten.",
    "model": "The model that made it (prophet, tsb, seasonal_naive, moving_average, ...; 'tsb (monthly)' and the like "
    "for a series its agreement buckets by month, its month's forecast spread over the days).",
    "demand_class": "Syntetos-Boylan class of the series: smooth, erratic, intermittent, lumpy or short.",
    "adi": "Average demand interval (days between sales; months for a series bucketed by month).",
    "cv2": "Squared coefficient of variation of non-zero demand.",
    "stat_p50": "Our statistical forecast's p50 (p50 is what the plan uses: ours, the partner's or the combination).",
    "stat_p90": "Our statistical forecast's p90.",
    "partner_p50": "The partner's own forecast for the day as its files had arrived by this night (spread evenly).",
    "forecast_source": "What p50 is: ours, partner or combined.",
    "weight_ours": "Weight of our forecast in p50.",
    "weight_partner": "Weight of the partner's forecast in p50.",
    "evidence_level": "Whose past days set the weights: series, partner (pooled) or none.",
    "evidence_days": "Scored days in the evidence window (last four weeks).",
    "evidence_wape_ours": "WAPE of our forecast over the evidence window.",
    "evidence_wape_partner": "WAPE of the partner's forecast over the evidence window.",
    "evidence_wape_combined": "WAPE of the weighted combination over the evidence window.",
    "evidence_bias_ours": "Bias of our forecast over the evidence window: sum(forecast - actual) / sum(actual).",
    "evidence_bias_partner": "Bias of the partner's forecast over the evidence window (see the bias guard).",
    "choice_reason": "Why the series' demand class kept its default model or switched (backtest on the class).",
    "choice_scores": "JSON: each candidate model's mean MASE on the class's backtest.",
    "choice_origins": "Rolling origins of the class's backtest.",
    "choice_series": "Series of the class the backtest scored.",
}


@dg.asset(
    key=FORECAST_KEY,
    deps=[
        FCT_SALES_DAILY,
        FCT_PROMOTION_DAYS,
        DIM_PARTNER,
        REPLENISHMENT_POLICY,  # the agreements' forecast bucket (day or month)
        PARTNER_GATE_KEY,
        model_key(PARTNER_FORECASTS),
    ],
    group_name="forecasts",
    owners=["team:demand-planning"],
    kinds={"prophet", "duckdb"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def demand_forecast(
    context: dg.AssetExecutionContext, warehouse: Warehouse, forecast_compute: ForecastCompute, config: ForecastConfig
) -> dg.MaterializeResult:
    """Daily demand forecast (p50, p90) per partner location and product for the next 28 days, with the partner's
    own forecast taken in where it measured better over the last four weeks."""
    business_date = date.fromisoformat(context.partition_key)
    target = forecast_compute.resolved_target()

    def report(done: int, of: int) -> None:
        context.log.info(f"forecast progress: {done}/{of} series")

    def report_blocks(what: str, done: int, of: int) -> None:
        # The tail after the chunks works through the night's series again by blocks: a line every tenth of them.
        if done == of or done % max(1, of // 10) == 0:
            context.log.info(f"{what}: {done}/{of} blocks of {config.chunk_series} series")

    def report_evidence(stage: str, done: int, of: int) -> None:
        report_blocks(f"partner evidence, {stage}", done, of)

    def report_accuracy(done: int, of: int) -> None:
        report_blocks("accuracy scored", done, of)

    # A worker process killed from outside, or a Dask worker or scheduler lost, is transient (the whole step runs
    # again: the date's rows are replaced in one transaction); a model error in the maths is not.
    with retry_on_transient(), warehouse.connect() as conn:
        partners = plannable_partners(conn, business_date)
        context.log.info(
            f"forecasting at the {config.level} level for {len(partners)} partners as of {business_date} "
            f"on {target.address or target.mode}, {config.chunk_series} series at a time"
        )
        local_processes = max(1, min(os.cpu_count() or 1, 4))
        # Worker processes pay for themselves on a night's worth of series, not on one chunk: the pool (or cluster)
        # is opened once the series are counted and lives for the whole forecast.
        night = forecast_warehouse(
            conn,
            partners=partners,
            as_of_date=business_date,
            history_days=HISTORY_DAYS,
            horizon=HORIZON_DAYS,
            level=config.level,
            run_id=context.run_id,
            open_executor=lambda series: forecast_compute.executor(useful_workers(series, local_processes)),
            chunk_series=config.chunk_series,
            progress=report,
        )
        # The partners' own forecasts, where they beat ours or add to it over the last weeks, join the night's.
        sources = apply_partner_forecasts(
            conn, business_date, block_series=config.chunk_series, progress=report_evidence
        )
        scored = score_forecast_history(conn, business_date, block_series=config.chunk_series, progress=report_accuracy)
        value_added_weeks = score_value_added(conn, business_date)
        accuracy = conn.execute("select * from forecasts.forecast_accuracy_by_model order by 1 desc limit 10").df()
        schema = column_schema(conn, "forecasts.forecast_history", FORECAST_COLUMNS)
    if night.promotions_skipped is not None:
        context.log.warning(night.promotions_skipped)
    context.log.info(f"forecast {night.series} series in {night.chunks} chunks: {night.rows} rows")
    for line in choice_lines(night.choices):
        context.log.info(line)
    metadata = {
        "dagster/row_count": night.rows,
        "dagster/column_schema": schema,
        "series": night.series,
        "chunks": night.chunks,
        "partners": dg.MetadataValue.json(partners),
        "series_by_model": dg.MetadataValue.json({str(k): int(v) for k, v in night.by_model.most_common()}),
        "model_choice": dg.MetadataValue.json(choice_summary(night.choices)),
        "rows_by_forecast_source": dg.MetadataValue.json(dict(sources.most_common())),
        "preview": dg.MetadataValue.md(markdown_preview(night.preview)),
        "past_forecasts_scored": scored,
        "value_added_weeks": dg.MetadataValue.text(f"{value_added_weeks} partner-weeks in {VALUE_ADDED_TABLE}"),
        "accuracy_by_model": dg.MetadataValue.md(markdown_preview(accuracy)),
    }
    if night.top_series_id is not None:
        top = (night.top_history, night.top_forecast, night.top_series_id)
        # The chart shows on the asset page as it is; the full plot opens from its "[Show Markdown]" button.
        metadata["top_series"] = dg.MetadataValue.text(
            f"{series_label(night.top_series_id)} (most units sold): grey, the last six weeks' sales; blue, the "
            "forecast p50; dashed, p90"
        )
        metadata["top_series_chart"] = dg.MetadataValue.md(forecast_chart(*top))
        metadata["top_series_plot"] = dg.MetadataValue.md(forecast_plot(*top))
    return dg.MaterializeResult(metadata=metadata)


def build_forecast_checks(
    partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS,
) -> list[dg.AssetChecksDefinition]:
    """The forecast's invariants: quantiles in order and not negative, and the whole horizon for every series."""

    @dg.asset_check(
        asset=FORECAST_KEY,
        name="forecast_invariants",
        description=f"0 <= p50 <= p90 on every row; every series forecast for each of the next {HORIZON_DAYS} days.",
        partitions_def=partitions_def,
    )
    def forecast_invariants(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        business_date = date.fromisoformat(context.partition_key)
        with warehouse.connect(read_only=True) as conn:
            forecast = conn.execute(
                "select series_id, forecast_date, p50, p90 from forecasts.forecast_history where as_of_date = ?",
                [business_date],
            ).df()
        results = forecast_rules(forecast, business_date, HORIZON_DAYS)
        return rules_check_result(results, forecast_rows=len(forecast))

    return [forecast_invariants]
