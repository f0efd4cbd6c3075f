"""A backfill launched the way the UI launches it, against the in-process `make run` path.

    .venv/bin/python bench/backfill.py [--days 30] [--orders-per-day 420]

Both paths start from copies of one data root: the sample's landing files for N days, the
review tokenizer, and a TF-IDF champion registered without training (training is not what is
measured), and a recommender compared on the days' customer events. Then, over the same N days:

- in process: `nightly_partition_job` executed in process once per day, as `make run` runs its days;
- UI: `dagster dev` (webserver + daemon, the project's dagster_home/dagster.yaml) and a backfill of
  `nightly_partition_job` over the N days launched through GraphQL as the job's *Launch backfill*
  button does, timed from launch until every partition succeeded.

Prints both times and their ratio (target: UI / in process <= 2), the runs the backfill made, and
where a run's time goes: launch -> RUN_START (the run process starting and loading the code),
RUN_START -> first step, and each step's start (STEP_START after the previous step ended).
"""

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, RunsFilter

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.devtools.devserver import PROJECT_ROOT, DevServer
from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
PERMISSIVE = {
    "ops": {f"validate_{e}": {"config": {"max_reject_rate": 1.0}} for e in ("orders", "reviews", "inventory")}
}


def prepare(root: Path, spec: SampleSpec) -> list[str]:
    write_sample(root, spec)
    job = build_definitions(str(root)).resolve_implicit_global_asset_job_def()
    job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=[AssetKey("review_tokenizer")], run_config=QUIET
    )
    register_corpus_scorer(ModelRegistry(LakeStorage(root=str(root)).sentiment_registry_path), 300, "benchmark scorer")
    days = [(spec.start + timedelta(days=offset)).isoformat() for offset in range(spec.days)]
    # the recommendations read a recommender, compared on the days' customer events (not timed)
    tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    upstream = ("raw_orders", "raw_reviews", "validated_orders", "quarantined_orders", "validated_reviews")
    job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        asset_selection=[AssetKey(name) for name in (*upstream, "quarantined_reviews", "customer_events")],
        tags=tags,
        run_config={**QUIET, **PERMISSIVE},
    )
    recommender = {**QUIET, "ops": {"recommender_model": {"config": {"candidates": ["popularity", "cooccurrence"]}}}}
    job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=[AssetKey("recommender_model")], run_config=recommender
    )
    return days


def in_process(root: Path, days: list[str]) -> float:
    job = build_definitions(str(root)).resolve_job_def("nightly_partition_job")
    instance = DagsterInstance.ephemeral()
    started = time.perf_counter()
    for day in days:
        result = job.execute_in_process(partition_key=day, instance=instance, run_config={**QUIET, **PERMISSIVE})
        assert result.success, day
    return time.perf_counter() - started


def through_the_ui(root: Path, home: Path, days: list[str]) -> tuple[float, str]:
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with DevServer(home, root, home / "dagster-dev.log") as server:
        started = time.perf_counter()
        backfill = server.launch_backfill("nightly_partition_job", days, PERMISSIVE)
        server.wait_backfill(backfill, timeout=3600)
        return time.perf_counter() - started, backfill


def where_the_time_goes(home: Path, backfill: str) -> dict:
    """Seconds per run from the instance's event log: launch -> RUN_START, RUN_START -> first step,
    and each step's start after the previous step ended (the in-run cost of starting a step)."""
    instance = DagsterInstance.from_config(str(home))
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill}))
    launch, first_step, step_starts, steps = [], [], [], 0
    for run in runs:
        events = [r.event_log_entry for r in instance.get_records_for_run(run.run_id).records]
        at = {}
        for entry in events:
            if entry.dagster_event is not None:
                at.setdefault(entry.dagster_event.event_type, entry.timestamp)
        launch.append(at[DagsterEventType.RUN_START] - at[DagsterEventType.RUN_STARTING])
        first_step.append(at[DagsterEventType.STEP_START] - at[DagsterEventType.RUN_START])
        previous_end = None
        for entry in events:
            kind = entry.dagster_event.event_type if entry.dagster_event else None
            if kind == DagsterEventType.STEP_START:
                steps += 1
                if previous_end is not None:
                    step_starts.append(entry.timestamp - previous_end)
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                previous_end = entry.timestamp
    return {
        "runs": len(runs),
        "steps": steps,
        "launch_to_run_start": statistics.median(launch),
        "run_start_to_first_step": statistics.median(first_step),
        "step_start_median": statistics.median(step_starts) if step_starts else 0.0,
        "step_start_max": max(step_starts) if step_starts else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=420)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopinsight-backfill-"))
    spec = SampleSpec(days=args.days, orders_per_day=args.orders_per_day)
    print(f"preparing {args.days} days under {work} ...", flush=True)
    days = prepare(work / "in-process", spec)
    shutil.copytree(work / "in-process", work / "ui")

    baseline = in_process(work / "in-process", days)
    print(f"in process, a run per day ({len(days)} runs): {baseline:.1f}s", flush=True)
    ui_seconds, backfill = through_the_ui(work / "ui", work / "dagster_home", days)
    costs = where_the_time_goes(work / "dagster_home", backfill)
    print(f"UI backfill through the daemon ({costs['runs']} runs, {costs['steps']} steps): {ui_seconds:.1f}s")
    print(
        f"  per run: launch -> RUN_START {costs['launch_to_run_start']:.1f}s, "
        f"RUN_START -> first step {costs['run_start_to_first_step']:.1f}s; "
        f"per step start: median {costs['step_start_median']:.2f}s, max {costs['step_start_max']:.2f}s"
    )
    print(f"ratio UI backfill / in process: {ui_seconds / baseline:.2f}  (target <= 2)")
    ui_lake, baseline_lake = LakeStorage(root=str(work / "ui")), LakeStorage(root=str(work / "in-process"))
    same = all(
        ui_lake.read_partition(table, day).equals(baseline_lake.read_partition(table, day))
        for table in ("validated_orders", "daily_sales", "review_scores", "insights")
        for day in (date.fromisoformat(key) for key in days)
    )
    print(f"both paths wrote the same tables: {same}")


if __name__ == "__main__":
    main()
