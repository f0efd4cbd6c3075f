"""Bootstrap intervals and the paired comparison, against sklearn and against what must hold."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from shopinsight_pipeline.ml.significance import bootstrap_macro_f1, macro_f1, paired_bootstrap

RNG = np.random.default_rng(7)
TRUTH = RNG.integers(0, 3, 800)
NOISY = np.where(RNG.random(800) < 0.7, TRUTH, RNG.integers(0, 3, 800))


def test_macro_f1_matches_sklearn():
    assert macro_f1(TRUTH, NOISY) == pytest.approx(f1_score(TRUTH, NOISY, average="macro"))
    two_classes = np.array([0, 0, 1, 1, 1])
    assert macro_f1(two_classes, np.array([0, 1, 1, 1, 0])) == pytest.approx(
        f1_score(two_classes, [0, 1, 1, 1, 0], average="macro")
    )


def test_interval_covers_the_point_and_narrows_with_more_texts():
    small = bootstrap_macro_f1(TRUTH[:100], NOISY[:100], rounds=500)
    large = bootstrap_macro_f1(TRUTH, NOISY, rounds=500)
    for interval in (small, large):
        assert interval.low < interval.point < interval.high
    assert large.high - large.low < small.high - small.low
    assert bootstrap_macro_f1(TRUTH, NOISY, rounds=500, seed=3) == bootstrap_macro_f1(TRUTH, NOISY, rounds=500, seed=3)


def test_paired_comparison_of_a_scorer_with_itself_is_exactly_zero():
    same = paired_bootstrap(TRUTH, NOISY, NOISY, rounds=300)
    assert same.difference == same.low == same.high == 0.0
    assert not same.significantly_better and not same.significantly_worse


def test_pairing_finds_a_small_consistent_gain_that_unpaired_intervals_would_miss():
    better = NOISY.copy()
    fixed = np.flatnonzero(better != TRUTH)[:25]  # 25 more right answers of 800, nothing else changed
    better[fixed] = TRUTH[fixed]
    paired = paired_bootstrap(TRUTH, better, NOISY, rounds=1000)
    assert paired.significantly_better
    assert paired.share_not_better == 0.0
    assert paired.minimum_detectable == pytest.approx(2.8 * paired.standard_error)
    alone = [bootstrap_macro_f1(TRUTH, p, rounds=1000) for p in (better, NOISY)]
    assert alone[0].low < alone[1].high  # the two separate intervals overlap


def test_paired_comparison_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap(TRUTH, NOISY[:10], NOISY)
