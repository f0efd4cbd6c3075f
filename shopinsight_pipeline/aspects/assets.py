"""`aspect_tagger`: the learned aspect tagger fitted and gated against the lexicon; `review_aspects`:
every validated review's aspects, each with the polarity of the clause that names it, judged by the
serving sentiment scorer; `aspect_sentiment`: per product and aspect, the mentions and negative
mentions of the day, the week and the month. Wiring only: the work is aspects/learned.py, gate.py,
tagging.py and summary.py."""

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline.aspects.learned import TaggerGateSettings
from shopinsight_pipeline.aspects.serving import serving_tagger
from shopinsight_pipeline.aspects.settings import TransformerTaggerSettings
from shopinsight_pipeline.aspects.summary import HISTORY_DAYS, product_categories, summarize_aspect_sentiment
from shopinsight_pipeline.aspects.tagging import PolaritySettings
from shopinsight_pipeline.files import swap_folder
from shopinsight_pipeline.gold_checks import audited_days, gold_check_specs
from shopinsight_pipeline.markdown import frame_table, table
from shopinsight_pipeline.partitions import ALLOW_MISSING, DAILY_ASSET, each_day, window, window_of
from shopinsight_pipeline.score.serving import serving_version
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import ORDER_LOOKBACK_DAYS

POLARITY = PolaritySettings()
TAGGER_GATE = TaggerGateSettings()
HEAD = TransformerTaggerSettings()


class AspectTaggerConfig(Config):
    window_days: int = Field(default=61, description="Fit on the clauses of the latest N written days of reviews.")
    taxonomy_file: str = Field(default="", description="The taxonomy YAML; empty: the shipped one.")
    thresholds: list[float] = Field(
        default=list(TAGGER_GATE.thresholds),
        description="The learned tagger's probability thresholds to try on the hand-labelled dev half.",
    )
    bootstrap_rounds: int = TAGGER_GATE.rounds
    head_steps: int = Field(
        default=HEAD.max_steps,
        ge=0,
        description="Training steps of the transformer aspect head (a multi-label head on the fine-tuned sentiment "
        "transformer); 0 leaves that candidate out.",
    )
    head_max_clauses: int = Field(
        default=HEAD.max_clauses, ge=1, description="The head trains on a seeded sample of at most this many clauses."
    )
    device: str = Field(default="", description="torch device of the head; empty: cuda when available, else cpu.")


def _per_aspect(choice) -> str:
    """Per aspect on the test half: labelled mentions, and each candidate's precision / recall / F1."""

    def cell(numbers: dict) -> str:
        shown = [numbers[key] for key in ("precision", "recall", "f1")]
        return " / ".join("-" if value is None else f"{value:.2f}" for value in shown)

    names = list(choice.test)
    aspects = next(iter(choice.test.values()))["per_aspect"]
    rows = [
        (aspect, aspects[aspect]["support"], *(cell(choice.test[name]["per_aspect"][aspect]) for name in names))
        for aspect in aspects
    ]
    return table(["aspect", "labelled", *(f"{name} P / R / F1" for name in names)], rows)


def _candidates(choice) -> str:
    """Each candidate's detection on the test half: macro-F1 with its interval, micro precision and recall."""
    rows = [
        (
            name,
            f"{report['macro_f1']:.4f}",
            "{:.4f}-{:.4f}".format(*report["macro_f1_ci95"]),
            f"{report['micro_precision'] or 0:.3f}",
            f"{report['micro_recall'] or 0:.3f}",
            report["reviews"],
        )
        for name, report in choice.test.items()
    ]
    return table(["candidate", "macro-F1", "95% interval", "micro precision", "micro recall", "reviews"], rows)


def _model_card(choice, settings: dict) -> str:
    return (
        "# Aspect tagger\n\n"
        f"Serving: **{choice.serving}**. {choice.reason}.\n\n"
        "Detection on the hand-labelled test half (aspects/labelled_reviews.jsonl, docs/ASPECT_LABELLING.md):\n\n"
        + _candidates(choice)
        + "\n\nPer aspect (thin aspects mean little: see the labelled counts):\n\n"
        + _per_aspect(choice)
        + f"\n\nThreshold chosen on the dev half: {choice.threshold}. Settings: {json.dumps(settings)}\n"
    )


