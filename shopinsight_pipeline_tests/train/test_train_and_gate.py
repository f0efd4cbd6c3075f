"""One sentiment_model run without Dagster (ml/fit.py's fit_candidates, ml/training_run.py's
train_and_gate) on a registry folder and the tiny model: what is split, fitted, saved and promoted."""

import random
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.fit import InProcessTrainer, TokenizerInfo, TrainingDataError, fit_candidates
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.settings import SentimentTrainingSettings, TfidfSettings, TrainSettings
from shopinsight_pipeline.ml.shards import tokenize_reviews
from shopinsight_pipeline.ml.text import LabelScheme, assign_splits, normalize_text
from shopinsight_pipeline.ml.training_run import train_and_gate

GOOD = ["great", "excellent", "lovely", "perfect", "happy", "recommend"]
BAD = ["broken", "awful", "refund", "terrible", "waste", "disappointed"]
NEUTRAL = ["item", "parcel", "colour", "size", "box", "order"]
DISTINCT = 360  # distinct labelled texts, half of each class
DUPLICATES = 40  # rows repeating an earlier text with its label
THREE_STARS = 12  # rows with no label under polarity
SETTINGS = SentimentTrainingSettings(
    min_train_examples=50,
    train=TrainSettings(
        max_epochs=1, batch_size=16, eval_every_steps=10, checkpoint_every_steps=10, learning_rate=1e-3, cpu_max_steps=0
    ),
    tfidf=TfidfSettings(ngram_min=1, ngram_max=1, min_df=1),
    bootstrap_rounds=200,
)


def texts_and_ratings() -> tuple[list[str], list[int]]:
    """Distinct texts whose class shows only in their sentiment words, then duplicates and 3-star rows."""
    rng = random.Random(3)
    texts, ratings = [], []
    for number in range(DISTINCT):
        positive = number % 2 == 0
        words = rng.sample(GOOD if positive else BAD, 2) + rng.sample(NEUTRAL, 2) + [f"n{number}"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        ratings.append(5 if positive else 1)
    for number in range(DUPLICATES):
        texts.append(texts[number].upper())  # the same text once normalised
        ratings.append(ratings[number])
    texts += [f"parcel box n{number} okay" for number in range(THREE_STARS)]
    ratings += [3] * THREE_STARS
    return texts, ratings


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir) -> TokenizerInfo:
    return TokenizerInfo(tiny_model_dir, "tiny", "tinyhash", 64)


@pytest.fixture(scope="module")
def examples(tokenizer) -> pl.DataFrame:
    """What training_examples hands the step: shard rows joined with their review text."""
    texts, ratings = texts_and_ratings()
    reviews = pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(texts))],
            "product_id": ["P1"] * len(texts),
            "review_date": [date(2026, 8, 1)] * len(texts),
            "rating": pl.Series(ratings, dtype=pl.Int64),
            "review_text": texts,
        }
    )
    encode = TextTokenizer(model_io.load_tokenizer(tokenizer.directory), tokenizer.max_length)
    [shard], _ = tokenize_reviews(reviews, encode, LabelScheme(), tokenizer.name, tokenizer.hash, len(texts))
    return pl.DataFrame(shard).join(reviews.select("review_id", "review_text"), on="review_id")


def fit(examples, tokenizer, registry: ModelRegistry, checkpoints, **overrides):
    settings = SentimentTrainingSettings(**{**SETTINGS.__dict__, **overrides})
    return fit_candidates(
        examples,
        tokenizer,
        LabelScheme(),
        settings.train,
        settings.tfidf,
        settings.split,
        registry,
        checkpoints,
        settings.min_train_examples,
        log=lambda _: None,
        retrain_unchanged=settings.retrain_unchanged,
    )


def test_fit_candidates_splits_by_text_saves_three_versions_and_reuses_an_unchanged_job(examples, tokenizer, tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    result = fit(examples, tokenizer, registry, tmp_path / "checkpoints")

    assert result.dedup.unlabelled_rows == THREE_STARS
    assert result.dedup.duplicate_rows == DUPLICATES
    assert result.dedup.distinct_texts == DISTINCT
    assert sum(result.split_sizes.values()) == DISTINCT  # each distinct text in exactly one split
    window_texts = set(
        examples.filter(pl.col("label").is_not_null()).get_column("review_text").map_elements(normalize_text, pl.String)
    )
    held_out = {normalize_text(text) for text in result.test_texts}
    assert len(held_out) == result.split_sizes["test"] > 0
    assert held_out <= window_texts
    assert [c.kind for c in result.candidates] == ["tfidf_logreg", "transformer", "ensemble"]  # simplest first
    for candidate in result.candidates:
        assert candidate.path == registry.version_path(candidate.version) and candidate.path.is_dir()
        assert candidate.test_probabilities.shape == (result.split_sizes["test"], 2)
        assert candidate.test["examples"] == result.split_sizes["test"]
    assert result.baseline.test["macro_f1"] > 0.9  # the class words separate the classes
    assert result.reused is False
    versions = sorted(p.name for p in registry.versions_path.iterdir())

    again = fit(examples, tokenizer, registry, tmp_path / "checkpoints")
    assert again.reused is True
    assert sorted(p.name for p in registry.versions_path.iterdir()) == versions  # nothing new written
    assert [c.version for c in again.candidates] == [c.version for c in result.candidates]

    retrained = fit(examples, tokenizer, registry, tmp_path / "checkpoints", retrain_unchanged=True)
    assert retrained.reused is False
    assert len(list(registry.versions_path.iterdir())) == len(versions) + 3


def test_the_split_never_puts_one_text_in_two_splits(examples):
    splits, _ = assign_splits(examples, SETTINGS.split)
    keys = {name: set(frame.get_column("text_key")) for name, frame in splits.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert not keys["validation"] & keys["test"]


def test_too_small_a_window_fails_naming_the_setting(examples, tokenizer, tmp_path):
    with pytest.raises(TrainingDataError, match="fewer than min_train_examples=100000"):
        fit(
            examples,
            tokenizer,
            ModelRegistry(tmp_path / "registry"),
            tmp_path / "checkpoints",
            min_train_examples=100_000,
        )


def test_train_and_gate_promotes_on_a_fresh_registry_then_meets_the_champion(examples, tokenizer, tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    first = train_and_gate(
        examples, tokenizer, LabelScheme(), SETTINGS, registry, tmp_path / "checkpoints", InProcessTrainer(), log=print
    )
    assert first.previous is None and first.previous_report is None
    assert first.decision.promoted == first.serving["version"] == registry.require_champion()["version"]
    assert first.serving["version"] in {c.version for c in first.result.candidates}
    assert "no champion yet: promoted" in first.decision.reason

    challenger_settings = SentimentTrainingSettings(**{**SETTINGS.__dict__, "retrain_unchanged": True})
    second = train_and_gate(
        examples, tokenizer, LabelScheme(), challenger_settings, registry, tmp_path / "checkpoints", InProcessTrainer()
    )
    assert second.previous["version"] == first.serving["version"]
    assert second.previous_report is not None  # the champion was re-scored on the same test texts
    assert second.previous_report["examples"] == second.result.split_sizes["test"]
    assert second.decision.evidence["champion"] == first.serving["version"]
    assert second.serving == registry.require_champion()
