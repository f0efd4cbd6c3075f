"""review_aspects of a day: each review cut into clauses, each clause tagged with the aspects it
names, and each tagged clause's polarity judged by the serving sentiment scorer.

Only clauses that name an aspect are scored, each distinct clause text once, in one batch. A review
that names an aspect in several clauses gets one row for it: the clause the scorer is surest about
(the strongest opinion), the first on a tie. With a two-class scorer, a clause whose most likely
class has a probability below `neutral_below` is neutral: "包装一般" should not count as a complaint.

What the scorer reads is the clause without its leading contrast word and, with `mask_aspect_words`,
without the aspect's seed words: a scorer trained on whole reviews learns the words of specific
topics (颜色, 尺码) as negative, because complaints name specifics and praise is general, and would
call "颜色好看" a complaint. Both are chosen on the hand-labelled dev half (RESULTS.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from shopinsight_pipeline.aspects.clauses import split_clauses, strip_contrast
from shopinsight_pipeline.schemas import REVIEW_ASPECTS_SCHEMA, conform

NEUTRAL = "neutral"


class Tagger(Protocol):
    kind: str
    version: str

    def tag(self, clauses: Sequence[str]) -> list[list[str]]: ...


class PolarityScorer(Protocol):
    labels: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class PolaritySettings:
    # two-class scorers: a clause less sure than this is neutral. 0.5 (never, but at even odds) was best on
    # the dev half: polarity accuracy 0.805 at 0.5, 0.774 at 0.55, 0.764 at 0.6 (195 aspects judged)
    neutral_below: float = 0.5
    # the scorer reads the clause without the seed words (needs a lexicon). Off: on the dev half masking
    # was no better with the sample's champion (0.753 both at 0.5) and worse with a neutral band
    mask_aspect_words: bool = False


class Masker(Protocol):
    def mask(self, clause: str) -> str: ...


def clause_polarity(
    probabilities: np.ndarray, labels: Sequence[str], neutral_below: float
) -> tuple[list[str], np.ndarray]:
    """Per clause: its polarity and the scorer's probability of its most likely class."""
    if len(probabilities) == 0:
        return [], np.zeros(0, dtype=np.float32)
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    names = [labels[index] for index in best]
    if NEUTRAL not in labels:
        names = [NEUTRAL if sure < neutral_below else name for name, sure in zip(names, confidence, strict=True)]
    return names, confidence


def tag_reviews(
    reviews: pl.DataFrame,
    tagger: Tagger,
    scorer: PolarityScorer,
    model_version: str,
    settings: PolaritySettings = PolaritySettings(),
    masker: Masker | None = None,
) -> pl.DataFrame:
    """One row per review and aspect it mentions (REVIEW_ASPECTS_SCHEMA); `reviews` needs review_id,
    product_id, review_date and review_text. `masker` (the lexicon) removes the aspect words from what
    the scorer reads when settings.mask_aspect_words."""
    review_index, clause_texts = [], []
    for index, text in enumerate(reviews.get_column("review_text").to_list()):
        for clause in split_clauses(text):
            review_index.append(index)
            clause_texts.append(clause)
    mention_review, mention_clause, mention_aspect = [], [], []
    for position, aspects in enumerate(tagger.tag(clause_texts)):
        for aspect in aspects:
            mention_review.append(review_index[position])
            mention_clause.append(clause_texts[position])
            mention_aspect.append(aspect)
    if not mention_aspect:
        return pl.DataFrame(schema=REVIEW_ASPECTS_SCHEMA)
    distinct = list(dict.fromkeys(mention_clause))
    labels = list(scorer.labels)
    opinions = [strip_contrast(clause) for clause in distinct]
    if settings.mask_aspect_words and masker is not None:
        opinions = [masker.mask(opinion) for opinion in opinions]
    probabilities = np.asarray(scorer.predict_proba(opinions), dtype=np.float64)
    polarity, confidence = clause_polarity(probabilities, labels, settings.neutral_below)
    negative = probabilities[:, labels.index("negative")] if "negative" in labels else np.zeros(len(distinct))
    judged = pl.DataFrame(
        {
            "span": distinct,
            "polarity": polarity,
            "probability": confidence,
            "prob_negative": negative,
        }
    )
    mentions = (
        pl.DataFrame({"_review": mention_review, "span": mention_clause, "aspect": mention_aspect})
        .with_row_index("_order")
        .join(judged, on="span", how="left")
        .sort(["_review", "aspect", "probability", "_order"], descending=[False, False, True, False])
        .unique(["_review", "aspect"], keep="first", maintain_order=True)
    )
    context = reviews.select("review_id", "product_id", "review_date").with_row_index("_review")
    tagged = mentions.join(context.with_columns(pl.col("_review").cast(pl.Int64)), on="_review").with_columns(
        method=pl.lit(tagger.kind), tagger_version=pl.lit(tagger.version), model_version=pl.lit(model_version)
    )
    return conform(tagged.sort("_review", "_order"), REVIEW_ASPECTS_SCHEMA)
