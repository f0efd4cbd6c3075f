"""`review_aspects`: every validated review's aspects, each with the polarity of the clause that
names it, judged by the serving sentiment scorer; `aspect_sentiment`: per product and aspect, the
mentions and negative mentions of the day, the week and the month. Wiring only: the work is
aspects/tagging.py and aspects/summary.py."""

from datetime import date
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, AssetIn, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline.aspects.summary import HISTORY_DAYS, product_categories, summarize_aspect_sentiment
from shopinsight_pipeline.aspects.tagging import PolaritySettings
from shopinsight_pipeline.markdown import frame_table
from shopinsight_pipeline.partitions import DAILY_ASSET, each_day, window, window_of
from shopinsight_pipeline.score.serving import serving_version
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import ORDER_LOOKBACK_DAYS

POLARITY = PolaritySettings()


class AspectConfig(Config):
    taxonomy_file: str = Field(
        default="", description="The shop's taxonomy YAML (aspects/taxonomy.yaml's format); empty: the shipped one."
    )
    neutral_below: float = Field(
        default=POLARITY.neutral_below,
        description="A two-class scorer's clause less sure than this is neutral (0.5: never; chosen on the "
        "hand-labelled dev half).",
    )
    mask_aspect_words: bool = Field(
        default=POLARITY.mask_aspect_words, description="Score the clause without the aspect's seed words."
    )
    batch_size: int = Field(default=64, description="Clauses per forward pass of a transformer scorer.")
    device: str = Field(default="", description="torch device; empty: cuda when available, else cpu.")


@asset(
    deps=["sentiment_model"],  # its value is the champion pointer, read through the registry
    ins={"validated_reviews": AssetIn()},
    **DAILY_ASSET,
    group_name="aspects",
    kinds={"polars", "parquet"},
    description="One row per review and aspect it mentions (logistics, packaging, price, ...): the clause that "
    "mentions it, that clause's polarity by the serving sentiment scorer, the tagger and the model.",
)
def review_aspects(
    context: AssetExecutionContext,
    config: AspectConfig,
    storage: LakeStorage,
    validated_reviews: dict[str, pl.DataFrame],
) -> Output:
    from shopinsight_pipeline.aspects.lexicon import LexiconTagger
    from shopinsight_pipeline.aspects.tagging import tag_reviews
    from shopinsight_pipeline.aspects.taxonomy import TaxonomyError, load_taxonomy
    from shopinsight_pipeline.ml.scorers import load_scorer

    try:
        taxonomy = load_taxonomy(config.taxonomy_file or None)
        champion = serving_version(storage)
    except (TaxonomyError, FileNotFoundError) as error:
        raise Failure(str(error)) from error
    lexicon = LexiconTagger(taxonomy)
    scorer = load_scorer(Path(champion["path"]), config.batch_size, config.device or None)
    settings = PolaritySettings(config.neutral_below, config.mask_aspect_words)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        reviews = validated_reviews[day.isoformat()]
        tagged = tag_reviews(reviews, lexicon, scorer, champion["version"], settings, lexicon)
        by_polarity = "none"
        if tagged.height:
            mentions = tagged.pivot(on="polarity", index="aspect", values="review_id", aggregate_function="len")
            by_polarity = frame_table(mentions.fill_null(0).sort("aspect"))
        return tagged, {
            "reviews": reviews.height,
            "reviews_with_an_aspect": tagged.get_column("review_id").n_unique(),
            "mentions_by_polarity": MetadataValue.md(by_polarity),
            "tagger": f"{lexicon.kind} {lexicon.version} ({taxonomy.source})",
            "model_version": champion["version"],
        }

    return each_day(context, compute)


# The orders that name the products reviewed in the window: a review names an order of its day or the
# ORDER_LOOKBACK_DAYS before, so the products of HISTORY_DAYS of reviews were ordered within both.
CATEGORY_DAYS = HISTORY_DAYS + ORDER_LOOKBACK_DAYS


@asset(
    ins={
        "review_aspects": window("review_aspects", HISTORY_DAYS),
        "validated_orders": window("validated_orders", CATEGORY_DAYS),
    },
    **DAILY_ASSET,
    group_name="aspects",
    kinds={"polars", "parquet"},
    description="Per date, category, product and aspect mentioned in the last 28 days: mentions, negative "
    "mentions and negative share of the day, the last 7 and the last 28 days.",
)
def aspect_sentiment(
    context: AssetExecutionContext,
    review_aspects: dict[str, pl.DataFrame],
    validated_orders: dict[str, pl.LazyFrame],
) -> Output:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        categories = product_categories(window_of(validated_orders, day, CATEGORY_DAYS))
        table = summarize_aspect_sentiment(window_of(review_aspects, day, HISTORY_DAYS), categories, day)
        week = table.group_by("aspect").agg(pl.col("mentions_7d").sum(), pl.col("negative_mentions_7d").sum())
        return table, {
            "products": table.get_column("product_id").n_unique(),
            "mentions_today": int(table.get_column("mentions").sum() or 0),
            "last_7_days_by_aspect": MetadataValue.md(
                frame_table(week.sort("negative_mentions_7d", descending=True)) if table.height else "none"
            ),
        }

    return each_day(context, compute)
