"""Runs executed in this process that the UI files under the code location, as it files runs it
launched itself: they appear in the Overview timeline and can be re-executed from the UI.

`execute_in_process` records runs without a code-location origin, so `make run`'s work was missing
from the Overview. Here a run is created with the origin of the location `workspace.yaml` loads
(`remote_job_origin`) and of the code that rebuilds its job (`job_code_origin`), then executed in
this process, steps in one process as every run of this project.

Private Dagster APIs, on purpose and only here. No public API creates a run that carries a code
location's origin without a webserver to launch it: `execute_job` and `execute_in_process` file runs
with no origin (the Overview leaves them out), and launching through the GraphQL client needs a
running webserver and daemon, which `make run` does not start. So this module uses, from
`dagster._core`: ReconstructableRepository (rebuild a job from the module), the code-location and
repository origin records (what the UI files a run under), LoadableTargetOrigin, and execute_run.
shopinsight_pipeline_tests/location/test_private_dagster_api.py checks each of them and the
arguments used here, and fails naming this file when a Dagster upgrade changes one.
"""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from dagster import AssetKey, DagsterInstance
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from shopinsight_pipeline.devtools import PROJECT_ROOT

MODULE = "shopinsight_pipeline.definitions"


def workspace_location_name() -> str:
    """The location name workspace.yaml gives the code location (the UI files runs under it)."""
    import yaml

    [entry] = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    return entry["python_module"].get("location_name", MODULE)


LOCATION_NAME = workspace_location_name()
REPOSITORY_NAME = "__repository__"  # the repository a Definitions object makes
ASSET_JOB = "__ASSET_JOB"  # the implicit job of every asset: materializing a selection of assets
# The tags a backfill's range run carries (Dagster's documented run tags, written out here).
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)  # asset check name -> passed


@contextmanager
def _data_root(root: str) -> Iterator[None]:
    """The code location reads its data root from the environment when it is (re)built."""
    before = os.environ.get("SHOPINSIGHT_DATA_ROOT")
    os.environ["SHOPINSIGHT_DATA_ROOT"] = root
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SHOPINSIGHT_DATA_ROOT", None)
        else:
            os.environ["SHOPINSIGHT_DATA_ROOT"] = before


class LocationRuns:
    """Create and execute runs of the project's code location over `data_root`."""

    def __init__(self, instance: DagsterInstance, data_root: str):
        self.instance, self.data_root = instance, str(data_root)
        self.repository = ReconstructableRepository.for_module(
            MODULE, "definitions_from_environment", working_directory=str(PROJECT_ROOT)
        )
        target = LoadableTargetOrigin(
            executable_path=sys.executable, module_name=MODULE, working_directory=str(PROJECT_ROOT)
        )
        location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=LOCATION_NAME)
        self.repository_origin = RemoteRepositoryOrigin(location, REPOSITORY_NAME)

    def run(
        self,
        job_name: str = ASSET_JOB,
        assets: list[str] | None = None,
        partition_key: str | None = None,
        run_config: Mapping | None = None,
        partition_range: tuple[str, str] | None = None,
    ) -> RunOutcome:
        """One run of `job_name` (or of the named assets), for one partition or an inclusive range of
        them (one run over the days, as a backfill's range run) when given."""
        with _data_root(self.data_root):
            job = self.repository.get_reconstructable_job(job_name)
            selection = {AssetKey(name) for name in assets} if assets else None
            if selection:
                job = job.get_subset(asset_selection=selection)
            job_def = job.get_definition()
            tags = (
                job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=selection)
                if partition_key
                else {}
            )
            if partition_range:
                tags = {RANGE_START: partition_range[0], RANGE_END: partition_range[1]}
            dagster_run = self.instance.create_run_for_job(
                job_def,
                run_config=dict(run_config or {}),
                tags=tags,
                asset_selection=frozenset(selection) if selection else None,
                remote_job_origin=RemoteJobOrigin(self.repository_origin, job_name),
                job_code_origin=job.get_python_origin(),
            )
            result = execute_run(job, dagster_run, self.instance)
        checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
        return RunOutcome(dagster_run.run_id, result.success, checks)
