"""End to end as an operator sees it: `dagster dev` on 127.0.0.1, the code location over GraphQL,
a two-day backfill of the nightly job through the daemon, then the UI and the insight report in
headless Chromium (screenshots kept next to the test's temp lake)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster_graphql import DagsterGraphQLClient

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.ml.fit import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SPEC = SampleSpec(days=2, orders_per_day=60, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)

ASSETS_QUERY = "query { assetNodes { assetKey { path } } }"
LOCATION_QUERY = """query { workspaceOrError { ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } } } } } } }"""
BACKFILL_MUTATION = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL_STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status partitionStatuses { results { partitionName runStatus } } } } }"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def chromium(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, "--window-size=1400,900", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make test installs it when run as root)")
def test_ui_loads_backfills_two_days_and_renders(tmp_path, tiny_model_dir):
    lake, home = tmp_path / "lake", tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    write_sample(lake, SPEC)
    config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    result = (
        build_definitions(str(lake))
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            instance=DagsterInstance.ephemeral(), asset_selection=[AssetKey("review_tokenizer")], run_config=config
        )
    )
    assert result.success
    register_corpus_scorer(
        ModelRegistry(LakeStorage(root=str(lake)).sentiment_registry_path), 200, "end-to-end test scorer"
    )

    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SHOPINSIGHT_DATA_ROOT": str(lake),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "dagster.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)

        def location():
            try:
                entries = client._execute(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
            except Exception:  # the server is still starting
                return None
            loaded = [
                e
                for e in entries
                if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            ]
            return loaded[0] if loaded else None

        entry = wait_for(location, 240, "the code location to load")
        assets = {"/".join(node["assetKey"]["path"]) for node in client._execute(ASSETS_QUERY)["assetNodes"]}
        expected = {
            key.to_user_string() for key in build_definitions(str(lake)).resolve_asset_graph().get_all_asset_keys()
        }
        assert assets == expected
        # dagster.yaml turns the UI's "join the community" pop-up off: it would cover the screenshots
        assert client._execute("query { shouldShowNux }")["shouldShowNux"] is False

        days = [SPEC.start.isoformat(), (SPEC.start + timedelta(days=1)).isoformat()]
        params = {
            "selector": {
                "partitionSetName": "nightly_partition_job_partition_set",
                "repositorySelector": {
                    "repositoryLocationName": entry["name"],
                    "repositoryName": entry["locationOrLoadError"]["repositories"][0]["name"],
                },
            },
            "partitionNames": days,
            "runConfigData": {
                "ops": {f"validate_{e}": {"config": {"max_reject_rate": 1.0}} for e in ("orders", "reviews")}
            },
        }
        launched = client._execute(BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched

        def finished():
            backfill = client._execute(BACKFILL_STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"]
            statuses = [r["runStatus"] for r in backfill["partitionStatuses"]["results"]]
            if backfill["status"] in ("FAILED", "CANCELED", "COMPLETED_FAILED") or "FAILURE" in statuses:
                raise AssertionError(f"backfill failed: {backfill}; see {tmp_path / 'dagster.log'}")
            done = backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS") and statuses == ["SUCCESS", "SUCCESS"]
            return backfill if done else None

        wait_for(finished, 420, "the two-day backfill", interval=5)
        report = LakeStorage(root=str(lake)).report_dir(SPEC.start + timedelta(days=1)) / "report.html"
        assert report.is_file()

        graph_png, report_png = tmp_path / "asset-graph.png", tmp_path / "insight-report.png"
        url = f"http://127.0.0.1:{port}/asset-groups"
        dom = chromium("--virtual-time-budget=15000", "--dump-dom", url)
        assert dom.returncode == 0, dom.stderr
        assert "raw_orders" in dom.stdout or "ingest" in dom.stdout, "the asset graph did not render"
        for error in ("Something went wrong", "Unexpected Application Error", "PythonError"):
            assert error not in dom.stdout
        shot = chromium("--virtual-time-budget=15000", f"--screenshot={graph_png}", url)
        assert shot.returncode == 0 and graph_png.stat().st_size > 10_000, shot.stderr
        shot = chromium(f"--screenshot={report_png}", report.as_uri())
        assert shot.returncode == 0 and report_png.stat().st_size > 10_000, shot.stderr
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """dagster dev and its children: ask politely, then insist (it can take a minute to drain)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
