"""The code location `dagster dev` loads (see workspace.yaml and [tool.dagster])."""

import os

from dagster import Definitions

from shopinsight_pipeline.ingest.assets import raw_orders, raw_reviews
from shopinsight_pipeline.jobs import nightly_partition_job, nightly_schedule
from shopinsight_pipeline.reports.assets import daily_sales
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.assets import validate_orders, validate_reviews


def build_definitions(data_root: str | None = None) -> Definitions:
    """Definitions over a data root; the environment sets it in deployments, tests pass tmp paths."""
    root = data_root or os.environ.get("SHOPINSIGHT_DATA_ROOT", "data")
    return Definitions(
        assets=[raw_orders, raw_reviews, validate_orders, validate_reviews, daily_sales],
        jobs=[nightly_partition_job],
        schedules=[nightly_schedule],
        resources={"storage": LakeStorage(root=root)},
    )


defs = build_definitions()
