"""Classification metrics and calibration, from arrays, with no framework in between."""

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def expected_calibration_error(
    probabilities: np.ndarray, y_true: Sequence[int], bins: int = 10
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


def classification_report(
    y_true: Sequence[int], probabilities: np.ndarray, labels: Sequence[str], bins: int = 10
) -> dict:
    """Per-class precision/recall/F1/support, macro-F1, accuracy, confusion matrix and ECE.

    A class with no predictions has precision 0 (and no support, recall 0): nothing is hidden by
    a division that silently returns 1.
    """
    truth = np.asarray(y_true, dtype=np.int64)
    if truth.size == 0:
        raise ValueError("cannot evaluate on an empty set")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(truth, predicted, len(labels))
    per_class = {}
    for index, label in enumerate(labels):
        true_positive = matrix[index, index]
        predicted_count, support = matrix[:, index].sum(), matrix[index, :].sum()
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support),
        }
    present = [label for label in labels if per_class[label]["support"] > 0]
    ece, reliability = expected_calibration_error(probabilities, truth, bins)
    return {
        "examples": int(truth.size),
        "accuracy": float((predicted == truth).mean()),
        "macro_f1": float(np.mean([per_class[label]["f1"] for label in present])),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "labels": list(labels),
        "ece": float(ece),
        "reliability": reliability,
    }


def confusion_markdown(report: dict) -> str:
    labels = report["labels"]
    header = "| true \\ predicted | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels)
    rows = [
        f"| {label} | " + " | ".join(str(count) for count in counts) + " |"
        for label, counts in zip(labels, report["confusion_matrix"], strict=True)
    ]
    return "\n".join([header, *rows])
