"""Metrics against values worked out by hand."""

import numpy as np
import pytest

from shopinsight_pipeline.ml.metrics import classification_report, expected_calibration_error


def one_hot(predicted: list[int], classes: int = 3, confidence: float = 1.0) -> np.ndarray:
    probabilities = np.full((len(predicted), classes), (1 - confidence) / (classes - 1))
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def test_per_class_and_macro_f1_by_hand():
    truth = [0, 0, 0, 1, 2, 2]
    predicted = [0, 0, 2, 1, 2, 0]
    report = classification_report(truth, one_hot(predicted), ["neg", "neu", "pos"])
    # neg: tp=2, predicted 3, support 3 -> p=2/3 r=2/3 f1=2/3; neu: 1/1/1; pos: tp=1, predicted 2, support 2 -> 1/2
    assert report["per_class"]["neg"]["f1"] == pytest.approx(2 / 3)
    assert report["per_class"]["neu"]["f1"] == pytest.approx(1.0)
    assert report["per_class"]["pos"]["precision"] == pytest.approx(0.5)
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[2, 0, 1], [0, 1, 0], [1, 0, 1]]


def test_class_never_predicted_has_zero_precision_not_an_error():
    report = classification_report([0, 1, 1], one_hot([1, 1, 1], 2), ["a", "b"])
    assert report["per_class"]["a"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_a_class_absent_from_truth_and_predictions_still_has_its_row_and_column():
    report = classification_report([0, 0, 1], one_hot([0, 1, 1]), ["neg", "neu", "pos"])
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert report["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)  # pos has no support: not averaged


def test_expected_calibration_error_by_hand():
    # Two examples at confidence 0.9 (one right), two at 0.6 (both right):
    # |0.5 - 0.9| * 2/4 + |1.0 - 0.6| * 2/4 = 0.4
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    error, bins = expected_calibration_error(probabilities, [0, 1, 1, 1], bins=10)
    assert error == pytest.approx(0.4)
    assert [b["count"] for b in bins] == [2, 2]


def test_empty_evaluation_set_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        classification_report([], np.zeros((0, 3)), ["a", "b", "c"])
