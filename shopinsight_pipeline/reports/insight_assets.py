"""The run date's insights and HTML report: the reports that read every other gold table.

Only the Dagster wiring lives here (inputs and their windows, run config, metadata): each run
date's inputs go to one pure function (reports/insights.py, reports/report.py).
"""

from collections.abc import Iterator
from datetime import date

import polars as pl
from dagster import AssetCheckResult, AssetExecutionContext, Config, MaterializeResult, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline import charts
from shopinsight_pipeline.gold_checks import audited_days, gold_check_specs
from shopinsight_pipeline.partitions import DAILY_ASSET, run_days, same_day_if_written, window, window_of
from shopinsight_pipeline.reports.insights import CROSS_SELL_DAYS, InsightSettings, build_insights_for_day
from shopinsight_pipeline.reports.quality import QUALITY_DAYS, quality_counts
from shopinsight_pipeline.reports.report import build_report
from shopinsight_pipeline.storage import LakeStorage


def bullets(lines: list[str]) -> MetadataValue:
    """Notes as a Markdown list for the UI ("none" when there are none)."""
    return MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none")


class InsightConfig(Config):
    language: str = Field(default=InsightSettings.language, description="Sentence language: en or zh.")
    min_reviews: int = Field(
        default=InsightSettings.min_reviews,
        description="Reviews per window before a product sentiment finding is made.",
    )
    significance: float = Field(
        default=InsightSettings.significance, description="p-value below which a negative-share jump is reported."
    )


# The data-quality sections count raw and rejected rows of the run date and the days before.
QUALITY_INPUTS = {
    f"{layer}_{entity}": window(f"{layer}_{entity}", QUALITY_DAYS)
    for layer in ("raw", "quarantined")
    for entity in ("orders", "reviews")
}
# Windows of the insights: parameter -> (table, days ending on the run date).
INSIGHT_WINDOWS = {
    "recent_sales": ("daily_sales", 14),
    "recent_sentiment": ("product_sentiment", 35),
    "recent_orders": ("validated_orders", 28),
    "recent_aspects": ("review_aspects", 35),
}


