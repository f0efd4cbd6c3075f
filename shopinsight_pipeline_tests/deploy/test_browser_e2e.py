"""End to end as an operator sees it: `dagster dev` on 127.0.0.1, the code location over GraphQL,
a two-day backfill of every daily asset through the daemon, launched as the asset graph launches
it and ordered by Dagster from the declared lineage, then the UI and the insight report in
headless Chromium (screenshots kept next to the test's temp lake)."""

import csv
import html
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, RunsFilter

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.devtools.devserver import PROJECT_ROOT, DevServer
from shopinsight_pipeline.devtools.location_runs import LocationRuns
from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.schemas import column_descriptions
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import PERMISSIVE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SPEC = SampleSpec(days=2, orders_per_day=60, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)
SPEC_DAYS = [(SPEC.start + timedelta(days=offset)).isoformat() for offset in range(SPEC.days)]
UNPARTITIONED = {"review_tokenizer", "sentiment_model", "recommender_model"}

ASSETS_QUERY = "query { assetNodes { assetKey { path } } }"
RUN_ORIGIN_QUERY = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
  repositoryOrigin { repositoryLocationName repositoryName } } } }"""


def plant_order_id_of_day_one_in_day_two(lake: Path) -> str:
    """Give day 2's first order the id of a clean day-1 order; the id it must be quarantined for."""
    planted = {(p["file"], p["line"]) for p in json.loads((lake / "landing" / "_planted.json").read_text())["planted"]}
    day_one, day_two = (lake / "landing" / "orders" / f"orders_{day}.csv" for day in SPEC_DAYS)

    def clean_rows(path: Path) -> list[dict]:  # rows (line 2 on) the sample planted no defect in
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [row for line, row in enumerate(rows, start=2) if (f"orders/{path.name}", line) not in planted]

    repeated_id = clean_rows(day_one)[0]["order_id"]
    renamed_id = clean_rows(day_two)[0]["order_id"]
    with day_two.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))  # rows as read: a planted extra field stays where it is
    column = lines[0].index("order_id")
    for line in lines[1:]:
        if line and line[column] == renamed_id:
            line[column] = repeated_id
    with day_two.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(lines)
    return repeated_id


def chromium(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, "--window-size=1400,900", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make test installs it when run as root)")
def test_ui_loads_backfills_two_days_in_lineage_order_and_renders(tmp_path, tiny_model_dir):
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

    repeated_id = plant_order_id_of_day_one_in_day_two(lake)

    # One day per run, so the two days are separate runs that Dagster must order; the sample's
    # closed history keeps the backfill to its two days (a window's later days would otherwise be
    # part of it: every partition downstream of the chosen ones, as the dialog says).
    closed_sample = {"SHOPINSIGHT_BACKFILL_DAYS_PER_RUN": "1", "SHOPINSIGHT_END_DATE": SPEC_DAYS[-1]}
    with DevServer(home, lake, tmp_path / "dagster.log", env=closed_sample) as server:
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

        # As the asset graph's Materialize dialog launches it, with the days asked for newest first:
        # Dagster plans the runs from the declared lineage, so day 1's validation (which day 2's
        # duplicate check reads through the self-dependency) must end before day 2's starts.
        # customer_recommendations needs a recommender: retrain_job on a new lake, as scoring needs a model
        daily = expected - UNPARTITIONED - {"customer_recommendations", "purchase_propensity"}
        # a tiny sample's second day holds a handful of reviews: the reject threshold is not what is tested
        backfill = server.launch_asset_backfill(sorted(daily), SPEC_DAYS[::-1], PERMISSIVE)
        server.wait_backfill(backfill, 480)
        runs = DagsterInstance.from_config(str(home)).get_run_records(RunsFilter(tags={"dagster/backfill": backfill}))
        validation = {
            record.dagster_run.tags["dagster/asset_partition_range_start"]: record
            for record in runs
            if AssetKey("validated_orders") in (record.dagster_run.asset_selection or ())
        }
        assert sorted(validation) == SPEC_DAYS  # a run per day (SHOPINSIGHT_BACKFILL_DAYS_PER_RUN=1) ...
        assert validation[SPEC_DAYS[1]].start_time >= validation[SPEC_DAYS[0]].end_time  # ... older day first
        storage, day_two = LakeStorage(root=str(lake)), SPEC.start + timedelta(days=1)
        duplicate = storage.read_partition("quarantined_orders", day_two).filter(pl.col("order_id") == repeated_id)
        assert duplicate.height == 1 and "order_id_seen_on_earlier_day" in duplicate.item(0, "rejected_rules")
        report = storage.report_dir(day_two) / "report.html"
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

        # the catalog (issue 26.5): a gold table's page lists its columns with their meanings
        page = chromium(
            "--virtual-time-budget=20000", "--dump-dom", f"http://127.0.0.1:{server.port}/assets/daily_sales"
        )
        assert page.returncode == 0, page.stderr
        for column, meaning in column_descriptions("daily_sales", []).items():
            assert column in page.stdout and html.escape(meaning, quote=False) in page.stdout, column
