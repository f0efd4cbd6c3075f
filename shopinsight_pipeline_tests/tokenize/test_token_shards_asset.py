"""review_tokenizer and review_token_shards as assets on the ML lake: every validated review
tokenized unpadded under the tokenizer's hash, re-runs replace, a missing base model is named."""

import json

import polars as pl
import pyarrow.parquet as pq
from dagster import DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.ml.shards import TOKENIZER_HASH_KEY
from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets, materialize_days
from shopinsight_pipeline_tests.ml_lake import (
    read_days,
)


def test_shards_hold_every_validated_review_unpadded_with_the_tokenizer_hash(ml_lake):
    storage = ml_lake.storage
    manifest = json.loads((ml_lake.root / "lake/models/review_tokenizer.json").read_text())
    assert manifest["added_tokens"] > 6000  # the GB2312 hanzi the English vocabulary lacks
    for day in ml_lake.days:
        validated = storage.read_partition("validated_reviews", day)
        shards = storage.read_partition("review_token_shards", day)
        assert sorted(shards.get_column("review_id")) == sorted(validated.get_column("review_id"))
        assert shards.schema["input_ids"] == pl.List(pl.Int32)
        assert (shards.get_column("length") == shards.get_column("input_ids").list.len()).all()
        assert not shards.get_column("input_ids").list.contains(0).any()  # 0 is [PAD]: nothing padded
        for path in storage.partition_files("review_token_shards", day):
            assert pq.read_schema(str(path)).metadata[TOKENIZER_HASH_KEY].decode() == manifest["hash"]
    reviews = read_days(storage, "review_token_shards", ml_lake.days)
    unknown = reviews.get_column("input_ids").explode().eq(100).mean()  # 100 is [UNK]
    assert unknown < 0.01


def test_rerunning_a_shard_partition_replaces_it(ml_lake):
    day = ml_lake.days[3]
    before = ml_lake.storage.read_partition("review_token_shards", day)
    prepare = build_definitions(str(ml_lake.root)).resolve_job_def("prepare_partition_job")
    [result] = materialize_days(ml_lake.root, [day], ml_lake.instance, PERMISSIVE, job=prepare)
    assert result.success
    assert ml_lake.storage.read_partition("review_token_shards", day).equals(before)
    folder = ml_lake.storage.partition_file("review_token_shards", day).parent
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_missing_model_directory_fails_naming_the_path(tmp_path):
    config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tmp_path / "no-such-model")}}}}
    run = materialize_assets(tmp_path, DagsterInstance.ephemeral(), ["review_tokenizer"], config)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"model directory {tmp_path / 'no-such-model'} does not exist" in str(failure.event_specific_data.error)
