"""product_sentiment: per product and day, what reviewers said and what the model read."""

from collections.abc import Sequence

import polars as pl

from shopinsight_pipeline.schemas import conform, probability_column, product_sentiment_schema


def product_sentiment(scores: pl.DataFrame, labels: Sequence[str]) -> pl.DataFrame:
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
