"""Gold report tables, written in Hive layout for DuckDB and polars: daily sales, product
sentiment, category trends and the sales forecast (insights and the HTML report: insight_assets.py).

Only the Dagster wiring lives here (inputs and their windows, run config, metadata): each asset
hands every run date's inputs to one pure function of its report module and turns the numbers it
returns into metadata.
"""

from collections.abc import Iterator
from datetime import date

import polars as pl
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline import charts
from shopinsight_pipeline.gold_checks import audited_days, gold_check_specs
from shopinsight_pipeline.markdown import frame_table
from shopinsight_pipeline.partitions import DAILY_ASSET, window, window_of
from shopinsight_pipeline.reports.forecast import ForecastSettings, backtest_table, forecast_day

# Re-exported: the reports' three run configs are imported from here (test_definitions checks their defaults).
from shopinsight_pipeline.reports.sales import summarize_daily_sales
from shopinsight_pipeline.reports.sentiment import summarize_sentiment_day
from shopinsight_pipeline.reports.trends import HISTORY_DAYS, TrendSettings, summarize_trends_day
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.storage import LakeStorage


@asset(
    check_specs=gold_check_specs("daily_sales"),
    ins={"validated_orders": AssetIn()},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per day and category: orders, units, revenue, average order value, return rate.",
)
def daily_sales(
    context: AssetExecutionContext, validated_orders: dict[str, pl.DataFrame], storage: LakeStorage
) -> Iterator[Output | AssetCheckResult]:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        sales = summarize_daily_sales(validated_orders[day.isoformat()])
        return sales, {
            "revenue": float(sales.get_column("revenue").sum()),
            "orders": int(sales.get_column("orders").sum()),
            "preview": MetadataValue.md(frame_table(sales) if sales.height else "no sales"),
        }

    yield from audited_days(context, storage, "daily_sales", compute)


@asset(
    check_specs=gold_check_specs("product_sentiment"),
    ins={"review_scores": AssetIn()},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per product and day: reviews, average rating, model sentiment shares, model-rating agreement.",
)
def product_sentiment(
    context: AssetExecutionContext,
    review_scores: dict[str, pl.DataFrame],
    sentiment_labels: SentimentLabels,
    storage: LakeStorage,
) -> Iterator[Output | AssetCheckResult]:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        result = summarize_sentiment_day(review_scores[day.isoformat()], sentiment_labels.labels, day)
        return result.table, {
            "reviews": result.reviews,
            "note": result.note,
            "mean_agreement": result.mean_agreement,
        }

    yield from audited_days(context, storage, "product_sentiment", compute)


class TrendConfig(Config):
    anomaly_threshold: float = Field(
        default=TrendSettings.anomaly_threshold,
        description="|robust z| of the weekly-seasonal residual that flags a day.",
    )


@asset(
    check_specs=gold_check_specs("category_trends"),
    ins={"daily_sales": window("daily_sales", HISTORY_DAYS)},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per category and day: revenue, units, 7/28-day moving averages, week-over-week and 28-day "
    "growth, and an anomaly flag (robust z-score of the residual after weekly seasonality).",
)
def category_trends(
    context: AssetExecutionContext, config: TrendConfig, daily_sales: dict[str, pl.DataFrame], storage: LakeStorage
) -> Iterator[Output | AssetCheckResult]:
    settings = TrendSettings(anomaly_threshold=config.anomaly_threshold)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        result = summarize_trends_day(window_of(daily_sales, day, HISTORY_DAYS), day, settings)
        missing = result.history_days_missing
        return result.table, {
            "anomalies": ", ".join(result.anomalies) or "none",
            "history_days_missing": missing,
            "note": f"{missing} days of daily_sales in the window are not materialized and count as no sales"
            if missing
            else "full history",
            "preview": MetadataValue.md(frame_table(result.table) if result.table.height else "no sales"),
        }

    yield from audited_days(context, storage, "category_trends", compute)


# Days of daily_sales sales_forecast may fit on: the declared window; history_days picks within it.
FORECAST_WINDOW_DAYS = 91


class ForecastConfig(Config):
    horizon: int = Field(default=ForecastSettings.horizon, description="Days to forecast after the partition's day.")
    history_days: int = Field(
        default=91,
        description="Days of daily_sales the model is fitted on (13 weeks: enough for weekly seasonality and a "
        "damped trend, and the nightly cost does not grow with the lake's history); at most the declared window.",
        ge=1,
        le=FORECAST_WINDOW_DAYS,
    )
    backtest_days: int = Field(
        default=ForecastSettings.backtest_days, description="Rolling backtest window against seasonal naive."
    )


@asset(
    check_specs=gold_check_specs("sales_forecast"),
    ins={"daily_sales": window("daily_sales", FORECAST_WINDOW_DAYS)},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"statsmodels", "parquet"},
    description="Per category: daily revenue and units for the next days with 80% and 95% intervals "
    "(damped additive ETS, seasonal-naive fallback), backtested against seasonal naive.",
)
def sales_forecast(
    context: AssetExecutionContext, config: ForecastConfig, daily_sales: dict[str, pl.DataFrame], storage: LakeStorage
) -> Iterator[Output | AssetCheckResult]:
    settings = ForecastSettings(horizon=config.horizon, backtest_days=config.backtest_days)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        result = forecast_day(window_of(daily_sales, day, config.history_days), day, settings)
        metadata = {
            "backtest": MetadataValue.md(backtest_table(result.backtests) if result.backtests else "no sales history"),
            "history_days_missing": result.history_days_missing,
            "fallbacks": MetadataValue.md(
                "\n".join(f"- {category}: {note}" for category, note in result.fallbacks.items()) or "none"
            ),
        }
        if result.revenue_mase is not None:
            metadata["revenue_mase"] = result.revenue_mase
            metadata["revenue_mase_seasonal_naive"] = result.revenue_mase_seasonal_naive
        if result.chart_history is not None:
            chart = charts.forecast_chart(result.chart_history, result.table)
            metadata["chart"] = MetadataValue.md(charts.markdown_image(chart, "forecast"))
        return result.table, metadata

    yield from audited_days(context, storage, "sales_forecast", compute)
