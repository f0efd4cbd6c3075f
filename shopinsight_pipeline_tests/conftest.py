"""Shared fixtures: a small generated landing zone and the lake materialized from it."""

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Tests fail steps on purpose; the jobs' retries (jobs.step_retry_policy) would run each of those
# steps again after 30 s and 60 s. The retry itself is tested with its own policy (test_step_retry.py).
os.environ["SHOPINSIGHT_STEP_RETRIES"] = "0"

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, Definitions, define_asset_job

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.freshness import freshness_checks
from shopinsight_pipeline.partitions import daily_partitions
from shopinsight_pipeline.sample import SampleSpec, write_sample

# Dirty enough that every defect kind is planted in a few days of data.
SMALL_SPEC = SampleSpec(
    days=9,
    orders_per_day=90,
    dirty_rate=0.2,
    truncated_orders_day=3,
    gbk_reviews_day=4,
    truncated_reviews_day=5,
)
# The sample is dirtier than the default threshold on purpose; the threshold has its own test.
PERMISSIVE = {
    "ops": {f"validate_{entity}": {"config": {"max_reject_rate": 1.0}} for entity in ("orders", "reviews", "inventory")}
}


@dataclass
class Lake:
    root: Path
    manifest: dict
    days: list[date]


def sample_days(spec: SampleSpec) -> list[date]:
    return [spec.start + timedelta(days=offset) for offset in range(spec.days)]


# One clean landing row of each kind, that tests change field by field.
GOOD_ORDER = {
    "order_id": "O1",
    "customer_id": "C1",
    "product_id": "P1",
    "category": "books",
    "quantity": "2",
    "unit_price": "10.50",
    "currency": "CNY",
    "order_ts": "2026-08-03T10:00:00+08:00",
    "status": "delivered",
}
GOOD_REVIEW = {
    "review_id": "R1",
    "order_id": "O1",
    "product_id": "P1",
    "rating": 5,
    "review_text": "好",
    "review_ts": "2026-08-03T09:00:00+08:00",
}


# The foundation (no model): ingest, validate and daily_sales.
FOUNDATION = (
    AssetSelection.groups("ingest", "validate") | AssetSelection.assets("daily_sales")
) - AssetSelection.checks(
    *freshness_checks
)  # freshness is judged against the clock by its sensor, not by a run of August's days


def foundation_job(root: Path):
    job = define_asset_job("foundation_job", selection=FOUNDATION, partitions_def=daily_partitions)
    return Definitions.merge(build_definitions(str(root)), Definitions(jobs=[job])).resolve_job_def(job.name)


def materialize_days(root: Path, days: list[date], instance: DagsterInstance, run_config=None, job=None) -> list:
    job = job or foundation_job(root)
    return [
        job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            run_config=run_config or PERMISSIVE,
            raise_on_error=False,
        )
        for day in days
    ]


def materialize_assets(root: Path, instance, names: list[str], run_config: dict | None = None, partition_key=None):
    """Materialize some assets (one day's, with `partition_key`) without raising on failure."""
    job = build_definitions(str(root)).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=[AssetKey(name) for name in names],
        run_config=run_config or {},
        partition_key=partition_key,
        raise_on_error=False,
    )


@pytest.fixture(scope="session")
def lake(tmp_path_factory) -> Lake:
    """The small sample, materialized day by day once for the whole session."""
    root = tmp_path_factory.mktemp("lake")
    manifest = write_sample(root, SMALL_SPEC)
    days = sample_days(SMALL_SPEC)
    results = materialize_days(root, days, DagsterInstance.ephemeral())
    assert all(result.success for result in results)
    return Lake(root, manifest, days)


def build_tiny_model(directory: Path) -> Path:
    """A randomly initialised 2-layer BERT with the default model's tokenizer: fast ML tests."""
    from transformers import BertConfig, BertModel

    from shopinsight_pipeline.ml.model_io import default_model_dir, load_tokenizer

    tokenizer = load_tokenizer(default_model_dir())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def ml_lake(tmp_path_factory, tiny_model_dir):
    """The ML chain's lake (shopinsight_pipeline_tests/ml_lake.py), built once for the tests of the
    tokenize, train, score, reports, lake and location stages that read it. Tests that change it
    (retraining, promoting by hand) restore the champion or run after those that read its scores."""
    from shopinsight_pipeline_tests.ml_lake import build_ml_lake

    return build_ml_lake(tmp_path_factory.mktemp("ml-lake"), tiny_model_dir)
