"""score_reviews (ml/scoring.py) without Dagster, with a stand-in scorer whose probabilities are
known: the predicted label is the most probable class, 3-star reviews are scored without a rating
label, and every row names the scorer that produced it."""

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.ml.scoring import score_reviews
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.schemas import review_scores_schema

# P(negative) per text; P(positive) is the rest.
NEGATIVE_PROBABILITY = {"差评": 0.9, "好评": 0.2, "一般": 0.55}


class StubScorer:
    kind = "stub"
    labels = ("negative", "positive")
    truncated = 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        negative = np.array([NEGATIVE_PROBABILITY[text] for text in texts])
        return np.stack([negative, 1 - negative], axis=1)


def reviews(texts: list[str], ratings: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(texts))],
            "product_id": ["P1"] * len(texts),
            "review_date": [date(2026, 8, 1)] * len(texts),
            "rating": pl.Series(ratings, dtype=pl.Int8),
            "review_text": pl.Series(texts, dtype=pl.String),
        }
    )


def test_each_review_gets_the_most_probable_label_its_probabilities_and_the_scorer():
    scores = score_reviews(reviews(["差评", "好评", "一般"], [1, 5, 3]), StubScorer(), "v7", LabelScheme())
    assert scores.get_column("review_id").to_list() == ["R0", "R1", "R2"]
    assert scores.get_column("predicted_label").to_list() == ["negative", "positive", "negative"]
    assert scores.get_column("prob_negative").to_list() == pytest.approx([0.9, 0.2, 0.55])
    assert scores.get_column("prob_positive").to_list() == pytest.approx([0.1, 0.8, 0.45])
    assert scores.get_column("confidence").to_list() == pytest.approx([0.9, 0.8, 0.55])
    assert scores.get_column("rating_label").to_list() == ["negative", "positive", None]  # 3 stars: no label
    assert set(scores.get_column("scorer_kind")) == {"stub"}
    assert set(scores.get_column("model_version")) == {"v7"}
    assert dict(scores.schema) == review_scores_schema(LabelScheme().labels)


def test_a_day_without_reviews_gives_an_empty_table_of_the_same_schema():
    scores = score_reviews(reviews([], []), StubScorer(), "v7", LabelScheme())
    assert scores.is_empty()
    assert dict(scores.schema) == review_scores_schema(LabelScheme().labels)


def test_a_scorer_of_other_classes_than_the_label_scheme_is_refused():
    three_classes = LabelScheme(
        labels=("negative", "neutral", "positive"),
        rating_to_label={1: "negative", 2: "negative", 3: "neutral", 4: "positive", 5: "positive"},
    )
    with pytest.raises(ValueError, match="predicts \\['negative', 'positive'\\] but the label scheme is"):
        score_reviews(reviews(["好评"], [5]), StubScorer(), "v7", three_classes)
