"""The champion/challenger decision and the TF-IDF scorer's safe round trip."""

import shutil

import numpy as np
import pytest

from shopinsight_pipeline.ml.baseline import ARRAYS_FILE, SETTINGS_FILE, TfidfClassifier, TfidfSettings
from shopinsight_pipeline.ml.fit import write_candidate_file
from shopinsight_pipeline.ml.model_io import ModelDirectoryError
from shopinsight_pipeline.ml.registry import Candidate, Champion, ModelRegistry, choose
from shopinsight_pipeline.ml.scorers import load_scorer, mix_probabilities


def predictions_right_on(truth: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Predictions equal to `truth` on a random `share` of texts and wrong elsewhere."""
    rng = np.random.default_rng(seed)
    right = rng.random(truth.size) < share
    return np.where(right, truth, 1 - truth)


TRUTH = np.random.default_rng(0).integers(0, 2, 1500)
CHAMPION = Champion("c0", "tfidf_logreg", predictions_right_on(TRUTH, 0.85, 1))


VALIDATION = np.random.default_rng(5).integers(0, 2, 1500)


def candidate(version: str, kind: str, test_predicted: np.ndarray, validation_share: float = 0.8, seed: int = 3):
    return Candidate(version, kind, predictions_right_on(VALIDATION, validation_share, seed), test_predicted)


def test_a_more_complex_candidate_is_the_challenger_only_when_better_on_validation_beyond_the_noise():
    tfidf = candidate("b1", "tfidf_logreg", TRUTH)
    # the transformer is right on 30 validation texts the baseline gets wrong and wrong on 25 it gets
    # right: higher, but within the noise
    edge = tfidf.validation_predicted.copy()
    fixed = np.flatnonzero(edge != VALIDATION)[:30]
    broken = np.flatnonzero(edge == VALIDATION)[:25]
    edge[fixed], edge[broken] = VALIDATION[fixed], 1 - VALIDATION[broken]
    transformer = Candidate("t1", "transformer", edge, TRUTH)
    decision = choose([tfidf, transformer], None, VALIDATION.tolist(), TRUTH.tolist(), rounds=300)
    assert decision.challenger == decision.promoted == "b1"
    assert "transformer vs tfidf_logreg on validation +" in decision.reason and "not better beyond the noise" in (
        decision.reason
    )
    assert "no champion yet: promoted" in decision.reason
    clearly = Candidate("e1", "ensemble", VALIDATION.copy(), TRUTH)  # right on every validation text
    decision = choose([tfidf, transformer, clearly], None, VALIDATION.tolist(), TRUTH.tolist(), rounds=300)
    assert decision.challenger == "e1" and "ensemble vs tfidf_logreg" in decision.reason


def test_a_challenger_better_by_less_than_the_noise_keeps_the_champion():
    # Right on 30 texts the champion gets wrong, wrong on 25 it gets right: a net gain of 5 of 1,500
    # texts, while disagreeing on 55 of them - the kind of edge two training runs show by chance.
    slightly = CHAMPION.test_predicted.copy()
    fixed = np.flatnonzero(slightly != TRUTH)[:30]
    broken = np.flatnonzero(slightly == TRUTH)[:25]
    slightly[fixed], slightly[broken] = TRUTH[fixed], 1 - TRUTH[broken]
    decision = choose(
        [candidate("t1", "transformer", slightly)], CHAMPION, VALIDATION.tolist(), TRUTH.tolist(), rounds=500
    )
    assert decision.evidence["difference"] > 0
    assert decision.evidence["low"] <= 0 <= decision.evidence["high"]
    assert decision.promoted is None and decision.passed
    assert "not better beyond the noise, champion kept" in decision.reason
    assert "95% interval" in decision.reason


def test_a_clearly_better_challenger_is_promoted_and_a_clearly_worse_one_fails_the_check():
    perfect = candidate("t1", "transformer", TRUTH.copy())  # right on every test text
    promoted = choose([perfect], CHAMPION, VALIDATION.tolist(), TRUTH.tolist(), rounds=500)
    assert promoted.promoted == "t1" and promoted.passed
    assert promoted.evidence["low"] > 0
    assert "better, promoted" in promoted.reason
    worse = candidate("t2", "transformer", predictions_right_on(TRUTH, 0.6, 2))
    kept = choose([worse], CHAMPION, VALIDATION.tolist(), TRUTH.tolist(), rounds=500)
    assert kept.promoted is None and not kept.passed
    assert kept.evidence["high"] < 0 and "worse, champion kept" in kept.reason


def test_a_champion_that_cannot_be_rescored_is_replaced_and_the_reason_says_why():
    unreadable = Champion("c0", "transformer", None, "it predicts ['negative', 'neutral', 'positive']")
    decision = choose(
        [candidate("b1", "tfidf_logreg", TRUTH)], unreadable, VALIDATION.tolist(), TRUTH.tolist(), rounds=100
    )
    assert decision.promoted == "b1"
    assert "cannot be compared on today's test split" in decision.reason and "neutral" in decision.reason


def test_promote_writes_the_pointer_scoring_reads(tmp_path):
    registry = ModelRegistry(tmp_path)
    with pytest.raises(FileNotFoundError, match="Materialize sentiment_model first"):
        registry.require_champion()
    staging = registry.staging_path()
    (staging / "weights").write_text("x")
    registry.publish(staging, "v1")
    registry.promote("v1", "transformer", 0.8, "first")
    assert registry.require_champion()["version"] == "v1"
    registry.promote("v2", "transformer", 0.8, "pointer to a version that is not there")
    with pytest.raises(FileNotFoundError, match="v2"):
        registry.require_champion()


def test_the_gate_points_the_champion_at_a_promoted_challenger_and_leaves_it_otherwise(tmp_path):
    registry = ModelRegistry(tmp_path)
    for version in ("c0", "t1", "t2"):
        registry.publish(registry.staging_path(), version)
    registry.promote("c0", "tfidf_logreg", 0.85, "the first champion")
    worse = candidate("t2", "transformer", predictions_right_on(TRUTH, 0.6, 2))
    kept = registry.gate([worse], CHAMPION, VALIDATION.tolist(), TRUTH.tolist(), rounds=300)
    assert kept.promoted is None and registry.require_champion()["version"] == "c0"
    perfect = candidate("t1", "transformer", TRUTH.copy())
    promoted = registry.gate([perfect], CHAMPION, VALIDATION.tolist(), TRUTH.tolist(), rounds=300)
    pointer = registry.require_champion()
    assert promoted.promoted == pointer["version"] == "t1" and pointer["kind"] == "transformer"
    assert pointer["test_macro_f1"] == 1.0  # right on every test text
    assert pointer["reason"] == promoted.reason and pointer["evidence"]["low"] > 0


def test_tfidf_round_trip_without_pickle(tmp_path):
    texts = ["很好 喜欢", "非常好 推荐", "太差 失望", "很差 退货", "一般 还行", "还行 一般般"] * 5
    labels = [2, 2, 0, 0, 1, 1] * 5
    model = TfidfClassifier.fit(texts, labels, 3, TfidfSettings(min_df=1))
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([SETTINGS_FILE, ARRAYS_FILE])
    loaded = TfidfClassifier.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), rtol=1e-5)
    assert loaded.predict_proba(["很好 推荐"]).argmax() == 2
    assert loaded.predict_proba(["很差 失望"]).argmax() == 0


def test_ensemble_is_the_stated_mix_of_its_parts_and_loads_without_pickle(tmp_path):
    texts = ["很好 喜欢", "非常好 推荐", "太差 失望", "很差 退货", "还行 好", "一般 差"] * 5
    labels = [1, 1, 0, 0, 1, 0] * 5
    registry = ModelRegistry(tmp_path)
    parts = []
    for version, c in (("a", 0.5), ("b", 20.0)):
        staging = registry.staging_path()
        TfidfClassifier.fit(texts, labels, 2, TfidfSettings(min_df=1, c=c)).save(staging)
        write_candidate_file(staging, {"kind": "tfidf_logreg", "version": version, "labels": ["negative", "positive"]})
        parts.append(registry.publish(staging, version))
    staging = registry.staging_path()
    parts_spec = [
        {"version": "a", "kind": "tfidf_logreg", "weight": 0.3},
        {"version": "b", "kind": "tfidf_logreg", "weight": 0.7},
    ]
    write_candidate_file(
        staging, {"kind": "ensemble", "version": "e", "labels": ["negative", "positive"], "parts": parts_spec}
    )
    ensemble_dir = registry.publish(staging, "e")
    assert [p.name for p in ensemble_dir.iterdir()] == ["candidate.json"]  # no weights of its own, no pickle

    ensemble = load_scorer(ensemble_dir)
    assert ensemble.kind == "ensemble"
    probe = ["很好", "很差", "一般"]
    a, b = load_scorer(parts[0]).predict_proba(probe), load_scorer(parts[1]).predict_proba(probe)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(ensemble.predict_proba(probe), 0.3 * a + 0.7 * b, rtol=1e-6)

    with pytest.raises(ValueError, match="sum to 1"):
        mix_probabilities([(a, 0.5), (b, 0.6)])
    shutil.rmtree(parts[1])
    with pytest.raises(ModelDirectoryError, match="missing"):
        load_scorer(ensemble_dir)


def test_two_versions_of_one_job_in_the_same_second_never_replace_each_other(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    names = []
    for content in ("first", "second", "third"):
        staging = registry.staging_path()
        (staging / "weights").write_text(content)
        names.append(registry.publish(staging, registry.new_version("transformer", "abcdef0123")).name)
    assert len(set(names)) == 3  # a fast machine trains the same job again within a second: a suffix
    assert [(registry.version_path(name) / "weights").read_text() for name in names] == ["first", "second", "third"]
