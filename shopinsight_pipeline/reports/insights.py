"""insights: ranked findings written from numbers by templates (no free text generation).

Each finding has a type, the entity it is about, the numbers behind it (`value`, `reference`,
`evidence`), a severity, and one sentence in English or Chinese. Every number in the sentence is
one of the row's `numbers` (the same formatted strings), which the tests check.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.recommend.events import cross_sell_pairs, empty_events, purchases_of
from shopinsight_pipeline.reports.quality import quality_of
from shopinsight_pipeline.reports.windows import stack, written_or_empty
from shopinsight_pipeline.schemas import INSIGHTS_SCHEMA, TRENDS_SCHEMA

TEMPLATES: dict[str, dict[str, str]] = {
    "fastest_growing_category": {
        "en": "{entity} grew fastest: revenue of the last {days} days is {change} vs the {days} days before "
        "({value} vs {reference}).",
        "zh": "{entity}增长最快：近{days}天销售额较前{days}天变化{change}（{value} 对比 {reference}）。",
    },
    "fastest_falling_category": {
        "en": "{entity} fell fastest: revenue of the last {days} days is {change} vs the {days} days before "
        "({value} vs {reference}).",
        "zh": "{entity}下降最快：近{days}天销售额较前{days}天变化{change}（{value} 对比 {reference}）。",
    },
    "forecast_vs_last_period": {
        "en": "Revenue of the next {days} days is forecast at {value}, {change} vs the last {days} days ({reference}).",
        "zh": "预计未来{days}天销售额为{value}，较过去{days}天（{reference}）变化{change}。",
    },
    "negative_share_jump": {
        "en": "Negative reviews of {entity} rose to {value} of {recent} reviews in the last {days} days "
        "from {reference} of {earlier} before (p = {p}).",
        "zh": "{entity}的差评占比在近{days}天的{recent}条评论中升至{value}，"
        "此前{earlier}条评论中为{reference}（p = {p}）。",
    },
    "high_sales_poor_sentiment": {
        "en": "{entity} sells well ({units} units in {days} days) but {value} of its {reviews} reviews are negative.",
        "zh": "{entity}销量高（{days}天{units}件），但{reviews}条评论中差评占{value}。",
    },
    "anomalous_day": {
        "en": "{entity} revenue on {day} was {value}, far from the usual {reference} for that weekday (z = {z}).",
        "zh": "{entity}在{day}的销售额为{value}，明显偏离该星期几通常的{reference}（z = {z}）。",
    },
    "model_rating_disagreement": {
        "en": "For {entity} the sentiment model agrees with star ratings on only {value} of {reviews} reviews.",
        "zh": "{entity}的{reviews}条评论中，情感模型与星级评分一致的仅占{value}。",
    },
    "customers_at_risk": {
        "en": "{count} regular customers are at risk of leaving ({share} of the regulars): they spent {value} in "
        "the last 90 days, are overdue and have under {p} chance of buying this week.",
        "zh": "{count}位老顾客有流失风险（占老顾客的{share}）：他们近90天消费{value}，已超过惯常的购买间隔，"
        "本周购买概率低于{p}。",
    },
    "top_cross_sell_pair": {
        "en": "{share} of the {buyers} customers who bought {entity} bought {second} within {days} days "
        "({lift}x the usual rate): a cross-sell pair.",
        "zh": "购买{entity}的{buyers}位顾客中有{share}在{days}天内购买了{second}（是平常的{lift}倍）：可交叉销售。",
    },
    "data_quality": {
        "en": "{value} of {entity} rows were rejected on {day}, up from {reference} on average "
        "over the {days} days before.",
        "zh": "{day}的{entity}数据有{value}被拒收，高于此前{days}天平均的{reference}。",
    },
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
CROSS_SELL_DAYS = 30  # pairs are counted over the customer events of the last 30 days


@dataclass(frozen=True)
class InsightSettings:
    language: str = "en"
    min_reviews: int = 10  # per window, before a sentiment finding is made
    significance: float = 0.05  # two-proportion z-test
    poor_sentiment_share: float = 0.35
    top_sales_share: float = 0.25  # "high sales": the top quarter of products by units
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


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def signed_percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def money(value: float) -> str:
    return f"{value:,.0f}"


def two_proportion_p(hits_a: int, total_a: int, hits_b: int, total_b: int) -> float:
    """One-sided p-value that share a exceeds share b: the pooled two-proportion z-test
    (statsmodels' `proportions_ztest`, alternative "larger"). 1.0 when the pooled share is 0 or 1:
    both shares are equal and there is no spread to test against (statsmodels would give nan)."""
    if hits_a + hits_b in (0, total_a + total_b):
        return 1.0
    from statsmodels.stats.proportion import proportions_ztest  # the code location loads this module

    _, p = proportions_ztest([hits_a, hits_b], [total_a, total_b], alternative="larger")
    return float(p)


def finding(
    kind: str,
    entity_type: str,
    entity: str,
    severity: str,
    score: float,
    value_number: float,
    reference_number: float | None,
    language: str,
    **shown: str,
) -> dict:
    """A row: the sentence is filled only from `shown`, whose values are also kept in `numbers`."""
    sentence = TEMPLATES[kind][language].format(entity=entity, **shown)
    return {
        "type": kind,
        "entity_type": entity_type,
        "entity": entity,
        "severity": severity,
        "score": float(score),
        "value": float(value_number),
        "reference": None if reference_number is None else float(reference_number),
        "numbers": list(shown.values()),
        "sentence": sentence,
    }


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
    rows = []
    for row in windows.iter_rows(named=True):
        recent, earlier = int(row["reviews_recent"]), int(row["reviews_earlier"])
        if recent < settings.min_reviews or earlier < settings.min_reviews:
            continue
        share_recent, share_earlier = row["negative_recent"] / recent, row["negative_earlier"] / earlier
        p = two_proportion_p(int(row["negative_recent"]), recent, int(row["negative_earlier"]), earlier)
        if share_recent > share_earlier and p < settings.significance:
            severity = "high" if p < 0.001 else "medium"
            rows.append(
                finding(
                    "negative_share_jump",
                    "product",
                    row["product_id"],
                    severity,
                    share_recent - share_earlier,
                    share_recent,
                    share_earlier,
                    language,
                    days="7",
                    value=percent(share_recent),
                    recent=str(recent),
                    reference=percent(share_earlier),
                    earlier=str(earlier),
                    p=f"{p:.3g}",
                )
            )
    month = windows.with_columns(
        (pl.col("reviews_recent") + pl.col("reviews_earlier")).alias("reviews"),
        (pl.col("negative_recent") + pl.col("negative_earlier")).alias("negative"),
        (pl.col("agree_recent") + pl.col("agree_earlier")).alias("agree"),
    ).filter(pl.col("reviews") >= settings.min_reviews)
    if not inputs.product_units.is_empty() and month.height:
        threshold = inputs.product_units.get_column("units").quantile(1 - settings.top_sales_share)
        popular = month.join(inputs.product_units, on="product_id").filter(pl.col("units") >= threshold)
        for row in popular.iter_rows(named=True):
            share = row["negative"] / row["reviews"]
            if share >= settings.poor_sentiment_share:
                rows.append(
                    finding(
                        "high_sales_poor_sentiment",
                        "product",
                        row["product_id"],
                        "high" if share >= 0.5 else "medium",
                        share,
                        share,
                        None,
                        language,
                        units=str(int(row["units"])),
                        days="28",
                        value=percent(share),
                        reviews=str(int(row["reviews"])),
                    )
                )
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


def build_insights(inputs: InsightInputs, settings: InsightSettings = InsightSettings()) -> pl.DataFrame:
    """All findings for the run date, ranked by severity then score."""
    if settings.language not in ("en", "zh"):
        raise ValueError(f"language must be 'en' or 'zh', got {settings.language!r}")
    language = settings.language
    rows = [
        *quality_findings(inputs, settings, language),
        *anomaly_findings(inputs, language),
        *category_growth(inputs, language),
        *forecast_vs_last(inputs, settings, language),
        *sentiment_findings(inputs, settings, language),
        *customer_findings(inputs, settings, language),
        *cross_sell_findings(inputs, settings, language),
    ]
    if not rows:
        return pl.DataFrame(schema=INSIGHTS_SCHEMA)
    frame = (
        pl.DataFrame(rows)
        .with_columns(pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8).alias("_order"))
        .sort(["_order", "score"], descending=[False, True])
    )
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
    settings: InsightSettings = InsightSettings(),
) -> tuple[pl.DataFrame, list[str]]:
    """The run date's findings and notes from its inputs: the `*_today` partitions (date -> frame,
    the day's possibly missing), the days of each `recent_*` window, and `quality_counts` rows."""
    notes: list[str] = []
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
    )
    if inputs.trends.is_empty():
        inputs.trends = pl.DataFrame(schema=TRENDS_SCHEMA)
    return build_insights(inputs, settings), inputs.notes
