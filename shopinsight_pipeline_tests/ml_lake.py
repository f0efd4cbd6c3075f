"""The ML chain's lake for the tests of every stage it crosses: a small sample with a tiny random
model through tokenizer -> shards -> sentiment_model (train, evaluate, gate) -> review_scores ->
product_sentiment, and the helpers that run and read it."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets, materialize_days, sample_days

ML_SPEC = SampleSpec(
    days=8,
    orders_per_day=150,
    review_probability=0.9,
    truncated_orders_day=99,
    gbk_reviews_day=99,
    truncated_reviews_day=99,
)


FAST_TRAINING = {
    "min_train_examples": 50,
    "max_epochs": 2,
    "batch_size": 16,
    "eval_every_steps": 10,
    "checkpoint_every_steps": 10,
    "learning_rate": 1e-3,
    "cpu_max_steps": 0,
    "bootstrap_rounds": 300,
}


# A training job long enough to be killed mid-way, checkpointing often.
LONG_TRAINING = {
    **FAST_TRAINING,
    "max_steps": 400,
    "max_epochs": 100,
    "checkpoint_every_steps": 5,
    "eval_every_steps": 200,
    "retrain_unchanged": True,
}


@dataclass
class MlLake:
    root: Path
    storage: LakeStorage
    days: list
    instance: DagsterInstance
    first_model_run: object


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every row of the Markdown tables in `text` (header rows included)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not set(line) <= set("|-: ")
    ]


def read_days(storage: LakeStorage, table: str, days) -> pl.DataFrame:
    return pl.concat([storage.read_partition(table, day) for day in days])


def train(ml: "MlLake | Path", instance, **overrides):
    root = ml.root if isinstance(ml, MlLake) else ml
    config = {"ops": {"sentiment_model": {"config": {**FAST_TRAINING, **overrides}}}}
    return materialize_assets(root, instance, ["sentiment_model"], config)


def score_days(root: Path, days, instance) -> list:
    job = build_definitions(str(root)).resolve_job_def("score_partition_job")
    return [job.execute_in_process(partition_key=d.isoformat(), instance=instance, raise_on_error=False) for d in days]


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return {key: getattr(value, "value", value) for key, value in event.materialization.metadata.items()}


def check_results(result) -> dict:
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def kill_training_after_a_checkpoint(root: str | Path, config: dict, reached: Callable[[], int]) -> int:
    """Materialize sentiment_model in another process and SIGKILL it once `reached()` (the furthest
    complete checkpoint it can see) is past 0; returns that step."""
    script = (
        "import json, sys; from dagster import DagsterInstance; "
        "from shopinsight_pipeline_tests.conftest import materialize_assets; "
        "materialize_assets(sys.argv[1], DagsterInstance.ephemeral(), ['sentiment_model'], json.loads(sys.argv[2]))"
    )
    # the root may be an object store's URL: the worker's stderr goes to a local temporary file
    errors = Path(tempfile.mkdtemp(prefix="killed-worker-")) / "stderr"
    with open(errors, "wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-c", script, str(root), json.dumps(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while not reached():
            if worker.poll() is not None:
                tail = errors.read_text(errors="replace")[-3000:]
                raise AssertionError(f"training ended before it wrote a checkpoint; its stderr ends:\n{tail}")
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    return reached()


def build_ml_lake(root: Path, tiny_model_dir: Path) -> MlLake:
    """The small ML sample materialized up to review_scores and product_sentiment, with a first
    sentiment model trained on the tiny model (the `ml_lake` fixture, built once a session)."""
    write_sample(root, ML_SPEC)
    instance = DagsterInstance.ephemeral()
    days = sample_days(ML_SPEC)
    tokenizer_config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    assert materialize_assets(root, instance, ["review_tokenizer"], tokenizer_config).success
    prepare = build_definitions(str(root)).resolve_job_def("prepare_partition_job")
    assert all(r.success for r in materialize_days(root, days, instance, PERMISSIVE, job=prepare))
    first = train(root, instance)
    assert first.success
    assert all(r.success for r in score_days(root, days, instance))
    return MlLake(root, LakeStorage(root=str(root)), days, instance, first)
