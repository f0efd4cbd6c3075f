"""insights: ranked findings written from numbers by templates (no free text generation).

Each finding has a type, the entity it is about, the numbers behind it (`value`, `reference`,
`evidence`), a severity, and one sentence in English or Chinese. Every number in the sentence is
one of the row's `numbers` (the same formatted strings), which the tests check.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.aspects.summary import product_categories
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.products.catalogue import product_labels
from shopinsight_pipeline.recommend.events import cross_sell_pairs, empty_events, purchases_of
from shopinsight_pipeline.reports.causes import CauseSettings, aspect_surges, top_complaints
from shopinsight_pipeline.reports.findings import (
    SEVERITY_ORDER,
    adjusted,
    finding,
    money,
    named,
    percent,
    signed_percent,
    two_proportion_p,
)
from shopinsight_pipeline.reports.quality import quality_of
from shopinsight_pipeline.reports.stock import stock_findings
from shopinsight_pipeline.reports.windows import stack, written_or_empty
from shopinsight_pipeline.schemas import INSIGHTS_SCHEMA, REVIEW_ASPECTS_SCHEMA, TRENDS_SCHEMA

CROSS_SELL_DAYS = 30  # pairs are counted over the customer events of the last 30 days


@dataclass(frozen=True)
class InsightSettings:
    language: str = "en"
    min_reviews: int = 10  # per window, before a sentiment finding is made
    significance: float = 0.05  # two-proportion z-test
    top_sales_share: float = 0.25  # "high sales": the top quarter of products by units
    min_aspect_mentions: int = 5  # recent negative mentions of an aspect before a surge is reported
    top_rows: int = 10  # the top of the report...
    max_per_type_in_top: int = 3  # ...holds at most this many findings of one type; the rest rank behind
    min_agreement: float = 0.5
    reject_rate_factor: float = 2.0
    min_reject_rate: float = 0.02
    horizon_days: int = 14
    min_pair_customers: int = 10  # a cross-sell pair needs this many customers who bought both
    min_pair_lift: float = 2.0
    top_pairs: int = 3


@dataclass
class InsightInputs:
    run_date: date
    trends: pl.DataFrame  # category_trends of the run date
    forecast: pl.DataFrame  # sales_forecast of the run date
    recent_sales: pl.DataFrame  # daily_sales of the last horizon_days days up to the run date
    sentiment: pl.DataFrame  # product_sentiment of the last 35 days up to the run date
    product_units: pl.DataFrame  # product_id, units over the last 28 days
    quality: pl.DataFrame  # date, entity, raw_rows, rejected_rows for the run date and 7 days before
    notes: list[str] = field(default_factory=list)
    propensity: pl.DataFrame | None = None  # purchase_propensity of the run date, if written
    pairs: pl.DataFrame | None = None  # cross_sell_pairs of the recent purchases
    aspects: pl.DataFrame | None = None  # review_aspects of the last 35 days up to the run date
    categories: pl.DataFrame | None = None  # product_id -> category
    aspect_labels: dict[str, str] = field(default_factory=dict)  # aspect -> its Chinese name
    product_names: dict[str, str] = field(default_factory=dict)  # product_id -> name (the products dimension)
    plan: pl.DataFrame | None = None  # inventory_plan of the run date, if written


def category_growth(inputs: InsightInputs, language: str) -> list[dict]:
    trends = inputs.trends.filter(pl.col("growth_28d").is_not_null() & pl.col("revenue_ma28").is_not_null())
    if trends.height < 2:
        inputs.notes.append("category growth: fewer than two categories with 56 days of history")
        return []
    rows = []
    for kind, pick in (
        ("fastest_growing_category", trends.sort("growth_28d").tail(1)),
        ("fastest_falling_category", trends.sort("growth_28d").head(1)),
    ):
        row = pick.row(0, named=True)
        growth = row["growth_28d"]
        current = row["revenue_ma28"] * 28
        previous = current / (1 + growth) if growth > -1 else 0.0
        severity = "high" if abs(growth) >= 0.3 else "medium" if abs(growth) >= 0.1 else "low"
        rows.append(
            finding(
                kind,
                "category",
                row["category"],
                severity,
                abs(growth),
                current,
                previous,
                language,
                days="28",
                change=signed_percent(growth),
                value=money(current),
                reference=money(previous),
            )
        )
    return rows


def forecast_vs_last(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    if inputs.forecast.is_empty() or inputs.recent_sales.is_empty():
        inputs.notes.append("forecast vs last period: no forecast or no recent sales")
        return []
    days = int(inputs.forecast.get_column("horizon_day").max())  # type: ignore[arg-type]
    ahead = float(inputs.forecast.get_column("revenue").sum())
    behind = float(
        inputs.recent_sales.filter(pl.col("date") > inputs.run_date - timedelta(days=days)).get_column("revenue").sum()
    )
    if behind <= 0:
        return []
    change = ahead / behind - 1
    severity = "high" if abs(change) >= 0.2 else "medium" if abs(change) >= 0.05 else "low"
    return [
        finding(
            "forecast_vs_last_period",
            "shop",
            "all categories",
            severity,
            abs(change),
            ahead,
            behind,
            language,
            days=str(days),
            value=money(ahead),
            change=signed_percent(change),
            reference=money(behind),
        )
    ]


def sentiment_windows(inputs: InsightInputs) -> pl.DataFrame:
    """Per product: negative reviews and reviews in the last 7 days and in the 28 days before."""
    recent_start = inputs.run_date - timedelta(days=6)
    earlier_start = recent_start - timedelta(days=28)
    sentiment = inputs.sentiment.with_columns((pl.col("share_negative") * pl.col("reviews")).round(0).alias("negative"))

    def window(start: date, end: date, suffix: str) -> pl.DataFrame:
        return (
            sentiment.filter(pl.col("date").is_between(start, end))
            .group_by("product_id")
            .agg(
                pl.col("negative").sum().alias(f"negative_{suffix}"),
                pl.col("reviews").sum().alias(f"reviews_{suffix}"),
                (pl.col("model_rating_agreement") * pl.col("reviews")).sum().alias(f"agree_{suffix}"),
            )
        )

    return (
        window(recent_start, inputs.run_date, "recent")
        .join(
            window(earlier_start, recent_start - timedelta(days=1), "earlier"),
            on="product_id",
            how="full",
            coalesce=True,
        )
        .fill_null(0)
    )


def sentiment_findings(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    if inputs.sentiment.is_empty():
        inputs.notes.append("sentiment findings: no product_sentiment in the window")
        return []
    windows = sentiment_windows(inputs)
    tests = []  # every product with enough reviews is a test; their p-values are adjusted together
    for row in windows.iter_rows(named=True):
        recent, earlier = int(row["reviews_recent"]), int(row["reviews_earlier"])
        if recent < settings.min_reviews or earlier < settings.min_reviews:
            continue
        share_recent, share_earlier = row["negative_recent"] / recent, row["negative_earlier"] / earlier
        negative_recent, negative_earlier = int(row["negative_recent"]), int(row["negative_earlier"])
        p = (
            two_proportion_p(negative_recent, recent, negative_earlier, earlier)
            if share_recent > share_earlier
            else 1.0
        )
        tests.append((p, row["product_id"], share_recent, share_earlier, recent, earlier))
    rows = []
    for q, (_, product, share_recent, share_earlier, recent, earlier) in zip(
        adjusted([test[0] for test in tests]), tests, strict=True
    ):
        if q < settings.significance:
            rows.append(
                finding(
                    "negative_share_jump",
                    "product",
                    product,
                    "high" if q < 0.001 else "medium",
                    share_recent - share_earlier,
                    share_recent,
                    share_earlier,
                    language,
                    days="7",
                    value=percent(share_recent),
                    recent=str(recent),
                    reference=percent(share_earlier),
                    earlier=str(earlier),
                    p=f"{q:.3g}",
                )
            )
    month = windows.with_columns(
        (pl.col("reviews_recent") + pl.col("reviews_earlier")).alias("reviews"),
        (pl.col("negative_recent") + pl.col("negative_earlier")).alias("negative"),
        (pl.col("agree_recent") + pl.col("agree_earlier")).alias("agree"),
    ).filter(pl.col("reviews") >= settings.min_reviews)
    for row in month.iter_rows(named=True):
        agreement = row["agree"] / row["reviews"]
        if agreement < settings.min_agreement:
            rows.append(
                finding(
                    "model_rating_disagreement",
                    "product",
                    row["product_id"],
                    "low",
                    1 - agreement,
                    agreement,
                    None,
                    language,
                    value=percent(agreement),
                    reviews=str(int(row["reviews"])),
                )
            )
    return rows


def anomaly_findings(inputs: InsightInputs, language: str) -> list[dict]:
    rows = []
    for row in inputs.trends.filter(pl.col("anomaly")).iter_rows(named=True):
        expected = row["revenue"] - row["seasonal_residual"]
        z = row["robust_z"]
        rows.append(
            finding(
                "anomalous_day",
                "category",
                row["category"],
                "high" if abs(z) >= 6 else "medium",
                abs(z) / 10,
                row["revenue"],
                expected,
                language,
                day=row["date"].isoformat(),
                value=money(row["revenue"]),
                reference=money(expected),
                z=f"{z:.1f}",
            )
        )
    return rows


def quality_findings(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    rows = []
    for entity in ("orders", "reviews"):
        rates = inputs.quality.filter((pl.col("entity") == entity) & (pl.col("raw_rows") > 0)).with_columns(
            (pl.col("rejected_rows") / pl.col("raw_rows")).alias("rate")
        )
        today = rates.filter(pl.col("date") == inputs.run_date)
        before = rates.filter(pl.col("date") < inputs.run_date)
        if today.is_empty() or before.is_empty():
            continue
        rate, usual = float(today.item(0, "rate")), float(before.get_column("rate").mean())  # type: ignore[arg-type]
        if rate >= settings.min_reject_rate and rate > settings.reject_rate_factor * usual:
            rows.append(
                finding(
                    "data_quality",
                    "table",
                    entity,
                    "high" if rate >= 0.1 else "medium",
                    rate,
                    rate,
                    usual,
                    language,
                    value=percent(rate),
                    day=inputs.run_date.isoformat(),
                    reference=percent(usual),
                    days=str(before.height),
                )
            )
    return rows


def customer_findings(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    """Regular customers flagged churn_risk by purchase_propensity, and the value they bring."""
    propensity = inputs.propensity
    if propensity is None or propensity.is_empty() or propensity["churn_risk"].null_count() == propensity.height:
        inputs.notes.append("customers at risk: no purchase propensity for the run date")
        return []
    regulars = propensity.filter(pl.col("orders_90d") >= 2)
    at_risk = regulars.filter(pl.col("churn_risk"))
    if at_risk.is_empty():
        return []
    share, value = at_risk.height / max(regulars.height, 1), float(at_risk["value_90d"].sum())
    return [
        finding(
            "customers_at_risk",
            "customers",
            "churn risk",
            "high" if share >= 0.1 else "medium",
            value,
            at_risk.height,
            value,
            language,
            count=str(at_risk.height),
            share=percent(share),
            value=money(value),
            p=percent(at_risk.select(pl.col("purchase_probability").max()).item()),
        )
    ]


def cross_sell_findings(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    """The strongest pairs: bought b after a far more often than customers buy b at all."""
    if inputs.pairs is None or inputs.pairs.is_empty():
        return []
    strong = inputs.pairs.filter(
        (pl.col("customers") >= settings.min_pair_customers) & (pl.col("lift") >= settings.min_pair_lift)
    ).sort("lift", "customers", descending=True)
    chosen: list[dict] = []
    for row in strong.iter_rows(named=True):  # a pair bought together shows once, not in both directions
        if len(chosen) < settings.top_pairs and (row["second"], row["first"]) not in {
            (c["first"], c["second"]) for c in chosen
        }:
            chosen.append(row)
    return [
        finding(
            "top_cross_sell_pair",
            "product_pair",
            row["first"],
            "low",
            row["lift"],
            row["share"],
            row["base_share"],
            language,
            second=row["second"],
            buyers=str(row["buyers"]),
            share=percent(row["share"]),
            days=str(row["days"]),
            lift=f"{row['lift']:.1f}",
        )
        for row in chosen
    ]


def cause_findings(inputs: InsightInputs, settings: InsightSettings, language: str) -> list[dict]:
    """Aspect surges and top complaints (reports/causes.py), when review_aspects are there."""
    if inputs.aspects is None or inputs.categories is None or inputs.sentiment.is_empty():
        inputs.notes.append("causes: no review_aspects or product_sentiment in the window")
        return []
    causes = CauseSettings(
        settings.min_reviews, settings.min_aspect_mentions, settings.significance, settings.top_sales_share
    )
    reviews = inputs.sentiment.select("date", "product_id", "reviews")
    return [
        *aspect_surges(
            inputs.aspects, reviews, inputs.categories, inputs.run_date, inputs.aspect_labels, causes, language
        ),
        *top_complaints(
            inputs.aspects,
            inputs.sentiment,
            inputs.categories,
            inputs.product_units,
            inputs.run_date,
            inputs.aspect_labels,
            causes,
            language,
        ),
    ]


def diversified(ranked: pl.DataFrame, top_rows: int, per_type: int) -> pl.DataFrame:
    """The ranked findings with at most `per_type` of one type among the first `top_rows`: the first
    rows keep their order, a type's surplus moves behind them (in its order), so one kind of finding
    about many products cannot fill the top of the report."""
    kept: list[int] = []
    deferred: list[int] = []
    seen: dict[str, int] = {}
    for index, kind in enumerate(ranked.get_column("type").to_list()):
        if len(kept) < top_rows and seen.get(kind, 0) < per_type:
            kept.append(index)
            seen[kind] = seen.get(kind, 0) + 1
        else:
            deferred.append(index)
    return ranked[kept + deferred]


def build_insights(inputs: InsightInputs, settings: InsightSettings = InsightSettings()) -> pl.DataFrame:
    """All findings for the run date, ranked by severity then score, at most `max_per_type_in_top`
    of a type in the first `top_rows`."""
    if settings.language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', got {settings.language!r}")
    language = settings.language
    rows = [
        *quality_findings(inputs, settings, language),
        *anomaly_findings(inputs, language),
        *category_growth(inputs, language),
        *forecast_vs_last(inputs, settings, language),
        *sentiment_findings(inputs, settings, language),
        *cause_findings(inputs, settings, language),
        *customer_findings(inputs, settings, language),
        *cross_sell_findings(inputs, settings, language),
        *stock_findings(inputs.plan, language),
    ]
    if not rows:
        return pl.DataFrame(schema=INSIGHTS_SCHEMA)
    frame = (
        pl.DataFrame([named(row, inputs.product_names, language) for row in rows])
        .with_columns(pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8).alias("_order"))
        .sort(["_order", "score"], descending=[False, True])
    )
    frame = diversified(frame, settings.top_rows, settings.max_per_type_in_top)
    return (
        frame.with_columns(
            pl.lit(inputs.run_date).alias("run_date"),
            pl.int_range(1, frame.height + 1).alias("rank"),
            pl.lit(language).alias("language"),
        )
        .select(list(INSIGHTS_SCHEMA))
        .cast(pl.Schema(INSIGHTS_SCHEMA))
    )


def units_by_product(orders: pl.DataFrame) -> pl.DataFrame:
    """Units sold per product over the orders of a window (cancelled orders left out)."""
    if orders.is_empty():
        return pl.DataFrame()
    return (
        orders.filter(pl.col("status") != "cancelled")
        .group_by("product_id")
        .agg(pl.col("quantity").sum().alias("units"))
    )


def build_insights_for_day(
    day: date,
    *,
    trends_today: Mapping[str, pl.DataFrame],
    forecast_today: Mapping[str, pl.DataFrame],
    recent_sales: Mapping[str, pl.DataFrame],
    recent_sentiment: Mapping[str, pl.DataFrame],
    recent_orders: Mapping[str, pl.DataFrame],
    quality: pl.DataFrame,
    propensity_today: Mapping[str, pl.DataFrame],
    recent_events: Mapping[str, pl.DataFrame],
    recent_aspects: Mapping[str, pl.DataFrame] | None = None,
    products_today: Mapping[str, pl.DataFrame] | None = None,
    settings: InsightSettings = InsightSettings(),
    plan_today: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """The run date's findings and notes from its inputs: the `*_today` partitions (date -> frame,
    the day's possibly missing), the days of each `recent_*` window, and `quality_counts` rows."""
    notes: list[str] = []
    catalogue = None if products_today is None else products_today.get(day.isoformat())
    inputs = InsightInputs(
        run_date=day,
        trends=written_or_empty(trends_today, "category_trends", day, notes),
        forecast=written_or_empty(forecast_today, "sales_forecast", day, notes),
        recent_sales=stack(recent_sales),
        sentiment=stack(recent_sentiment),
        product_units=units_by_product(stack(recent_orders)),
        quality=quality_of(quality, day),
        notes=notes,
        propensity=propensity_today.get(day.isoformat()),
        pairs=cross_sell_pairs(
            purchases_of(stack(recent_events, empty_events())), CROSS_SELL_DAYS, settings.min_pair_customers
        ),
        aspects=None if recent_aspects is None else stack(recent_aspects, pl.DataFrame(schema=REVIEW_ASPECTS_SCHEMA)),
        categories=product_categories(recent_orders),
        aspect_labels={aspect.key: aspect.label for aspect in load_taxonomy().aspects},
        product_names={} if catalogue is None else product_labels(catalogue),
        plan=None if plan_today is None else plan_today.get(day.isoformat()),
    )
    if catalogue is None:
        notes.append(f"products has no partition for {day.isoformat()}: products are named by id only")
    if inputs.trends.is_empty():
        inputs.trends = pl.DataFrame(schema=TRENDS_SCHEMA)
    return build_insights(inputs, settings), inputs.notes
