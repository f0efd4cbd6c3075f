"""product_sentiment: per product and day, what reviewers said and what the model read, and what
an operator should know that the numbers hide (pure polars: tested without the orchestrator)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from shopinsight_pipeline.schemas import conform, probability_column, product_sentiment_schema


@dataclass(frozen=True)
class SentimentDay:
    """One day's product_sentiment table and the numbers its materialization reports."""

    table: pl.DataFrame
    reviews: int
    mean_agreement: float
    note: str


def summarize_product_sentiment(scores: pl.DataFrame, labels: Sequence[str]) -> pl.DataFrame:
    """Reviews, average rating, share of each class by model, mean model probability of each class,
    and agreement (share of reviews whose predicted class equals the rating's class)."""
    shares = [(pl.col("predicted_label") == label).mean().alias(f"share_{label}") for label in labels]
    mean_probabilities = [
        pl.col(probability_column(label)).mean().cast(pl.Float64).alias(f"mean_prob_{label}") for label in labels
    ]
    summary = (
        scores.group_by(pl.col("review_date").alias("date"), "product_id")
        .agg(
            pl.len().cast(pl.UInt32).alias("reviews"),
            pl.col("rating").cast(pl.Float64).mean().alias("avg_rating"),
            *shares,
            *mean_probabilities,
            (pl.col("predicted_label") == pl.col("rating_label")).mean().alias("model_rating_agreement"),
            pl.col("model_version").first().alias("model_version"),
        )
        .sort("date", "product_id")
    )
    return conform(summary, product_sentiment_schema(labels))


def sentiment_notes(scores: pl.DataFrame, day: date) -> str:
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


def summarize_sentiment_day(scores: pl.DataFrame, labels: Sequence[str], day: date) -> SentimentDay:
    """The run date's product_sentiment from its review scores, with reviews, mean agreement and a note."""
    table = summarize_product_sentiment(scores, labels)
    return SentimentDay(
        table=table,
        reviews=int(table.get_column("reviews").sum()) if table.height else 0,
        mean_agreement=float(table.get_column("model_rating_agreement").mean() or 0.0)  # type: ignore[arg-type]
        if table.height
        else 0.0,
        note=sentiment_notes(scores, day),
    )
