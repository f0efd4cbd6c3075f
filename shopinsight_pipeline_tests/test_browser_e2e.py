"""End to end as an operator sees it: `dagster dev` on 127.0.0.1, the code location over GraphQL,
a two-day backfill of the nightly job through the daemon, then the UI and the insight report in
headless Chromium (screenshots kept next to the test's temp lake)."""

import shutil
import subprocess
from datetime import timedelta

import pytest
from dagster import DagsterInstance, RunsFilter

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.devserver import PROJECT_ROOT, DevServer
from shopinsight_pipeline.location_runs import LocationRuns
from shopinsight_pipeline.ml.fit import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SPEC = SampleSpec(days=2, orders_per_day=60, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)

ASSETS_QUERY = "query { assetNodes { assetKey { path } } }"
RUN_ORIGIN_QUERY = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
  repositoryOrigin { repositoryLocationName repositoryName } } } }"""


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
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    write_sample(lake, SPEC)
    config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    # as make run materializes it: a run executed here, filed under the code location
    tokenizer_run = LocationRuns(DagsterInstance.from_config(str(home)), str(lake)).run(
        assets=["review_tokenizer"], run_config=config
    )
    assert tokenizer_run.success
    register_corpus_scorer(
        ModelRegistry(LakeStorage(root=str(lake)).sentiment_registry_path), 200, "end-to-end test scorer"
    )

    # one day per run, so the two days are two runs that Dagster must order (validation reads the day before)
    with DevServer(home, lake, tmp_path / "dagster.log", env={"SHOPINSIGHT_BACKFILL_DAYS_PER_RUN": "1"}) as server:
        assets = {"/".join(node["assetKey"]["path"]) for node in server.query(ASSETS_QUERY)["assetNodes"]}
        expected = {
            key.to_user_string() for key in build_definitions(str(lake)).resolve_asset_graph().get_all_asset_keys()
        }
        assert assets == expected
        # dagster.yaml turns the UI's "join the community" pop-up off: it would cover the screenshots
        assert server.query("query { shouldShowNux }")["shouldShowNux"] is False
        # make run's runs are the location's, as UI-launched runs are (the Overview timeline lists them)
        run = server.query(RUN_ORIGIN_QUERY, {"id": tokenizer_run.run_id})["runOrError"]
        assert run["repositoryOrigin"] == {
            "repositoryLocationName": server.location["name"],
            "repositoryName": server.location["locationOrLoadError"]["repositories"][0]["name"],
        }

        days = [SPEC.start.isoformat(), (SPEC.start + timedelta(days=1)).isoformat()]
        # as the job's Partitions page launches it. Dagster does not order a job backfill's runs by the
        # partition mappings (dagster-io/dagster#11962): it submits them oldest first, and the shipped
        # run queue starts one at a time, so day 2's validation sees day 1.
        backfill = server.launch_backfill("nightly_partition_job", days)
        server.wait_backfill(backfill, 420)
        runs = DagsterInstance.from_config(str(home)).get_run_records(RunsFilter(tags={"dagster/backfill": backfill}))
        by_day = {record.dagster_run.tags["dagster/partition"]: record for record in runs}
        assert sorted(by_day) == days  # a run per day (SHOPINSIGHT_BACKFILL_DAYS_PER_RUN=1) ...
        assert by_day[days[1]].start_time >= by_day[days[0]].end_time  # ... one after the other, oldest first
        report = LakeStorage(root=str(lake)).report_dir(SPEC.start + timedelta(days=1)) / "report.html"
        assert report.is_file()

        graph_png, report_png = tmp_path / "asset-graph.png", tmp_path / "insight-report.png"
        url = f"http://127.0.0.1:{server.port}/asset-groups"
        dom = chromium("--virtual-time-budget=15000", "--dump-dom", url)
        assert dom.returncode == 0, dom.stderr
        assert "raw_orders" in dom.stdout or "ingest" in dom.stdout, "the asset graph did not render"
        for error in ("Something went wrong", "Unexpected Application Error", "PythonError"):
            assert error not in dom.stdout
        shot = chromium("--virtual-time-budget=15000", f"--screenshot={graph_png}", url)
        assert shot.returncode == 0 and graph_png.stat().st_size > 10_000, shot.stderr
        shot = chromium(f"--screenshot={report_png}", report.as_uri())
        assert shot.returncode == 0 and report_png.stat().st_size > 10_000, shot.stderr
