"""Score a day of validated reviews with the serving scorer."""

import numpy as np
import polars as pl

from shopinsight_pipeline.ml.scorers import Scorer
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.schemas import conform, probability_column, review_scores_schema


def score_reviews(reviews: pl.DataFrame, scorer: Scorer, model_version: str, scheme: LabelScheme) -> pl.DataFrame:
    """One row per review: predicted label, each class probability, the rating's label, and which
    scorer (kind and version) produced it."""
    if list(scorer.labels) != list(scheme.labels):
        raise ValueError(
            f"the serving scorer predicts {list(scorer.labels)} but the label scheme is {list(scheme.labels)}"
        )
    texts = reviews.get_column("review_text").to_list()
    probabilities = scorer.predict_proba(texts) if texts else np.zeros((0, len(scheme.labels)))
    predicted = probabilities.argmax(axis=1) if len(texts) else np.zeros(0, dtype=np.int64)
    labels = np.asarray(scheme.labels)
    # Null where the rating names no class (3 stars under polarity): scored, but with no label to agree with.
    rating_labels = scheme.label_ids(reviews.get_column("rating")).replace_strict(
        dict(enumerate(scheme.labels)), return_dtype=pl.String
    )
    scores = pl.DataFrame(
        {
            "review_id": reviews.get_column("review_id"),
            "product_id": reviews.get_column("product_id"),
            "review_date": reviews.get_column("review_date"),
            "rating": reviews.get_column("rating"),
            "rating_label": rating_labels.alias("rating_label"),
            "predicted_label": pl.Series(labels[predicted].tolist() if len(texts) else [], dtype=pl.String),
            **{
                probability_column(label): pl.Series(probabilities[:, index], dtype=pl.Float32)
                for index, label in enumerate(scheme.labels)
            },
            "confidence": pl.Series(probabilities.max(axis=1) if len(texts) else [], dtype=pl.Float32),
            "scorer_kind": pl.Series([scorer.kind] * len(texts), dtype=pl.String),
            "model_version": pl.Series([model_version] * len(texts), dtype=pl.String),
        }
    )
    return conform(scores, review_scores_schema(scheme.labels))
