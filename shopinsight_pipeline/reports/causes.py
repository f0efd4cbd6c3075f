"""Insights that name the cause of bad reviews, judged against what is normal, from review_aspects.

- aspect_negative_surge: for a product, and for a category, the share of its reviews that criticise
  an aspect in the last 7 days against the 28 days before: reported when the recent share is higher
  with p < significance (one-sided two-proportion z-test) and there are at least
  `min_aspect_mentions` recent negative mentions and `min_reviews` reviews in each window. The
  sentence quotes two recent complaints (the clauses the scorer was surest about).
- top_complaint: a product whose negative share over 28 days is significantly above the other
  products of its category (the same test), with the aspect that carries most of its negative
  mentions. It replaces a fixed threshold ("35% negative is poor"), which on a shop where a whole
  category is judged harshly flags every product of it and says nothing of why.

Shares are of reviews, not of mentions, so a week with more reviews is not a surge by itself. A run
date tests every (product or category, aspect) with enough evidence, dozens to thousands of tests:
at p < 0.05 each, noise alone would report a handful of surges every day (the sample showed about
ten on a quiet day). So the p-values of a run date's tests are adjusted together (Benjamini-Hochberg,
statsmodels' `multipletests`, false discovery rate `significance`), and the sentences show the
adjusted p. top_complaint's tests over products are adjusted the same way.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.reports.findings import adjusted, finding, percent, two_proportion_p

RECENT_DAYS, EARLIER_DAYS, MONTH_DAYS = 7, 28, 28


@dataclass(frozen=True)
class CauseSettings:
    min_reviews: int = 10  # reviews per window (and of the category's other products)
    min_aspect_mentions: int = 5  # recent negative mentions before a surge is reported
    significance: float = 0.05
    top_sales_share: float = 0.25  # a top complaint about a product in the top quarter by units is high severity


def _between(frame: pl.DataFrame, column: str, first: date, last: date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(first, last))


def _aspect_name(aspect: str, labels: dict[str, str], language: str) -> str:
    """How a sentence names an aspect: its Chinese label in Chinese, its key in words in English."""
    return labels.get(aspect, aspect) if language == "zh" else aspect.replace("_", " ")


def _examples(negative: pl.DataFrame, count: int) -> list[str]:
    """The `count` most confident distinct negative clauses (shortened for a sentence)."""
    spans = negative.sort("probability", descending=True).get_column("span").unique(maintain_order=True)
    return [span if len(span) <= 40 else span[:39] + "…" for span in spans.head(count).to_list()]


def aspect_surges(
    mentions: pl.DataFrame,
    reviews: pl.DataFrame,
    categories: pl.DataFrame,
    run_date: date,
    labels: dict[str, str],
    settings: CauseSettings,
    language: str,
) -> list[dict]:
    """mentions: review_aspects rows of the 35 days up to run_date; reviews: product_sentiment rows
    (date, product_id, reviews) of those days; categories: product_id -> category."""
    recent_start = run_date - timedelta(days=RECENT_DAYS - 1)
    earlier_start = recent_start - timedelta(days=EARLIER_DAYS)
    negative = mentions.filter(pl.col("polarity") == "negative").join(categories, on="product_id", how="left")
    reviews = reviews.join(categories, on="product_id", how="left")
    tests: list[tuple[float, str, str, str, int, int, int, int]] = []  # p, level, entity, aspect, counts
    recent = _between(negative, "review_date", recent_start, run_date)
    earlier = _between(negative, "review_date", earlier_start, recent_start - timedelta(days=1))
    for level in ("product_id", "category"):
        recent_reviews = _between(reviews, "date", recent_start, run_date).group_by(level).agg(pl.col("reviews").sum())
        earlier_reviews = (
            _between(reviews, "date", earlier_start, recent_start - timedelta(days=1))
            .group_by(level)
            .agg(pl.col("reviews").sum())
        )
        totals = {key: (count, 0) for key, count in recent_reviews.iter_rows()}
        for key, count in earlier_reviews.iter_rows():
            totals[key] = (totals.get(key, (0, 0))[0], count)
        earlier_counts = {(key, aspect): n for key, aspect, n in earlier.group_by(level, "aspect").len().iter_rows()}
        for key, aspect, hits in recent.group_by(level, "aspect").len().sort(level, "aspect").iter_rows():
            if key is None:
                continue
            recent_total, earlier_total = totals.get(key, (0, 0))
            before = earlier_counts.get((key, aspect), 0)
            if hits < settings.min_aspect_mentions or min(recent_total, earlier_total) < settings.min_reviews:
                continue
            rising = hits / recent_total > before / earlier_total
            p = two_proportion_p(hits, recent_total, before, earlier_total) if rising else 1.0
            tests.append((p, level, key, aspect, hits, recent_total, before, earlier_total))
    rows = []
    for q, (_, level, key, aspect, hits, recent_total, before, earlier_total) in zip(
        adjusted([test[0] for test in tests]), tests, strict=True
    ):
        if q >= settings.significance:
            continue
        share, share_before = hits / recent_total, before / earlier_total
        # quotes only for what is reported: a filter per test would cost tests x mentions
        quotes = _examples(recent.filter((pl.col(level) == key) & (pl.col("aspect") == aspect)), 2)
        quotes += ["…"] * (2 - len(quotes))
        rows.append(
            finding(
                "aspect_negative_surge",
                "product" if level == "product_id" else "category",
                key,
                "high" if q < 0.001 else "medium",
                share - share_before,
                share,
                share_before,
                language,
                aspect=_aspect_name(aspect, labels, language),
                days=str(RECENT_DAYS),
                value=percent(share),
                recent=str(recent_total),
                reference=percent(share_before),
                earlier=str(earlier_total),
                p=f"{q:.3g}",
                example=quotes[0],
                second_example=quotes[1],
            )
        )
    return rows


def top_complaints(
    mentions: pl.DataFrame,
    sentiment: pl.DataFrame,
    categories: pl.DataFrame,
    product_units: pl.DataFrame,
    run_date: date,
    labels: dict[str, str],
    settings: CauseSettings,
    language: str,
) -> list[dict]:
    """sentiment: product_sentiment rows (date, product_id, reviews, share_negative) of the last days."""
    start = run_date - timedelta(days=MONTH_DAYS - 1)
    month = (
        _between(sentiment, "date", start, run_date)
        .with_columns((pl.col("share_negative") * pl.col("reviews")).round(0).alias("negative"))
        .group_by("product_id")
        .agg(pl.col("reviews").sum(), pl.col("negative").sum())
        .join(categories, on="product_id", how="inner")
    )
    by_category = month.group_by("category").agg(
        pl.col("reviews").sum().alias("category_reviews"), pl.col("negative").sum().alias("category_negative")
    )
    negative = _between(mentions, "review_date", start, run_date).filter(pl.col("polarity") == "negative")
    top_sellers: set[str] = set()
    if not product_units.is_empty():
        threshold = product_units.get_column("units").quantile(1 - settings.top_sales_share)
        top_sellers = set(product_units.filter(pl.col("units") >= threshold).get_column("product_id"))
    tests: list[tuple[float, dict]] = []
    for row in month.join(by_category, on="category").sort("product_id").iter_rows(named=True):
        reviews, bad = int(row["reviews"]), int(row["negative"])
        other_reviews, other_bad = row["category_reviews"] - reviews, row["category_negative"] - bad
        if reviews < settings.min_reviews or other_reviews < settings.min_reviews:
            continue
        share, baseline = bad / reviews, other_bad / other_reviews
        p = two_proportion_p(bad, reviews, int(other_bad), int(other_reviews)) if share > baseline else 1.0
        tests.append((p, {"row": row, "share": share, "baseline": baseline, "reviews": reviews}))
    rows = []
    for q, (_, test) in zip(adjusted([p for p, _ in tests]), tests, strict=True):
        if q >= settings.significance:
            continue
        row, share, baseline, reviews = test["row"], test["share"], test["baseline"], test["reviews"]
        complaints = negative.filter(pl.col("product_id") == row["product_id"])
        shown = {
            "days": str(MONTH_DAYS),
            "value": percent(share),
            "reviews": str(reviews),
            "reference": percent(baseline),
            "category": row["category"],
            "p": f"{q:.3g}",
        }
        template = "top_complaint_unexplained"
        if complaints.height:
            [aspect, count] = (
                complaints.group_by("aspect").len().sort(["len", "aspect"], descending=[True, False]).row(0)
            )
            template = "top_complaint"
            shown |= {
                "aspect": _aspect_name(aspect, labels, language),
                "aspect_share": percent(count / complaints.height),
                "example": _examples(complaints.filter(pl.col("aspect") == aspect), 1)[0],
            }
        rows.append(
            finding(
                "top_complaint",
                "product",
                row["product_id"],
                "high" if row["product_id"] in top_sellers else "medium",
                share - baseline,
                share,
                baseline,
                language,
                template=template,
                **shown,
            )
        )
    return rows
