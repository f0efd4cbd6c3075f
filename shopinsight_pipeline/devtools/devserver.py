"""`dagster dev` in a subprocess, driven over GraphQL the way the UI drives it.

The browser test and `bench/backfill.py` use it: a real webserver and daemon on a free port of
127.0.0.1, the project's code location, a backfill launched as a job's Partitions page launches it
(launchPartitionBackfill on the job's partition set) or as the asset graph's Materialize dialog
does (assetSelection + partitionNames), and its progress polled.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster_graphql import DagsterGraphQLClient

from shopinsight_pipeline.devtools import PROJECT_ROOT
from shopinsight_pipeline.devtools.local_services import free_port

LOCATION_QUERY = """query { workspaceOrError { ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } } } } } } }"""
BACKFILL_MUTATION = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status isAssetBackfill
    partitionStatuses { results { partitionName runStatus } } } } }"""
FAILED = ("FAILED", "CANCELED", "COMPLETED_FAILED")
DONE = ("COMPLETED", "COMPLETED_SUCCESS")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class DevServer:
    """`dagster dev` over `data_root` with the instance in `home` (which holds its dagster.yaml)."""

    def __init__(self, home: Path, data_root: Path, log: Path, env: dict[str, str] | None = None):
        self.home, self.data_root, self.log = home, data_root, log
        self.port = free_port()
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "SHOPINSIGHT_DATA_ROOT": str(data_root),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.port)
        self.location: dict = {}

    def __enter__(self) -> "DevServer":
        dagster = Path(sys.executable).parent / "dagster"
        command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.location = wait_for(self._loaded_location, 240, "the code location to load")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def query(self, text: str, variables: dict | None = None) -> dict:
        return self.client._execute(text, variables)

    def _loaded_location(self) -> dict | None:
        try:
            entries = self.query(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except Exception:  # the server is still starting
            return None
        loaded = [
            e
            for e in entries
            if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        ]
        return loaded[0] if loaded else None

    def launch_backfill(self, job: str, days: list[str], run_config: dict | None = None) -> str:
        """Launch a backfill of `job` over `days`, as the job's Partitions page does; its id."""
        params = {
            "selector": {
                "partitionSetName": f"{job}_partition_set",
                "repositorySelector": {
                    "repositoryLocationName": self.location["name"],
                    "repositoryName": self.location["locationOrLoadError"]["repositories"][0]["name"],
                },
            },
            "partitionNames": days,
            "runConfigData": run_config or {},
        }
        return self._launch(params)

    def launch_asset_backfill(self, assets: list[str], days: list[str], run_config: dict | None = None) -> str:
        """Launch a backfill of `assets` over `days`, as the asset graph's *Materialize* dialog does
        (assetSelection + partitionNames): Dagster plans the runs from the declared lineage."""
        params = {
            "assetSelection": [{"path": asset.split("/")} for asset in assets],
            "partitionNames": days,
            "fromFailure": False,
            "runConfigData": run_config or {},
        }
        return self._launch(params)

    def _launch(self, params: dict) -> str:
        launched = self.query(BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"the backfill was not launched: {launched}")
        return launched["backfillId"]

    def wait_backfill(self, backfill_id: str, timeout: float) -> dict:
        """Poll until every partition succeeded (a job backfill) or every targeted asset partition was
        materialized (an asset backfill); a failed run or backfill raises naming the log."""

        def finished() -> dict | None:
            backfill = self.query(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            results = (backfill["partitionStatuses"] or {}).get("results") or []
            statuses = [r["runStatus"] for r in results]
            if backfill["status"] in FAILED or "FAILURE" in statuses:
                raise AssertionError(f"backfill failed: {backfill}; see {self.log}")
            every_run_done = backfill["isAssetBackfill"] or (statuses and all(s == "SUCCESS" for s in statuses))
            return backfill if backfill["status"] in DONE and every_run_done else None

        return wait_for(finished, timeout, f"backfill {backfill_id}", interval=2)

    def stop(self) -> None:
        """dagster dev and its children: ask politely, then insist (it can take a minute to drain)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
