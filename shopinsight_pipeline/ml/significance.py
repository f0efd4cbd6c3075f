"""Bootstrap intervals for macro-F1 and the paired comparison the promotion gate rests on.

A test split of a few thousand texts measures macro-F1 to about ±0.01-0.02, and two training runs
of the same recipe differ by about as much: a difference between two scorers means something only
when it is larger than that noise. Both functions resample the test texts (with replacement) and
recompute macro-F1 on each resample; the paired version resamples the same texts for both scorers,
so what they have in common (the hard texts, the easy ones) cancels out of the difference.

Macro-F1 is the mean F1 of the classes present in the full test set, as in
`metrics.classification_report`; a class absent from a resample counts F1 0 there.
"""

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import f1_score

DEFAULT_ROUNDS = 2000
# Two-sided 5% test with 80% power: a true difference of (1.96 + 0.84) standard errors is found 4 times in 5.
POWER_FACTOR = 2.8


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float
    confidence: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedComparison:
    """Macro-F1 of `a` minus macro-F1 of `b` on the same texts."""

    difference: float
    low: float
    high: float
    confidence: float
    standard_error: float
    share_not_better: float  # resamples where a is not better than b: a one-sided bootstrap p-value
    minimum_detectable: float  # a true difference this large is found with 80% power
    examples: int

    @property
    def significantly_better(self) -> bool:
        return self.low > 0

    @property
    def significantly_worse(self) -> bool:
        return self.high < 0

    def as_dict(self) -> dict:
        return asdict(self)


def resample_counts(size: int, rounds: int, seed: int) -> np.ndarray:
    """How often each of `size` items is drawn in each of `rounds` bootstrap resamples."""
    if size == 0:
        raise ValueError("cannot bootstrap an empty set")
    rng = np.random.default_rng(seed)
    return rng.multinomial(size, np.full(size, 1.0 / size), size=rounds).astype(np.float64)


def _macro_f1_per_round(
    counts: np.ndarray, truth: np.ndarray, predicted: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """Macro-F1 of every resample (row of `counts`) in one matrix product per class."""
    scores = np.zeros(counts.shape[0])
    for label in classes:
        is_true, is_predicted = truth == label, predicted == label
        true_positive = counts @ (is_true & is_predicted)
        denominator = counts @ is_true + counts @ is_predicted  # 2TP + FP + FN
        scores += np.divide(2 * true_positive, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return scores / len(classes)


def macro_f1(truth: ArrayLike, predicted: ArrayLike) -> float:
    """Macro-F1 over the classes present in `truth` (scikit-learn's; the bootstrap above computes the
    same quantity for thousands of resamples at once, which sklearn cannot)."""
    truth_array = np.asarray(truth)
    return float(
        f1_score(truth_array, np.asarray(predicted), labels=np.unique(truth_array), average="macro", zero_division=0.0)
    )


def bootstrap_macro_f1(
    truth: ArrayLike,
    predicted: ArrayLike,
    confidence: float = 0.95,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of macro-F1 over the test texts."""
    truth_array, predicted_array = np.asarray(truth), np.asarray(predicted)
    counts = resample_counts(truth_array.size, rounds, seed)
    scores = _macro_f1_per_round(counts, truth_array, predicted_array, np.unique(truth_array))
    tail = (1 - confidence) / 2
    return Interval(
        macro_f1(truth_array, predicted_array),
        float(np.quantile(scores, tail)),
        float(np.quantile(scores, 1 - tail)),
        confidence,
    )


def paired_bootstrap(
    truth: ArrayLike,
    predicted_a: ArrayLike,
    predicted_b: ArrayLike,
    confidence: float = 0.95,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
) -> PairedComparison:
    """Interval of macro-F1(a) - macro-F1(b), both scored on each resample of the same texts."""
    truth_array = np.asarray(truth)
    a, b = np.asarray(predicted_a), np.asarray(predicted_b)
    if not (truth_array.size == a.size == b.size):
        raise ValueError(f"paired comparison needs equal lengths, got {truth_array.size}, {a.size}, {b.size}")
    classes = np.unique(truth_array)
    counts = resample_counts(truth_array.size, rounds, seed)
    differences = _macro_f1_per_round(counts, truth_array, a, classes) - _macro_f1_per_round(
        counts, truth_array, b, classes
    )
    difference = macro_f1(truth_array, a) - macro_f1(truth_array, b)
    return paired_comparison(differences, difference, confidence, int(truth_array.size))


def paired_comparison(differences: np.ndarray, difference: float, confidence: float, examples: int) -> PairedComparison:
    """A paired comparison from its bootstrap differences (one per resample of the same examples) and
    the difference on all of them: the percentile interval, the standard error, the one-sided share
    of resamples where a is not better, and the difference found with 80% power."""
    tail = (1 - confidence) / 2
    standard_error = float(differences.std(ddof=1))
    return PairedComparison(
        difference=difference,
        low=float(np.quantile(differences, tail)),
        high=float(np.quantile(differences, 1 - tail)),
        confidence=confidence,
        standard_error=standard_error,
        share_not_better=float((differences <= 0).mean()),
        minimum_detectable=POWER_FACTOR * standard_error,
        examples=examples,
    )
