"""How well a tagger finds aspects and judges their polarity, on hand-labelled reviews.

Detection is scored per aspect over reviews (a review mentions the aspect or not: precision, recall,
F1), and macro-F1 is the mean F1 of the aspects the labels contain. Its interval resamples reviews
(a percentile bootstrap, as ml/significance.py does for sentiment), and two taggers are compared on
the same resamples, so what they share cancels out of the difference. Polarity is scored on the
aspects a tagger found correctly: accuracy, and the recall of negative labels (a missed complaint
costs a shop more than a missed compliment).

The labelled set ships with the package (`labelled_reviews.jsonl`, docs/ASPECT_LABELLING.md): a dev
half to tune seed words and thresholds on, and a test half that is only reported.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl

from shopinsight_pipeline.ml.significance import PairedComparison, paired_comparison, resample_counts

LABELLED_FILE = "labelled_reviews.jsonl"
POLARITIES = ("negative", "positive", "neutral")
Aspects = Mapping[str, str]  # aspect -> polarity of one review


@dataclass(frozen=True)
class LabelledReview:
    id: str
    text: str
    aspects: dict[str, str]
    split: str  # dev (tune on it) or test (report only)


def load_labelled(path: str | Path | None = None, split: str | None = None) -> list[LabelledReview]:
    """The hand-labelled reviews (the shipped set by default), optionally one split of them."""
    if path is None:
        text = (resources.files("shopinsight_pipeline.aspects") / LABELLED_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        unknown = set(record["aspects"].values()) - set(POLARITIES)
        if unknown:
            raise ValueError(
                f"{path or LABELLED_FILE} line {number}: polarity {sorted(unknown)} is not one of {POLARITIES}"
            )
        rows.append(LabelledReview(record["id"], record["text"], dict(record["aspects"]), record["split"]))
    return [row for row in rows if split is None or row.split == split]


def parse_aspect_labels(raw: Sequence[str | None], keys: Sequence[str]) -> list[dict[str, str]]:
    """Each row's aspects label (a JSON object of aspect -> polarity; empty: no aspect) as a dict;
    a bad row raises ValueError naming the row (1-based) and what is wrong."""
    parsed = []
    for row, value in enumerate(raw, start=1):
        try:
            labels = json.loads(value) if value and value.strip() else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"row {row}: aspects {value!r} is not JSON ({error.msg})") from error
        if not isinstance(labels, dict):
            raise ValueError(f'row {row}: aspects must be a JSON object such as {{"price": "negative"}}, got {value!r}')
        unknown = sorted(set(labels) - set(keys))
        if unknown:
            raise ValueError(f"row {row}: unknown aspects {unknown}; the taxonomy has {list(keys)}")
        wrong = sorted({str(polarity) for polarity in labels.values()} - set(POLARITIES))
        if wrong:
            raise ValueError(f"row {row}: polarity {wrong} is not one of {list(POLARITIES)}")
        parsed.append(labels)
    return parsed


def aspects_by_review(tagged: pl.DataFrame, review_ids: Sequence[str]) -> list[dict[str, str]]:
    """review_aspects rows as one {aspect: polarity} per review, in the order of `review_ids`."""
    found: dict[str, dict[str, str]] = {review_id: {} for review_id in review_ids}
    for review_id, aspect, polarity in tagged.select("review_id", "aspect", "polarity").iter_rows():
        found[review_id][aspect] = polarity
    return [found[review_id] for review_id in review_ids]


def _matrices(gold: Sequence[Aspects], predicted: Sequence[Aspects], aspects: Sequence[str]):
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} labelled reviews but {len(predicted)} predictions")
    truth = np.array([[aspect in row for aspect in aspects] for row in gold], dtype=bool).reshape(len(gold), -1)
    guess = np.array([[aspect in row for aspect in aspects] for row in predicted], dtype=bool).reshape(len(gold), -1)
    return truth, guess


def _f1_per_round(counts: np.ndarray, truth: np.ndarray, guess: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Macro-F1 over the `present` aspects for every resample (row of `counts`)."""
    true_positive = counts @ (truth & guess)[:, present]
    denominator = counts @ truth[:, present] + counts @ guess[:, present]  # 2TP + FP + FN
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return f1.mean(axis=1)


def aspect_report(
    gold: Sequence[Aspects],
    predicted: Sequence[Aspects],
    aspects: Sequence[str],
    confidence: float = 0.95,
    rounds: int = 2000,
    seed: int = 0,
) -> dict:
    """Per-aspect detection, macro-F1 with its bootstrap interval, and polarity on found aspects."""
    truth, guess = _matrices(gold, predicted, aspects)
    per_aspect = {}
    for column, aspect in enumerate(aspects):
        hits = int((truth[:, column] & guess[:, column]).sum())
        support, found = int(truth[:, column].sum()), int(guess[:, column].sum())
        precision = hits / found if found else None
        recall = hits / support if support else None
        f1 = 2 * hits / (support + found) if support + found else None
        per_aspect[aspect] = {
            "support": support,
            "predicted": found,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    present = truth.sum(axis=0) > 0
    point = float(_f1_per_round(np.ones((1, len(gold))), truth, guess, present)[0]) if present.any() else 0.0
    low = high = point
    if present.any() and len(gold):
        scores = _f1_per_round(resample_counts(len(gold), rounds, seed), truth, guess, present)
        tail = (1 - confidence) / 2
        low, high = float(np.quantile(scores, tail)), float(np.quantile(scores, 1 - tail))
    found_correctly = [
        (labelled[aspect], guessed[aspect])
        for labelled, guessed in zip(gold, predicted, strict=True)
        for aspect in aspects
        if aspect in labelled and aspect in guessed
    ]
    negatives = [(label, guess_) for label, guess_ in found_correctly if label == "negative"]
    return {
        "reviews": len(gold),
        "aspects_scored": [aspect for aspect, here in zip(aspects, present, strict=True) if here],
        "macro_f1": point,
        "macro_f1_ci95": [low, high],
        "micro_precision": float((truth & guess).sum() / guess.sum()) if guess.sum() else None,
        "micro_recall": float((truth & guess).sum() / truth.sum()) if truth.sum() else None,
        "per_aspect": per_aspect,
        "polarity_judged": len(found_correctly),
        "polarity_accuracy": sum(label == guess_ for label, guess_ in found_correctly) / len(found_correctly)
        if found_correctly
        else None,
        "negative_recall": sum(guess_ == "negative" for _, guess_ in negatives) / len(negatives) if negatives else None,
    }


def paired_macro_f1(
    gold: Sequence[Aspects],
    predicted_a: Sequence[Aspects],
    predicted_b: Sequence[Aspects],
    aspects: Sequence[str],
    confidence: float = 0.95,
    rounds: int = 2000,
    seed: int = 0,
) -> PairedComparison:
    """Macro-F1 of tagger a minus tagger b on the same resamples of the labelled reviews."""
    truth, guess_a = _matrices(gold, predicted_a, aspects)
    _, guess_b = _matrices(gold, predicted_b, aspects)
    present = truth.sum(axis=0) > 0
    counts = resample_counts(len(gold), rounds, seed)
    differences = _f1_per_round(counts, truth, guess_a, present) - _f1_per_round(counts, truth, guess_b, present)
    whole = np.ones((1, len(gold)))
    difference = float(
        _f1_per_round(whole, truth, guess_a, present)[0] - _f1_per_round(whole, truth, guess_b, present)[0]
    )
    return paired_comparison(differences, difference, confidence, len(gold))