@asset(
    ins={"validated_reviews": AssetIn(metadata=ALLOW_MISSING)},  # every written day; window_days picks
    deps=["sentiment_model"],  # the transformer head starts from the fine-tuned sentiment transformer
    group_name="aspects",
    kinds={"scikitlearn", "pytorch"},
    description="Fits the learned aspect taggers (TF-IDF one-vs-rest, and a multi-label head on the fine-tuned "
    "sentiment transformer) on the lexicon's labels of the reviews' clauses (seed words masked); the one best on "
    "the hand-labelled dev half serves only when it finds aspects better than the lexicon beyond the noise on "
    "the test half. Its value is the choice review_aspects reads.",
)
def aspect_tagger(
    context: AssetExecutionContext,
    config: AspectTaggerConfig,
    storage: LakeStorage,
    validated_reviews: dict[str, pl.LazyFrame],
) -> Output[dict]:
    from dataclasses import asdict

    from shopinsight_pipeline.aspects.clauses import split_clauses
    from shopinsight_pipeline.aspects.evaluation import load_labelled
    from shopinsight_pipeline.aspects.gate import choose_tagger
    from shopinsight_pipeline.aspects.learned import LearnedTagger
    from shopinsight_pipeline.aspects.lexicon import LexiconTagger
    from shopinsight_pipeline.aspects.taxonomy import TaxonomyError, load_taxonomy
    from shopinsight_pipeline.aspects.transformer import TransformerTagger, fine_tuned_transformer

    try:
        taxonomy = load_taxonomy(config.taxonomy_file or None)
    except TaxonomyError as error:
        raise Failure(str(error)) from error
    days = sorted(validated_reviews)[-config.window_days :]
    if not days:
        raise Failure("validated_reviews has no written day: materialize some days first")
    labelled = load_labelled()
    held_out = {row.text for row in labelled}  # never trained on, not even with the lexicon's labels
    texts = pl.concat([validated_reviews[day].select("review_text") for day in days]).collect()
    distinct = [text for text in texts.get_column("review_text").unique().to_list() if text and text not in held_out]
    clauses = [clause for text in distinct for clause in split_clauses(text)]
    learned = LearnedTagger.fit(clauses, LexiconTagger(taxonomy))
    candidates: list = [learned]
    left_out = "no"
    if config.head_steps:
        source = fine_tuned_transformer(storage.sentiment_registry_path)
        if source is None:
            left_out = "transformer_head: the sentiment registry holds no fine-tuned transformer"
        else:
            head = TransformerTaggerSettings(max_steps=config.head_steps, max_clauses=config.head_max_clauses)
            candidates.append(
                TransformerTagger.fit(
                    clauses, LexiconTagger(taxonomy), source, head, config.device or None, context.log.info
                )
            )
    else:
        left_out = "transformer_head: head_steps is 0"
    gate = TaggerGateSettings(tuple(config.thresholds), TAGGER_GATE.confidence, config.bootstrap_rounds)
    choice = choose_tagger(candidates, labelled, gate)
    context.log.info(choice.reason)
    challenger = next(candidate for candidate in candidates if candidate.kind == choice.challenger)
    serving = challenger.at_threshold(choice.threshold)
    folder = storage.models_path / "aspects" / challenger.kind

    def fill(target) -> None:
        serving.save(target)
        (target / "MODEL_CARD.md").write_text(_model_card(choice, asdict(serving.settings)), encoding="utf-8")

    swap_folder(folder, fill)
    pointer = {
        "serving": choice.serving,
        "path": str(folder),
        "threshold": choice.threshold,
        "taxonomy_version": taxonomy.version,
        "reason": choice.reason,
        "test_macro_f1": {name: report["macro_f1"] for name, report in choice.test.items()},
        "paired": choice.paired,
    }
    return Output(
        pointer,
        metadata={
            "serving": choice.serving,
            "reason": choice.reason,
            "training_clauses": len(set(clauses)),
            "learned_aspects": ", ".join(challenger.aspects) or "none",
            "candidates_left_out": left_out,
            "dev_half_candidates": MetadataValue.md(
                table(
                    ["candidate", "threshold", "dev macro-F1"],
                    [(kind, best["threshold"], f"{best['macro_f1']:.4f}") for kind, best in choice.dev_best.items()],
                )
            ),
            "test_half": MetadataValue.md(_candidates(choice)),
            "test_half_per_aspect": MetadataValue.md(_per_aspect(choice)),
            "dev_half_thresholds": MetadataValue.md(
                table(["threshold", "macro-F1"], [(t, f"{f1:.4f}") for t, f1 in choice.dev_macro_f1.items()])
            ),
        },
    )


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
    # their values are pointers: sentiment_model's champion (read through the registry) and the aspect
    # tagger's choice (read by serving_tagger; the lexicon serves until aspect_tagger has run)
    deps=["sentiment_model", "aspect_tagger"],
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
    tagger = serving_tagger(storage, taxonomy, config.device or None)
    scorer = load_scorer(Path(champion["path"]), config.batch_size, config.device or None)
    settings = PolaritySettings(config.neutral_below, config.mask_aspect_words)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        reviews = validated_reviews[day.isoformat()]
        tagged = tag_reviews(reviews, tagger, scorer, champion["served_version"], settings, lexicon)
        by_polarity = "none"
        if tagged.height:
            mentions = tagged.pivot(on="polarity", index="aspect", values="review_id", aggregate_function="len")
            by_polarity = frame_table(mentions.fill_null(0).sort("aspect"))
        return tagged, {
            "reviews": reviews.height,
            "reviews_with_an_aspect": tagged.get_column("review_id").n_unique(),
            "mentions_by_polarity": MetadataValue.md(by_polarity),
            "tagger": f"{tagger.kind} {tagger.version} ({taxonomy.source})",
            "model_version": champion["served_version"],
        }

    return each_day(context, compute)


# The orders that name the products reviewed in the window: a review names an order of its day or the
# ORDER_LOOKBACK_DAYS before, so the products of HISTORY_DAYS of reviews were ordered within both.
CATEGORY_DAYS = HISTORY_DAYS + ORDER_LOOKBACK_DAYS


@asset(
    check_specs=gold_check_specs("aspect_sentiment"),
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
    storage: LakeStorage,
) -> Iterator[Output | AssetCheckResult]:
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

    yield from audited_days(context, storage, "aspect_sentiment", compute)
