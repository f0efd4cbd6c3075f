"""Aspect evaluation against numbers worked out by hand, and the shipped hand-labelled set's shape."""

import pytest

from shopinsight_pipeline.aspects.evaluation import aspect_report, load_labelled, paired_macro_f1
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy

GOLD = [{"a": "negative"}, {"a": "positive", "b": "negative"}, {}, {"b": "positive"}]
GUESS = [{"a": "negative"}, {"a": "negative"}, {"b": "positive"}, {"b": "positive"}]


def test_detection_and_polarity_numbers_by_hand():
    report = aspect_report(GOLD, GUESS, ["a", "b", "c"], rounds=200)
    # a: found in both reviews that have it, nowhere else: F1 1. b: 1 hit, 1 false alarm, 1 miss: F1 0.5.
    assert report["per_aspect"]["a"] == {"support": 2, "predicted": 2, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert report["per_aspect"]["b"] == {"support": 2, "predicted": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert report["per_aspect"]["c"]["f1"] is None
    assert report["aspects_scored"] == ["a", "b"]  # c is in no label: not in the mean
    assert report["macro_f1"] == pytest.approx(0.75)
    low, high = report["macro_f1_ci95"]
    assert low <= 0.75 <= high
    assert report["micro_precision"] == pytest.approx(0.75) and report["micro_recall"] == pytest.approx(0.75)
    # found correctly: (review 0, a) negative/negative, (1, a) positive/negative, (3, b) positive/positive
    assert report["polarity_judged"] == 3
    assert report["polarity_accuracy"] == pytest.approx(2 / 3)
    assert report["negative_recall"] == pytest.approx(1.0)


def test_the_paired_comparison_sees_a_clear_winner_and_no_difference_in_a_tie():
    gold = GOLD * 30
    tie = paired_macro_f1(gold, GUESS * 30, GUESS * 30, ["a", "b"], rounds=300)
    assert tie.difference == 0 and tie.low == tie.high == 0 and not tie.significantly_better
    better = paired_macro_f1(gold, gold, GUESS * 30, ["a", "b"], rounds=300)
    assert better.difference == pytest.approx(0.25) and better.significantly_better


def test_the_shipped_hand_labelled_set_has_two_halves_and_known_names():
    labelled = load_labelled()
    keys = set(load_taxonomy().keys)
    assert len(labelled) >= 300 and len({row.id for row in labelled}) == len(labelled)
    halves = {split: [row for row in labelled if row.split == split] for split in ("dev", "test")}
    assert len(halves["dev"]) + len(halves["test"]) == len(labelled)
    assert min(len(half) for half in halves.values()) >= 150
    assert all(set(row.aspects) <= keys for row in labelled)
    assert sum(bool(row.aspects) for row in labelled) > len(labelled) / 2
