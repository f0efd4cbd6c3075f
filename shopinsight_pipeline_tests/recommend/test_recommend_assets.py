"""customer_events, recommender_model and customer_recommendations as assets on a copy of the small
lake (nine days: a short history, so the split trains on two days)."""

import json
import shutil
from datetime import timedelta

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.privacy.pseudonyms import pseudonyms_of
from shopinsight_pipeline.resources import SAMPLE_PSEUDONYM_KEY
from shopinsight_pipeline.schemas import (
    CUSTOMER_EVENTS_SCHEMA,
    CUSTOMER_RECOMMENDATIONS_SCHEMA,
    INSIGHTS_SCHEMA,
    PURCHASE_PROPENSITY_SCHEMA,
)
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import Lake, materialize_assets


@pytest.fixture(scope="module")
def lake(lake: Lake, tmp_path_factory) -> Lake:
    """A copy of the session's lake with every day's customer_events (one range run)."""
    root = tmp_path_factory.mktemp("recommend-lake") / "root"
    shutil.copytree(lake.root, root)
    job = build_definitions(str(root)).resolve_implicit_global_asset_job_def()
    tags = {
        "dagster/asset_partition_range_start": lake.days[0].isoformat(),
        "dagster/asset_partition_range_end": lake.days[-1].isoformat(),
    }
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=[AssetKey("customer_events")], tags=tags
    )
    assert result.success
    return Lake(root, lake.manifest, lake.days)


SAMPLE_KEY = SAMPLE_PSEUDONYM_KEY.encode()


def read_all(storage: LakeStorage, table: str) -> pl.DataFrame:
    return pl.concat([storage.read_partition(table, day) for day in storage.partition_days(table)])


def test_customer_events_hold_every_kept_order_return_and_review_of_validated_rows(lake):
    storage = LakeStorage(root=str(lake.root))
    events = read_all(storage, "customer_events")
    assert dict(events.schema) == CUSTOMER_EVENTS_SCHEMA
    orders = read_all(storage, "validated_orders")
    reviews = read_all(storage, "validated_reviews")
    kept = orders.filter(pl.col("status") != "cancelled")
    counts = dict(events.group_by("event").len().iter_rows())
    assert counts["purchase"] == kept.height
    assert counts["return"] == kept.filter(pl.col("status") == "returned").height
    assert counts["review"] == reviews.height  # every review names an order validated before it
    # only customers of validated orders: a quarantined row's customer (empty, malformed) is nobody's
    assert set(events["customer_id"]) <= set(orders["customer_id"])
    review_events = events.filter(pl.col("event") == "review").join(
        orders.select("order_id", pl.col("customer_id").alias("buyer")), on="order_id"
    )
    assert (review_events["customer_id"] == review_events["buyer"]).all()
    assert (review_events["weight"] == (review_events["rating"].cast(pl.Float64) - 3) / 2).all()


def test_the_recommender_compares_the_candidates_on_a_time_split_and_records_why(lake):
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), ["recommender_model"])
    assert result.success
    storage = LakeStorage(root=str(lake.root))
    choice = json.loads((storage.models_path / "recommender_model.json").read_text(encoding="utf-8"))
    assert choice["last_day"] == lake.days[-1].isoformat()
    assert choice["cutoff"] == (lake.days[-1] - timedelta(days=7)).isoformat()
    assert set(choice["candidates"]) == {"popularity", "repeat", "cooccurrence", "sequence"}
    assert choice["training"]["sequence"]["steps"] > 0
    assert choice["champion"] in choice["candidates"] and choice["champion"] in choice["reason"]
    for metrics in choice["candidates"].values():
        for name in ("recall_at_10", "ndcg_at_10", "mrr"):
            interval = metrics["all"][name]
            assert 0 <= interval["low"] <= interval["point"] <= interval["high"] <= 1
        assert metrics["new"]["customers"] + metrics["returning"]["customers"] == metrics["all"]["customers"]
    [materialization] = result.asset_materializations_for_node("recommender_model")
    assert "NDCG@10" in materialization.metadata["metrics"].value


