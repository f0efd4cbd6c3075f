"""review_scores and product_sentiment as assets on the ML lake: every validated review scored by
the champion the pointer names, and a clear message when no model was promoted."""

import polars as pl
from dagster import DagsterInstance

from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline_tests.conftest import materialize_days
from shopinsight_pipeline_tests.ml_lake import ML_SPEC, score_days


def test_every_validated_review_is_scored_and_the_gold_table_adds_up(ml_lake):
    storage = ml_lake.storage
    for day in ml_lake.days:
        validated = storage.read_partition("validated_reviews", day)
        scores = storage.read_partition("review_scores", day)
        assert sorted(scores.get_column("review_id")) == sorted(validated.get_column("review_id"))
        total = scores.select(pl.sum_horizontal("prob_negative", "prob_positive")).to_series()
        assert ((total - 1).abs() < 1e-4).all()
        sentiment = storage.read_partition("product_sentiment", day)
        assert int(sentiment.get_column("reviews").sum() or 0) == scores.height
        if sentiment.height:
            shares = sentiment.select(pl.sum_horizontal("share_negative", "share_positive")).to_series()
            assert ((shares - 1).abs() < 1e-9).all()
            expected = scores.group_by("product_id").agg((pl.col("predicted_label") == pl.col("rating_label")).mean())
            joined = sentiment.join(expected, on="product_id")
            assert (joined.get_column("model_rating_agreement") == joined.get_column("predicted_label")).all()


def test_scoring_follows_the_champion_pointer_to_a_transformer(ml_lake):
    versions = ml_lake.root / "lake/models/sentiment/versions"
    transformer = sorted(p.name for p in versions.iterdir() if "-transformer-" in p.name)[-1]
    registry = ModelRegistry(ml_lake.root / "lake/models/sentiment")
    pointer = registry.root / "champion.json"
    before = pointer.read_bytes()  # restored as it was, its refit_version included
    try:
        registry.promote(transformer, "transformer", None, "test: promoted by hand")
        day = ml_lake.days[-1]
        [scored] = score_days(ml_lake.root, [day], ml_lake.instance)
        assert scored.success
        scores = ml_lake.storage.read_partition("review_scores", day)
        assert set(scores.get_column("model_version")) == {transformer}
        assert set(scores.get_column("scorer_kind")) == {"transformer"}
    finally:
        pointer.write_bytes(before)
        score_days(ml_lake.root, [ml_lake.days[-1]], ml_lake.instance)


def test_scoring_without_a_promoted_model_says_what_to_do(tmp_path):
    write_sample(tmp_path, SampleSpec(days=1, orders_per_day=20))
    instance = DagsterInstance.ephemeral()
    assert all(r.success for r in materialize_days(tmp_path, [ML_SPEC.start], instance))
    [run] = score_days(tmp_path, [ML_SPEC.start], instance)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert "Materialize sentiment_model first" in str(failure.event_specific_data.error)
