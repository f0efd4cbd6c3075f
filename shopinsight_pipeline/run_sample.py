"""Materialize every asset for every sample partition, then say where the tables are.

Order: the tokenizer, every day up to token shards, daily_sales, category_trends and
customer_events, the sentiment model (train, evaluate, promote), the aspect tagger (learned vs
lexicon, gated), every day's scores, review aspects, aspect_sentiment and product_sentiment, the
recommender (candidates compared, the best promoted), the product demand forecasts of the 13 nights
before the last day (one range run, as a backfill: inventory_plan's policy replay needs at least 7
stored forecasts), then sales_forecast, the product demand forecast and the inventory plan, the
insights, the report and the customer recommendations of the last sample day.

    python -m shopinsight_pipeline.run_sample [--root data]

This is what `make run` calls. Runs are recorded in $DAGSTER_HOME when it is set (the Makefile
points it at dagster_home/) with the code location's origin, so `make ui` shows them in its run
history and Overview timeline under the location, as runs it launched itself.
"""

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from dagster import DagsterInstance

from shopinsight_pipeline.devtools.location_runs import LocationRuns
from shopinsight_pipeline.jobs import prepare_partition_job, score_partition_job
from shopinsight_pipeline.partitions import MAX_DAYS_PER_RUN
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.score.serving import serving_version
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage
from shopinsight_pipeline.train.config import GATE

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
REPLAY_NIGHTS = 13  # nights of product demand forecasts before the last day: inventory_plan replays 14


def run_partitions(runs: LocationRuns, job_name: str, days: list, started: float) -> bool:
    """The days in range runs of up to MAX_DAYS_PER_RUN days, oldest first, as a UI backfill runs
    them (each run loops over its days and writes one file per day)."""
    done = 0
    for first in range(0, len(days), MAX_DAYS_PER_RUN):
        chunk = days[first : first + MAX_DAYS_PER_RUN]
        span = (chunk[0].isoformat(), chunk[-1].isoformat())
        outcome = runs.run(job_name, partition_range=span, run_config=QUIET)
        if not outcome.success:
            print(f"{job_name} for {span[0]}..{span[1]} failed; see `make ui` (run {outcome.run_id})", file=sys.stderr)
            return False
        done += len(chunk)
        print(
            f"[{job_name} {done}/{len(days)} days] {span[0]}..{span[1]} done ({time.monotonic() - started:.0f}s)",
            flush=True,
        )
    return True


def run_assets(runs: LocationRuns, names: list[str], partition_key: str | None = None) -> bool:
    """Materialize some assets (the tokenizer, one day's forecast and report) as one recorded run."""
    outcome = runs.run(assets=names, partition_key=partition_key, run_config=QUIET)
    if not outcome.success:
        print(f"materializing {names} failed; see `make ui` (run {outcome.run_id})", file=sys.stderr)
    return outcome.success


def run_range(runs: LocationRuns, names: list[str], first: date, last: date) -> bool:
    """Materialize some assets for an inclusive range of days in one run, as a UI backfill would."""
    outcome = runs.run(assets=names, partition_range=(first.isoformat(), last.isoformat()), run_config=QUIET)
    if not outcome.success:
        print(
            f"materializing {names} for {first} to {last} failed; see `make ui` (run {outcome.run_id})", file=sys.stderr
        )
    return outcome.success


def run_training(runs: LocationRuns) -> bool:
    """Train and gate. The champion keeps serving whatever the gate decides: scoring goes on with
    whichever scorer the pointer names, as the nightly job would."""
    print("training sentiment_model (a few minutes on a CPU)...", flush=True)
    outcome = runs.run(assets=["sentiment_model"], run_config=QUIET)
    if outcome.success:
        return True
    if outcome.checks.get(GATE) is False:
        print(f"the new challenger did not pass {GATE}; the champion keeps serving (run {outcome.run_id})")
        return True
    print(f"materializing ['sentiment_model'] failed; see `make ui` (run {outcome.run_id})", file=sys.stderr)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="data", help="data root (default: data)")
    args = parser.parse_args(argv)

    spec = SampleSpec()
    manifest = write_sample(Path(args.root), spec)
    print(f"sample landing zone: {Path(args.root) / 'landing'} ({len(manifest['planted'])} planted defects)")
    runs = LocationRuns(DagsterInstance.get(), os.path.abspath(args.root))
    days = [spec.start + timedelta(days=offset) for offset in range(spec.days)]
    started = time.monotonic()
    steps = [
        lambda: run_assets(runs, ["review_tokenizer"]),
        lambda: run_partitions(runs, prepare_partition_job.name, days, started),
        lambda: run_training(runs),
        lambda: run_assets(runs, ["aspect_tagger"]),
        lambda: run_partitions(runs, score_partition_job.name, days, started),
        lambda: run_assets(runs, ["recommender_model"]),
        # the nights before the last, as a shop that ran nightly would have: inventory_plan replays its
        # rule over the days with a stored forecast (it needs 7) and reports it in its metadata
        lambda: run_range(runs, ["product_demand_forecast"], days[-REPLAY_NIGHTS - 1], days[-2]),
        lambda: run_assets(
            runs,
            [
                "sales_forecast",
                "product_demand_forecast",
                "inventory_plan",
                "insights",
                "insight_report",
                "customer_recommendations",
                "purchase_propensity",
            ],
            days[-1].isoformat(),
        ),
    ]
    for step in steps:
        if not step():
            return 1

    storage = LakeStorage(root=args.root)
    champion = serving_version(storage)
    print(
        f"\nserving sentiment scorer: {champion['served_version']} ({champion['kind']}, test macro-F1 "
        f"{champion['test_macro_f1']:.4f})\n  why: {champion['reason']}"
    )
    recommender = json.loads((storage.models_path / "recommender_model.json").read_text(encoding="utf-8"))
    print(f"serving recommender: {recommender['champion']}\n  why: {recommender['reason']}")
    print(f"\noutput tables under {storage.root_path / 'lake'}:")
    for table in TABLE_LAYERS:
        rows = sum(storage.row_count(table, day) for day in storage.partition_days(table))
        print(f"  {table:<22} {rows:>8} rows  {storage.table_path(table)}")
    print(f"\ninsight report: {storage.report_dir(days[-1]) / 'report.html'}")
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
