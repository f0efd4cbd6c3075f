"""Gold report tables, written in Hive layout for DuckDB and polars."""

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl
from dagster import AssetExecutionContext, AssetIn, Config, MaterializeResult, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline import charts
from shopinsight_pipeline.markdown import frame_table, table
from shopinsight_pipeline.partitions import DAILY_ASSET, each_day, run_days, same_day_if_written, window, window_of
from shopinsight_pipeline.recommend.events import cross_sell_pairs, empty_events, purchases_of
from shopinsight_pipeline.reports.forecast import ForecastSettings
from shopinsight_pipeline.reports.forecast import sales_forecast as forecast_sales
from shopinsight_pipeline.reports.insights import InsightInputs, InsightSettings, build_insights
from shopinsight_pipeline.reports.report import render_report
from shopinsight_pipeline.reports.sales import daily_sales as summarize_daily_sales
from shopinsight_pipeline.reports.sentiment import product_sentiment as summarize_product_sentiment
from shopinsight_pipeline.reports.trends import HISTORY_DAYS, TrendSettings, complete_daily_grid, first_date
from shopinsight_pipeline.reports.trends import category_trends as summarize_trends
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.schemas import TRENDS_SCHEMA
from shopinsight_pipeline.storage import LakeStorage


@asset(
    ins={"validated_orders": AssetIn()},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per day and category: orders, units, revenue, average order value, return rate.",
)
def daily_sales(context: AssetExecutionContext, validated_orders: dict[str, pl.DataFrame]) -> Output:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        sales = summarize_daily_sales(validated_orders[day.isoformat()])
        return sales, {
            "revenue": float(sales.get_column("revenue").sum()),
            "orders": int(sales.get_column("orders").sum()),
            "preview": MetadataValue.md(frame_table(sales) if sales.height else "no sales"),
        }

    return each_day(context, compute)


@asset(
    ins={"review_scores": AssetIn()},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per product and day: reviews, average rating, model sentiment shares, model-rating agreement.",
)
def product_sentiment(
    context: AssetExecutionContext, review_scores: dict[str, pl.DataFrame], sentiment_labels: SentimentLabels
) -> Output:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        scores = review_scores[day.isoformat()]
        sentiment = summarize_product_sentiment(scores, sentiment_labels.labels)
        return sentiment, {
            "reviews": int(sentiment.get_column("reviews").sum()) if sentiment.height else 0,
            "note": sentiment_notes(scores, day),
            "mean_agreement": float(sentiment.get_column("model_rating_agreement").mean() or 0.0)  # type: ignore[arg-type]
            if sentiment.height
            else 0.0,
        }

    return each_day(context, compute)


def sentiment_notes(scores: pl.DataFrame, day) -> str:
    """What an operator should know about a day's product_sentiment that the numbers hide."""
    if scores.is_empty():
        return f"no validated reviews on {day}: the partition is empty"
    neutral = pl.col("rating") == 3
    by_product = scores.group_by("product_id").agg(neutral.all().alias("neutral_only"))
    neutral_only = int(by_product.get_column("neutral_only").sum())
    if neutral_only:
        unlabelled = scores.filter(neutral).get_column("rating_label").null_count() > 0
        meaning = (
            "3 stars name no class in the label scheme, so their model_rating_agreement is null"
            if unlabelled
            else "their agreement measures the model's neutral class alone"
        )
        return f"{neutral_only} of {by_product.height} products have only neutral (3-star) reviews on {day}: {meaning}"
    return "none"


