"""Shared fixtures: a small generated landing zone and the lake materialized from it."""

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
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
PERMISSIVE = {"ops": {f"validate_{entity}": {"config": {"max_reject_rate": 1.0}} for entity in ("orders", "reviews")}}


@dataclass
class Lake:
    root: Path
    manifest: dict
    days: list[date]


def sample_days(spec: SampleSpec) -> list[date]:
    return [spec.start + timedelta(days=offset) for offset in range(spec.days)]


def materialize_days(root: Path, days: list[date], instance: DagsterInstance, run_config=None) -> list:
    job = build_definitions(str(root)).resolve_job_def("nightly_partition_job")
    return [
        job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            run_config=run_config or PERMISSIVE,
            raise_on_error=False,
        )
        for day in days
    ]


@pytest.fixture(scope="session")
def lake(tmp_path_factory) -> Lake:
    """The small sample, materialized day by day once for the whole session."""
    root = tmp_path_factory.mktemp("lake")
    manifest = write_sample(root, SMALL_SPEC)
    days = sample_days(SMALL_SPEC)
    results = materialize_days(root, days, DagsterInstance.ephemeral())
    assert all(result.success for result in results)
    return Lake(root, manifest, days)
