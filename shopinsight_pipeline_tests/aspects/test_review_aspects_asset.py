"""review_aspects as an asset on the ML lake: every row names a validated review of its day, an
aspect of the taxonomy, a clause of that review and the champion that judged it; a broken taxonomy
file fails the step naming the file."""

import json

import polars as pl
from dagster import DagsterInstance

from shopinsight_pipeline.aspects.clauses import split_clauses
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.schemas import REVIEW_ASPECTS_SCHEMA
from shopinsight_pipeline_tests.conftest import materialize_assets
from shopinsight_pipeline_tests.ml_lake import metadata


def test_every_aspect_row_names_a_review_of_its_day_a_clause_of_it_and_the_champion(ml_lake):
    champion = json.loads((ml_lake.root / "lake/models/sentiment/champion.json").read_text())
    keys = set(load_taxonomy().keys)
    tagged_days = 0
    for day in ml_lake.days:
        reviews = ml_lake.storage.read_partition("validated_reviews", day)
        aspects = ml_lake.storage.read_partition("review_aspects", day)
        assert dict(aspects.schema) == REVIEW_ASPECTS_SCHEMA
        tagged_days += aspects.height > 0
        texts = dict(reviews.select("review_id", "review_text").iter_rows())
        for row in aspects.iter_rows(named=True):
            assert row["span"] in split_clauses(texts[row["review_id"]])
            assert row["aspect"] in keys and row["polarity"] in {"negative", "positive", "neutral"}
        assert aspects.select(pl.struct("review_id", "aspect").is_unique().all()).item()  # one row per review x aspect
        assert set(aspects.get_column("model_version")) <= {champion.get("refit_version", champion["version"])}
    assert tagged_days >= len(ml_lake.days) - 2  # the first days have few or no reviews


def test_the_step_reports_what_it_tagged(ml_lake):
    day = ml_lake.days[-1].isoformat()
    run = materialize_assets(ml_lake.root, ml_lake.instance, ["review_aspects"], partition_key=day)
    assert run.success
    info = metadata(run, "review_aspects")
    reviews = ml_lake.storage.read_partition("validated_reviews", ml_lake.days[-1])
    aspects = ml_lake.storage.read_partition("review_aspects", ml_lake.days[-1])
    assert info["reviews"] == reviews.height
    assert info["reviews_with_an_aspect"] == aspects.get_column("review_id").n_unique() > 0
    assert info["dagster/row_count"] == aspects.height
    assert info["tagger"].startswith("lexicon taxonomy-v")
    assert "| aspect" in info["mentions_by_polarity"]


def test_a_taxonomy_file_with_a_duplicate_key_fails_the_step_naming_it(ml_lake, tmp_path):
    taxonomy = tmp_path / "shop.yaml"
    taxonomy.write_text("version: 1\naspects:\n  price: {seeds: [贵]}\n  price: {seeds: [便宜]}\n", encoding="utf-8")
    config = {"ops": {"review_aspects": {"config": {"taxonomy_file": str(taxonomy)}}}}
    run = materialize_assets(
        ml_lake.root,
        DagsterInstance.ephemeral(),
        ["review_aspects"],
        config,
        partition_key=ml_lake.days[-1].isoformat(),
    )
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"{taxonomy}: key 'price' appears twice" in str(failure.event_specific_data.error)
