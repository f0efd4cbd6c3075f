"""Cost of one new day for the whole nightly chain (no retraining) with short and long histories.

    .venv/bin/python bench/incremental.py [--history 60 365] [--orders-per-day 120] [--repeat 3]

For each history length H it writes a sample of H + 1 days (flat demand: the new day is as busy after
365 days as after 60, so only the history differs; with the sample's growth a year's last day holds
ten times the orders of the 60th), materializes the first H days (ingest,
validation, daily_sales, trends; a TF-IDF scorer is registered as champion so scoring needs no
training; customer_events, and a recommender compared on them), then times `nightly_partition_job`
for day H + 1 (ingest -> shards -> scores -> trends, forecast, insights, report, customer events,
recommendations, purchase propensity), re-running it `--repeat` times (the median is reported).
Target: time(365) / time(60) <= 1.3 — the nightly cost must not grow with history.
"""

import os
from pathlib import Path

# Long histories start before the sample's first partition: open the partitions earlier.
os.environ.setdefault("SHOPINSIGHT_START_DATE", "2025-01-01")

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta

from dagster import AssetKey, DagsterEventType, DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
# The first days of a sample hold a handful of reviews, two of them planted defects can exceed the 10%
# reject threshold: the history is timed, not judged.
PERMISSIVE = {
    "ops": {f"validate_{e}": {"config": {"max_reject_rate": 1.0}} for e in ("orders", "reviews", "inventory")}
}
HISTORY_CONFIG = {**QUIET, **PERMISSIVE}
# The new day's recommendations read a recommender; training it is not what is timed. Both histories
# serve co-occurrence (the costlier count-based candidate): with the gate free to choose, the 60-day
# history served popularity and the 365-day one co-occurrence, which timed the choice, not the history.
RECOMMENDER = {"candidates": ["cooccurrence"]}
LAST_DAY = date(2026, 9, 30)  # every history ends on the same new day
# what the nights before the timed one materialized (the models are set up apart)
HISTORY = (
    "raw_orders",
    "raw_reviews",
    "validated_orders",
    "quarantined_orders",
    "validated_reviews",
    "quarantined_reviews",
    "daily_sales",
    "category_trends",
    "review_token_shards",
    "review_scores",
    "product_sentiment",
    "customer_events",
    "raw_inventory",  # the stock counts the demand forecast reads (absent before issue 28: skipped there)
    "validated_inventory",
    "quarantined_inventory",
)


def prepare(root: Path, history: int, orders_per_day: int, customers_factor: float = 1.0) -> list:
    """Write and materialize the history; `customers_factor` scales the sample's customer arrivals
    (more orders a day from as many more customers, as a bigger shop has)."""
    defaults = SampleSpec()
    spec = SampleSpec(
        customers_at_start=round(defaults.customers_at_start * customers_factor),
        new_customers_per_day=round(defaults.new_customers_per_day * customers_factor),
        start=LAST_DAY - timedelta(days=history),
        days=history + 1,
        orders_per_day=orders_per_day,
        truncated_orders_day=-1,
        gbk_reviews_day=-1,
        truncated_reviews_day=-1,
        category_growth=False,  # the new day as busy after 365 days as after 60: only the history differs
    )
    write_sample(root, spec)
    days = [spec.start + timedelta(days=offset) for offset in range(spec.days)]
    defs = build_definitions(str(root))
    instance = DagsterInstance.ephemeral()
    assets = defs.resolve_implicit_global_asset_job_def()
    assets.execute_in_process(instance=instance, asset_selection=[AssetKey("review_tokenizer")], run_config=QUIET)
    register_corpus_scorer(ModelRegistry(LakeStorage(root=str(root)).sentiment_registry_path), 300, "benchmark scorer")
    history_selection = [AssetKey(name) for name in HISTORY]
    started = time.perf_counter()
    for day in days[:-1]:
        result = assets.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            asset_selection=history_selection,
            run_config=HISTORY_CONFIG,
            raise_on_error=True,
        )
        assert result.success
    # the recommendations of the new day need a recommender: one, as retrain_job would leave it
    recommender = {**QUIET, "ops": {"recommender_model": {"config": RECOMMENDER}}}
    assets.execute_in_process(
        instance=instance, asset_selection=[AssetKey("recommender_model")], run_config=recommender
    )
    print(f"  history of {history} days materialized in {time.perf_counter() - started:.0f}s", flush=True)
    return days


def step_seconds(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Each step's duration from the run's STEP_SUCCESS events: where the time of a run went."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
    return {
        record.event_log_entry.step_key or "?": record.event_log_entry.dagster_event.event_specific_data.duration_ms
        / 1000
        for record in records
    }


def time_new_day(root: Path, day, repeat: int) -> tuple[float, dict[str, float]]:
    """Median seconds of the nightly job for `day`, and each step's median seconds."""
    job = build_definitions(str(root)).resolve_job_def("nightly_partition_job")
    config = HISTORY_CONFIG
    times = []
    steps: dict[str, list[float]] = {}
    for attempt in range(repeat + 1):  # the first run warms imports and caches
        instance = DagsterInstance.ephemeral()
        started = time.perf_counter()
        result = job.execute_in_process(partition_key=day.isoformat(), instance=instance, run_config=config)
        times.append(time.perf_counter() - started)
        assert result.success
        if attempt:
            for step, seconds in step_seconds(instance, result.run_id).items():
                steps.setdefault(step, []).append(seconds)
    return statistics.median(times[1:]), {step: statistics.median(values) for step, values in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, nargs=2, default=[60, 365])
    parser.add_argument("--orders-per-day", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[int, float] = {}
    steps: dict[int, dict[str, float]] = {}
    for history in args.history:
        root = Path(tempfile.mkdtemp(prefix=f"shopinsight-incremental-{history}-"))
        print(f"history {history} days ({root})", flush=True)
        days = prepare(root, history, args.orders_per_day)
        results[history], steps[history] = time_new_day(root, days[-1], args.repeat)
        print(f"  one new day, whole nightly chain: {results[history]:.2f}s (median of {args.repeat})", flush=True)
    short, long = args.history
    print(f"per step, median seconds: {short} days -> {long} days (growth)")
    for step in sorted(steps[long], key=lambda name: steps[short].get(name, 0.0) - steps[long][name]):
        before, after = steps[short].get(step, 0.0), steps[long][step]
        print(f"  {step:<40} {before:6.2f} -> {after:6.2f}  ({after - before:+.2f})")
    print(f"ratio time({long}) / time({short}): {results[long] / results[short]:.2f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
