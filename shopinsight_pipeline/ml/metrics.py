"""Classification metrics (scikit-learn's) and calibration (ours: sklearn has no ECE), from arrays."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from shopinsight_pipeline.markdown import table


def expected_calibration_error(
    probabilities: np.ndarray, y_true: ArrayLike, bins: int = 10
) -> tuple[float, list[dict]]:
    """ECE of the top-class confidence over equal-width bins, and the bins for a reliability chart."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(y_true)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidence in (edges[i], edges[i+1]]; the first bin also takes exactly 0.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error, table = 0.0, []
    for bin_number in range(bins):
        members = index == bin_number
        count = int(members.sum())
        if count == 0:
            continue
        accuracy, mean_confidence = float(correct[members].mean()), float(confidence[members].mean())
        error += count / len(truth) * abs(accuracy - mean_confidence)
        table.append(
            {
                "low": float(edges[bin_number]),
                "high": float(edges[bin_number + 1]),
                "count": count,
                "accuracy": accuracy,
                "confidence": mean_confidence,
            }
        )
    return error, table


def classification_report(y_true: ArrayLike, probabilities: np.ndarray, labels: Sequence[str], bins: int = 10) -> dict:
    """Per-class precision/recall/F1/support, macro-F1, accuracy, confusion matrix and ECE.

    A class with no predictions has precision 0 (and no support, recall 0): nothing is hidden by
    a division that silently returns 1.
    """
    truth = np.asarray(y_true, dtype=np.int64)
    if truth.size == 0:
        raise ValueError("cannot evaluate on an empty set")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(labels)))
    matrix = confusion_matrix(truth, predicted, labels=classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0.0
    )
    per_class = {
        label: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
        }
        for index, label in enumerate(labels)
    }
    present = [label for label in labels if per_class[label]["support"] > 0]
    ece, reliability = expected_calibration_error(probabilities, truth, bins)
    return {
        "examples": int(truth.size),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(np.mean([per_class[label]["f1"] for label in present])),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "labels": list(labels),
        "ece": float(ece),
        "reliability": reliability,
    }


def confusion_markdown(report: dict) -> str:
    labels = report["labels"]
    rows = ([label, *counts] for label, counts in zip(labels, report["confusion_matrix"], strict=True))
    return table(["true \\ predicted", *labels], rows)
