"""`review_scores`: every validated review scored by the serving scorer (champion pointer).

torch, transformers and scikit-learn are imported by the step that scores, not when the code
location loads (the webserver, the daemon and every run load it).
"""

from datetime import date
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, AssetIn, Config, Failure, Output, asset
from pydantic import Field

from shopinsight_pipeline.partitions import DAILY_ASSET, each_day
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.score.serving import serving_version
from shopinsight_pipeline.storage import LakeStorage


class ScoringConfig(Config):
    batch_size: int = Field(default=64, description="Reviews per forward pass (sorted by length, padded per batch).")
    device: str = Field(default="", description="torch device; empty: cuda when available, else cpu.")


@asset(
    # sentiment_model's value is the champion pointer, read through the registry
    deps=["sentiment_model"],
    ins={"validated_reviews": AssetIn()},
    **DAILY_ASSET,
    group_name="score",
    kinds={"pytorch", "parquet"},
    description="Predicted sentiment and class probabilities of each validated review, "
    "with the kind and version of the scorer that produced them.",
)
def review_scores(
    context: AssetExecutionContext,
    config: ScoringConfig,
    storage: LakeStorage,
    sentiment_labels: SentimentLabels,
    validated_reviews: dict[str, pl.DataFrame],
) -> Output:
    try:
        champion = serving_version(storage)
    except FileNotFoundError as error:
        raise Failure(str(error)) from error
    from shopinsight_pipeline.ml.scorers import load_scorer
    from shopinsight_pipeline.ml.scoring import score_reviews

    scorer = load_scorer(Path(champion["path"]), config.batch_size, config.device or None)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        scores = score_reviews(
            validated_reviews[day.isoformat()], scorer, champion["served_version"], sentiment_labels.scheme()
        )
        counts = scores.get_column("predicted_label").value_counts().sort("predicted_label")
        return scores, {
            "model_version": champion["served_version"],
            "scorer_kind": champion["kind"],
            "truncated_reviews": scorer.truncated,
            "predicted": {row["predicted_label"]: int(row["count"]) for row in counts.iter_rows(named=True)},
        }

    return each_day(context, compute)
