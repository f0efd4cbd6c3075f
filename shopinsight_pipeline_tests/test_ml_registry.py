"""The champion/challenger decision and the TF-IDF scorer's safe round trip."""

import numpy as np
import pytest

from shopinsight_pipeline.ml.baseline import ARRAYS_FILE, SETTINGS_FILE, TfidfClassifier, TfidfSettings
from shopinsight_pipeline.ml.registry import Candidate, ModelRegistry, choose

TRANSFORMER = Candidate("t1", "transformer", 0.80)
BASELINE = Candidate("b1", "tfidf_logreg", 0.78)


def test_transformer_must_beat_the_baseline_by_the_margin():
    assert choose(TRANSFORMER, BASELINE, None, 0.01, 0.01).promoted == "t1"
    weak = choose(TRANSFORMER, BASELINE, None, 0.05, 0.01)
    assert weak.promoted == "b1"
    assert "does not beat the TF-IDF baseline" in weak.reason


def test_challenger_worse_than_champion_beyond_tolerance_is_not_promoted():
    champion = Candidate("c0", "transformer", 0.85)
    decision = choose(TRANSFORMER, BASELINE, champion, 0.01, 0.02)
    assert not decision.passed
    assert decision.promoted is None
    assert "champion kept" in decision.reason
    within = choose(TRANSFORMER, BASELINE, champion, 0.01, 0.05)
    assert within.passed and within.promoted == "t1"


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