@asset(
    check_specs=gold_check_specs("insights"),
    ins={
        "trends_today": same_day_if_written("category_trends"),
        "forecast_today": same_day_if_written("sales_forecast"),
        **{name: window(table, days) for name, (table, days) in INSIGHT_WINDOWS.items()},
        **QUALITY_INPUTS,
        "propensity_today": same_day_if_written("purchase_propensity"),
        "recent_events": window("customer_events", CROSS_SELL_DAYS),
        "products_today": same_day_if_written("products"),
        "plan_today": same_day_if_written("inventory_plan"),
    },
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Ranked findings for the run date (growth, forecast, sentiment jumps, surges of complaints about "
    "an aspect, products judged worse than their category with their top complaint, anomalies, model-rating "
    "disagreement, data quality, customers at risk, cross-sell pairs), each with its numbers and a templated "
    "sentence; at most 3 of a type in the top 10.",
)
def insights(
    context: AssetExecutionContext,
    config: InsightConfig,
    trends_today: dict[str, pl.DataFrame],
    forecast_today: dict[str, pl.DataFrame],
    recent_sales: dict[str, pl.DataFrame],
    recent_sentiment: dict[str, pl.DataFrame],
    recent_orders: dict[str, pl.DataFrame],
    raw_orders: dict[str, pl.LazyFrame],
    raw_reviews: dict[str, pl.LazyFrame],
    quarantined_orders: dict[str, pl.LazyFrame],
    quarantined_reviews: dict[str, pl.LazyFrame],
    propensity_today: dict[str, pl.DataFrame],
    recent_events: dict[str, pl.DataFrame],
    recent_aspects: dict[str, pl.DataFrame],
    products_today: dict[str, pl.DataFrame],
    plan_today: dict[str, pl.DataFrame],
    storage: LakeStorage,
) -> Iterator[Output | AssetCheckResult]:
    quality = quality_counts(raw_orders, raw_reviews, quarantined_orders, quarantined_reviews)
    settings = InsightSettings(
        language=config.language, min_reviews=config.min_reviews, significance=config.significance
    )

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        findings, notes = build_insights_for_day(
            day,
            trends_today=trends_today,
            forecast_today=forecast_today,
            recent_sales=window_of(recent_sales, day, INSIGHT_WINDOWS["recent_sales"][1]),
            recent_sentiment=window_of(recent_sentiment, day, INSIGHT_WINDOWS["recent_sentiment"][1]),
            recent_orders=window_of(recent_orders, day, INSIGHT_WINDOWS["recent_orders"][1]),
            quality=quality,
            propensity_today=propensity_today,
            recent_events=window_of(recent_events, day, CROSS_SELL_DAYS),
            recent_aspects=window_of(recent_aspects, day, INSIGHT_WINDOWS["recent_aspects"][1]),
            products_today=products_today,
            settings=settings,
            plan_today=plan_today,
        )
        top = "\n".join(
            f"{row['rank']}. **{row['severity']}** {row['sentence']}" for row in findings.head(10).iter_rows(named=True)
        )
        return findings, {
            "top_findings": MetadataValue.md(top or "no findings"),
            "by_type": {  # sorted: the same findings give the same metadata
                kind: int(count) for kind, count in sorted(findings.get_column("type").value_counts().iter_rows())
            },
            "notes": bullets(notes),
        }

    yield from audited_days(context, storage, "insights", compute)


# Windows of the report: parameter -> (table, days ending on the run date).
REPORT_WINDOWS = {
    "recent_sales": ("daily_sales", 42),
    "recent_sentiment": ("product_sentiment", 56),
    "recent_orders": ("validated_orders", 56),
}


@asset(
    ins={
        "insights_today": same_day_if_written("insights"),
        "forecast_today": same_day_if_written("sales_forecast"),
        "aspects_today": same_day_if_written("aspect_sentiment"),
        **{name: window(table, days) for name, (table, days) in REPORT_WINDOWS.items()},
        **QUALITY_INPUTS,
    },
    **DAILY_ASSET,
    group_name="reports",
    kinds={"html", "matplotlib"},
    description="Self-contained HTML report of the run date (KPIs, top insights, customers, inventory, why customers "
    "complain: "
    "negative share by aspect per category and the week's surges, forecast bands per category, sentiment by "
    "category, data quality) and a PNG of each chart, under lake/reports/insight_report/.",
)
def insight_report(
    context: AssetExecutionContext,
    storage: LakeStorage,
    insights_today: dict[str, pl.DataFrame],
    forecast_today: dict[str, pl.DataFrame],
    aspects_today: dict[str, pl.DataFrame],
    recent_sales: dict[str, pl.DataFrame],
    recent_sentiment: dict[str, pl.DataFrame],
    recent_orders: dict[str, pl.LazyFrame],
    raw_orders: dict[str, pl.LazyFrame],
    raw_reviews: dict[str, pl.LazyFrame],
    quarantined_orders: dict[str, pl.LazyFrame],
    quarantined_reviews: dict[str, pl.LazyFrame],
) -> MaterializeResult:
    quality = quality_counts(raw_orders, raw_reviews, quarantined_orders, quarantined_reviews)
    metadata: dict = {}
    for day in run_days(context):
        report = build_report(
            day,
            insights_today=insights_today,
            forecast_today=forecast_today,
            recent_sales=window_of(recent_sales, day, REPORT_WINDOWS["recent_sales"][1]),
            recent_sentiment=window_of(recent_sentiment, day, REPORT_WINDOWS["recent_sentiment"][1]),
            recent_orders=window_of(recent_orders, day, REPORT_WINDOWS["recent_orders"][1]),
            quality=quality,
            aspects_today=aspects_today,
        )
        folder = storage.write_report(day, report.files)
        metadata = {
            "report": MetadataValue.path(str(folder / "report.html")),
            "charts": MetadataValue.md(
                "\n\n".join(charts.markdown_image(png, title) for title, png in report.charts.items()) or "no charts"
            ),
            "findings": report.findings,
            "notes": bullets(report.notes),
        }
    return MaterializeResult(metadata={**metadata, "reports_written": len(context.partition_keys)})