def stack(days: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """A window's written days as one frame, oldest first (no days: an empty frame)."""
    frames = [days[key] for key in sorted(days)]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def events_of(recent_events: dict[str, pl.DataFrame], day: date) -> pl.DataFrame:
    """The customer events of the CROSS_SELL_DAYS days up to `day` (none written: an empty table)."""
    days = window_of(recent_events, day, CROSS_SELL_DAYS)
    return stack(days) if days else empty_events()


def days_missing(days: Mapping[str, object], day: date) -> int:
    """Days between the window's first written day and `day` that are not written (gaps that
    would read as days without sales)."""
    if not days:
        return 0
    return (day - date.fromisoformat(min(days))).days + 1 - len(days)


class TrendConfig(Config):
    anomaly_threshold: float = Field(
        default=TrendSettings.anomaly_threshold,
        description="|robust z| of the weekly-seasonal residual that flags a day.",
    )


@asset(
    ins={"daily_sales": window("daily_sales", HISTORY_DAYS)},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per category and day: revenue, units, 7/28-day moving averages, week-over-week and 28-day "
    "growth, and an anomaly flag (robust z-score of the residual after weekly seasonality).",
)
def category_trends(
    context: AssetExecutionContext, config: TrendConfig, daily_sales: dict[str, pl.DataFrame]
) -> Output:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        days = window_of(daily_sales, day, HISTORY_DAYS)
        missing = days_missing(days, day)
        trends = summarize_trends(stack(days), day, TrendSettings(anomaly_threshold=config.anomaly_threshold))
        anomalies = trends.filter(pl.col("anomaly")).get_column("category").to_list()
        return trends, {
            "anomalies": ", ".join(anomalies) or "none",
            "history_days_missing": missing,
            "note": f"{missing} days of daily_sales in the window are not materialized and count as no sales"
            if missing
            else "full history",
            "preview": MetadataValue.md(frame_table(trends) if trends.height else "no sales"),
        }

    return each_day(context, compute)


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


def backtest_table(backtests: dict[str, dict]) -> str:
    rows = []
    for category, measures in sorted(backtests.items()):
        for measure, result in measures.items():
            if result is None:
                rows.append([category, measure, "too little history to backtest", "", "", "", "", ""])
                continue
            cells = [category, measure]
            for fit in (result["method"], result["seasonal_naive"]):
                cells += [f"{fit['mae']:.1f}", f"{fit['smape']:.1f}", f"{fit['mase']:.2f}"]
            rows.append(cells)
    headers = ["category", "measure", "MAE", "sMAPE %", "MASE", "seasonal-naive MAE", "sMAPE %", "MASE"]
    return table(headers, rows)


@asset(
    ins={"daily_sales": window("daily_sales", FORECAST_WINDOW_DAYS)},
    **DAILY_ASSET,
    group_name="reports",
    kinds={"statsmodels", "parquet"},
    description="Per category: daily revenue and units for the next days with 80% and 95% intervals "
    "(damped additive ETS, seasonal-naive fallback), backtested against seasonal naive.",
)
def sales_forecast(
    context: AssetExecutionContext, config: ForecastConfig, daily_sales: dict[str, pl.DataFrame]
) -> Output:
    return each_day(context, lambda day: forecast_day(window_of(daily_sales, day, config.history_days), day, config))


def forecast_day(days: dict[str, pl.DataFrame], day: date, config: ForecastConfig) -> tuple[pl.DataFrame, dict]:
    """One run date's forecast from the daily_sales of its window, with the operator's metadata."""
    history, missing = stack(days), days_missing(days, day)
    if history.is_empty():
        forecast, backtests = forecast_sales(history, day)
    else:
        grid = complete_daily_grid(history, first_date(history), day)
        settings = ForecastSettings(horizon=config.horizon, backtest_days=config.backtest_days)
        forecast, backtests = forecast_sales(grid, day, settings)
    revenue = [r["revenue"] for r in backtests.values() if r.get("revenue")]
    metadata = {
        "backtest": MetadataValue.md(backtest_table(backtests) if backtests else "no sales history"),
        "history_days_missing": missing,
        "fallbacks": MetadataValue.md(
            "\n".join(
                f"- {c}: {n}" for c, n in forecast.group_by("category").agg(pl.col("note").first()).iter_rows() if n
            )
            or "none"
        ),
    }
    if revenue:
        metadata["revenue_mase"] = sum(r["method"]["mase"] for r in revenue) / len(revenue)
        metadata["revenue_mase_seasonal_naive"] = sum(r["seasonal_naive"]["mase"] for r in revenue) / len(revenue)
    if forecast.height:
        recent = grid.filter(pl.col("date") > day - timedelta(days=42))
        metadata["chart"] = MetadataValue.md(charts.markdown_image(charts.forecast_chart(recent, forecast), "forecast"))
    return forecast, metadata


class InsightConfig(Config):
    language: str = Field(default=InsightSettings.language, description="Sentence language: en or zh.")
    min_reviews: int = Field(
        default=InsightSettings.min_reviews,
        description="Reviews per window before a product sentiment finding is made.",
    )
    significance: float = Field(
        default=InsightSettings.significance, description="p-value below which a negative-share jump is reported."
    )


def written_or_empty(days: dict[str, pl.DataFrame], table: str, day: date, notes: list[str]) -> pl.DataFrame:
    """The run date's partition of an input the asset can do without; a missing one is noted."""
    if day.isoformat() in days:
        return days[day.isoformat()]
    notes.append(f"{table} has no partition for {day}: its findings are skipped")
    return pl.DataFrame()


# The data-quality section counts raw and rejected rows of the run date and the 7 days before.
QUALITY_DAYS = 8
QUALITY_INPUTS = {
    f"{layer}_{entity}": window(f"{layer}_{entity}", QUALITY_DAYS)
    for layer in ("raw", "quarantined")
    for entity in ("orders", "reviews")
}


def quality_counts(
    raw_orders: dict[str, pl.LazyFrame],
    raw_reviews: dict[str, pl.LazyFrame],
    quarantined_orders: dict[str, pl.LazyFrame],
    quarantined_reviews: dict[str, pl.LazyFrame],
) -> pl.DataFrame:
    """Raw and rejected row counts per entity and day (a count of a Parquet scan reads the footers)."""
    rows = []
    for entity, raw, rejected in (
        ("orders", raw_orders, quarantined_orders),
        ("reviews", raw_reviews, quarantined_reviews),
    ):
        for key in sorted(raw.keys() & rejected.keys(), reverse=True):
            counts = [frame.select(pl.len()).collect().item() for frame in (raw[key], rejected[key])]
            rows.append(
                {"date": date.fromisoformat(key), "entity": entity, "raw_rows": counts[0], "rejected_rows": counts[1]}
            )
    schema = {"date": pl.Date, "entity": pl.String, "raw_rows": pl.Int64, "rejected_rows": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def quality_of(counts: pl.DataFrame, day: date) -> pl.DataFrame:
    """The rows of `quality_counts` for `day` and the QUALITY_DAYS - 1 days before it (a range run
    counts every loaded day once and each of its days takes its own window)."""
    return counts.filter(pl.col("date").is_between(day - timedelta(days=QUALITY_DAYS - 1), day))


CROSS_SELL_DAYS = 30  # pairs are counted over the customer events of the last 30 days
# Windows of the insights: parameter -> (table, days ending on the run date).
INSIGHT_WINDOWS = {
    "recent_sales": ("daily_sales", 14),
    "recent_sentiment": ("product_sentiment", 35),
    "recent_orders": ("validated_orders", 28),
}


@asset(
    ins={
        "trends_today": same_day_if_written("category_trends"),
        "forecast_today": same_day_if_written("sales_forecast"),
        **{name: window(table, days) for name, (table, days) in INSIGHT_WINDOWS.items()},
        **QUALITY_INPUTS,
        "propensity_today": same_day_if_written("purchase_propensity"),
        "recent_events": window("customer_events", CROSS_SELL_DAYS),
    },
    **DAILY_ASSET,
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Ranked findings for the run date (growth, forecast, sentiment jumps, poor sentiment on best "
    "sellers, anomalies, model-rating disagreement, data quality, customers at risk, cross-sell pairs), each with "
    "its numbers and a templated sentence.",
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
) -> Output:
    quality = quality_counts(raw_orders, raw_reviews, quarantined_orders, quarantined_reviews)
    settings = InsightSettings(
        language=config.language, min_reviews=config.min_reviews, significance=config.significance
    )

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        recent = {
            name: stack(window_of(frames, day, INSIGHT_WINDOWS[name][1]))
            for name, frames in (
                ("recent_sales", recent_sales),
                ("recent_sentiment", recent_sentiment),
                ("recent_orders", recent_orders),
            )
        }
        notes: list[str] = []
        inputs = InsightInputs(
            run_date=day,
            trends=written_or_empty(trends_today, "category_trends", day, notes),
            forecast=written_or_empty(forecast_today, "sales_forecast", day, notes),
            recent_sales=recent["recent_sales"],
            sentiment=recent["recent_sentiment"],
            product_units=units_by_product(recent["recent_orders"]),
            quality=quality_of(quality, day),
            notes=notes,
            propensity=propensity_today.get(day.isoformat()),
            pairs=cross_sell_pairs(
                purchases_of(events_of(recent_events, day)), CROSS_SELL_DAYS, settings.min_pair_customers
            ),
        )
        if inputs.trends.is_empty():
            inputs.trends = pl.DataFrame(schema=TRENDS_SCHEMA)
        findings = build_insights(inputs, settings)
        top = "\n".join(
            f"{row['rank']}. **{row['severity']}** {row['sentence']}" for row in findings.head(10).iter_rows(named=True)
        )
        return findings, {
            "top_findings": MetadataValue.md(top or "no findings"),
            "by_type": {kind: int(count) for kind, count in findings.get_column("type").value_counts().iter_rows()},
            "notes": MetadataValue.md("\n".join(f"- {note}" for note in inputs.notes) or "none"),
        }

    return each_day(context, compute)


def units_by_product(orders: pl.DataFrame) -> pl.DataFrame:
    """Units sold per product over the orders of a window (cancelled orders left out)."""
    if orders.is_empty():
        return pl.DataFrame()
    return (
        orders.filter(pl.col("status") != "cancelled")
        .group_by("product_id")
        .agg(pl.col("quantity").sum().alias("units"))
    )


def report_kpis(sales: pl.DataFrame, sentiment: pl.DataFrame, forecast: pl.DataFrame, findings: pl.DataFrame) -> dict:
    kpis = {
        "revenue, last 7 days": f"{sales.get_column('revenue').sum():,.0f}" if sales.height else "n/a",
        "orders, last 7 days": f"{sales.get_column('orders').sum():,}" if sales.height else "n/a",
        "reviews, last 7 days": f"{sentiment.get_column('reviews').sum():,}" if sentiment.height else "n/a",
    }
    if sentiment.height:
        negative = float((sentiment.get_column("share_negative") * sentiment.get_column("reviews")).sum())
        reviews = int(sentiment.get_column("reviews").sum())
        kpis["negative reviews (model)"] = f"{negative / max(reviews, 1):.1%}"
    if forecast.height:
        kpis[f"forecast revenue, next {forecast.get_column('horizon_day').max()!s} days"] = (
            f"{forecast.get_column('revenue').sum():,.0f}"
        )
    kpis["high-severity findings"] = (
        str(findings.filter(pl.col("severity") == "high").height) if findings.height else "0"
    )
    return kpis


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
        **{name: window(table, days) for name, (table, days) in REPORT_WINDOWS.items()},
        **QUALITY_INPUTS,
    },
    **DAILY_ASSET,
    group_name="reports",
    kinds={"html", "matplotlib"},
    description="Self-contained HTML report of the run date (KPIs, forecast bands per category, sentiment by "
    "category, top insights, data quality) and a PNG of each chart, under lake/reports/insight_report/.",
)
def insight_report(
    context: AssetExecutionContext,
    storage: LakeStorage,
    insights_today: dict[str, pl.DataFrame],
    forecast_today: dict[str, pl.DataFrame],
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
        notes: list[str] = []
        metadata = write_report_of(
            storage,
            day,
            written_or_empty(insights_today, "insights", day, notes),
            written_or_empty(forecast_today, "sales_forecast", day, notes),
            stack(window_of(recent_sales, day, REPORT_WINDOWS["recent_sales"][1])),
            stack(window_of(recent_sentiment, day, REPORT_WINDOWS["recent_sentiment"][1])),
            window_of(recent_orders, day, REPORT_WINDOWS["recent_orders"][1]),
            quality_of(quality, day),
            notes,
        )
    return MaterializeResult(metadata={**metadata, "reports_written": len(context.partition_keys)})


def write_report_of(
    storage: LakeStorage,
    day: date,
    findings: pl.DataFrame,
    forecast: pl.DataFrame,
    history: pl.DataFrame,
    sentiment: pl.DataFrame,
    recent_orders: dict[str, pl.LazyFrame],
    quality_rows: pl.DataFrame,
    notes: list[str],
) -> dict:
    """Render and write one run date's report; returns its metadata."""
    charts_png: dict[str, bytes] = {}
    if forecast.height and history.height:
        grid = complete_daily_grid(history, first_date(history), day)
        charts_png["Revenue: last 6 weeks and forecast"] = charts.forecast_chart(grid, forecast)
    if sentiment.height:
        products = (
            pl.concat([frame.select("product_id", "category") for frame in recent_orders.values()])
            .unique("product_id")
            .collect()
            if recent_orders
            else pl.DataFrame(schema={"product_id": pl.String, "category": pl.String})
        )
        by_category = sentiment.join(products, on="product_id", how="left").with_columns(
            pl.col("category").fill_null("unknown"),
            (pl.col("share_negative") * pl.col("reviews")).alias("negative"),
        )
        charts_png["Negative reviews by category"] = charts.sentiment_chart(by_category)
    else:
        notes.append("no product_sentiment in the last 56 days: no sentiment chart")
    quality = quality_rows.with_columns(
        (pl.col("rejected_rows") / pl.col("raw_rows")).round(4).alias("reject_rate")
    ).sort("entity", "date", descending=[False, True])
    last_week = history.filter(pl.col("date") > day - timedelta(days=7)) if history.height else history
    recent_sentiment = sentiment.filter(pl.col("date") > day - timedelta(days=7)) if sentiment.height else sentiment
    page = render_report(
        day, report_kpis(last_week, recent_sentiment, forecast, findings), findings, quality, charts_png, notes
    )
    files = {"report.html": page.encode("utf-8")}
    files |= {f"chart-{number}.png": png for number, png in enumerate(charts_png.values(), start=1)}
    folder = storage.write_report(day, files)
    return {
        "report": MetadataValue.path(str(folder / "report.html")),
        "charts": MetadataValue.md(
            "\n\n".join(charts.markdown_image(png, title) for title, png in charts_png.items()) or "no charts"
        ),
        "findings": findings.height,
        "notes": MetadataValue.md("\n".join(f"- {note}" for note in notes) or "none"),
    }