def test_recommendations_never_repeat_a_just_bought_product_nor_name_a_flagged_one(lake):
    """With just_bought_days set (its default 0 lets re-buys through, as real shops want), the
    served lists hold no product bought within those days unless its cycle is due."""
    storage = LakeStorage(root=str(lake.root))
    day = lake.days[-1]
    sold = read_all(storage, "validated_orders").group_by("product_id").len().sort("len", descending=True)
    flagged = sold["product_id"][0]  # the best seller: popularity would put it on every list
    finding = {name: None for name in INSIGHTS_SCHEMA} | {
        "run_date": day,
        "rank": 1,
        "type": "negative_share_jump",
        "entity_type": "product",
        "entity": flagged,
        "severity": "high",
        "sentence": "planted by the test",
        "language": "en",
    }
    storage.write_partition("insights", day, pl.DataFrame([finding], schema=INSIGHTS_SCHEMA))
    names = ["recommender_model", "customer_recommendations"]
    excluding = {"ops": {"recommender_model": {"config": {"just_bought_days": 14}}}}
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), names[:1], excluding)
    assert result.success
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), names[1:], partition_key=day.isoformat())
    assert result.success
    lists = storage.read_partition("customer_recommendations", day)
    assert dict(lists.schema) == CUSTOMER_RECOMMENDATIONS_SCHEMA
    assert lists.height > 0 and flagged not in set(lists["product_id"])
    events = read_all(storage, "customer_events").filter(pl.col("event") == "purchase")
    # gold shows pseudonyms: the sample's key, recomputed here from the shop's ids in customer_events
    events = events.with_columns(pseudonyms_of(events["customer_id"], SAMPLE_KEY))
    active = events.filter(pl.col("date") > day - timedelta(days=30))["customer_pseudonym"].unique()
    assert set(lists["customer_pseudonym"]) == set(active)
    assert not set(lists["customer_pseudonym"]) & set(events["customer_id"])  # no shop id reaches gold
    last_bought = events.group_by("customer_pseudonym", "product_id").agg(pl.col("date").max().alias("last"))
    repeated = lists.join(last_bought, on=["customer_pseudonym", "product_id"]).filter(
        (pl.lit(day) - pl.col("last")).dt.total_days() < 14
    )
    assert repeated["reason"].str.starts_with("re-order cycle due").all(), repeated
    assert lists.group_by("customer_pseudonym").agg(pl.col("rank").max())["rank"].max() <= 10
    [materialization] = result.asset_materializations_for_node("customer_recommendations")
    assert materialization.metadata["flagged_products_excluded"].value == flagged


def test_propensity_on_too_short_a_history_lists_every_customer_and_says_why(lake):
    """Nine days hold no labelled training week before the evaluation week: the table is written
    with every customer's features and null probabilities, and the metadata says why."""
    day = lake.days[-1]
    result = materialize_assets(
        lake.root, DagsterInstance.ephemeral(), ["purchase_propensity"], partition_key=day.isoformat()
    )
    assert result.success
    storage = LakeStorage(root=str(lake.root))
    table = storage.read_partition("purchase_propensity", day)
    assert dict(table.schema) == PURCHASE_PROPENSITY_SCHEMA
    buyers = read_all(storage, "customer_events").filter(pl.col("event") == "purchase")["customer_id"].unique()
    assert set(table["customer_pseudonym"]) == set(pseudonyms_of(buyers, SAMPLE_KEY))
    assert table["purchase_probability"].null_count() == table.height
    [materialization] = result.asset_materializations_for_node("purchase_propensity")
    assert "too little history" in materialization.metadata["note"].value


def test_a_serving_sequence_model_is_published_and_read_back_by_the_recommendations(lake, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(lake.root, root)
    only_learned = {"ops": {"recommender_model": {"config": {"candidates": ["sequence"], "sequence_epochs": 3}}}}
    assert materialize_assets(root, DagsterInstance.ephemeral(), ["recommender_model"], only_learned).success
    storage = LakeStorage(root=str(root))
    choice = json.loads((storage.models_path / "recommender_model.json").read_text(encoding="utf-8"))
    assert choice["champion"] == "sequence"
    assert sorted(path.name for path in (storage.models_path / "recommender" / "sequence").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    day = lake.days[-1]
    result = materialize_assets(
        root, DagsterInstance.ephemeral(), ["customer_recommendations"], partition_key=day.isoformat()
    )
    assert result.success
    lists = storage.read_partition("customer_recommendations", day)
    assert lists.height > 0 and set(lists["candidate"]) == {"sequence"}


def test_customer_pseudonyms_maps_each_days_customers_to_the_pseudonyms_gold_shows(lake):
    """The restricted mapping: operations resolve a pseudonym of customer_recommendations to the shop's id."""
    day = lake.days[-1]
    names = ["customer_pseudonyms", "purchase_propensity"]
    assert materialize_assets(lake.root, DagsterInstance.ephemeral(), names, partition_key=day.isoformat()).success
    storage = LakeStorage(root=str(lake.root))
    restricted = storage.read_partition("customer_pseudonyms", day)
    todays = storage.read_partition("customer_events", day)["customer_id"].unique()
    assert set(restricted["customer_id"]) == set(todays)
    assert restricted["customer_pseudonym"].to_list() == pseudonyms_of(restricted["customer_id"], SAMPLE_KEY).to_list()
    shown = storage.read_partition("purchase_propensity", day)
    resolved = shown.join(restricted, on="customer_pseudonym", how="inner")
    assert resolved.height > 0 and set(resolved["customer_id"]) <= set(todays)
