"""One nightly run on the local lake against the same run on an object-store lake (same machine,
same data): what the store's requests and the model cache cost.

    .venv/bin/python bench/object_store.py [--days 30] [--orders-per-day 120] [--repeat 3]

Both lakes get the same sample of `--days` days (flat demand), the same history (every day but the
last: ingest, validation, daily_sales, trends, token shards, scores, customer events), the same
tokenizer, TF-IDF champion and co-occurrence recommender. Then `nightly_partition_job` for the last
day is timed `--repeat` times on each (median; a first run warms imports and, on the store, fills
the model cache). The store is moto's S3 server on 127.0.0.1 (a Python process: requests cost
more CPU and less latency than a real store across a network). Target: ratio <= 2. Prints each
step's median seconds on both lakes: where the extra time goes.
"""

import argparse
import gc
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from dagster import AssetKey, DagsterInstance
from incremental import HISTORY, HISTORY_CONFIG, QUIET, RECOMMENDER, time_new_day

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.devtools.local_services import ObjectStoreServer
from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage


def prepare(root: str, days: list[date]) -> None:
    """The history of every day but the last, a tokenizer, a TF-IDF champion and a recommender."""
    assets = build_definitions(root).resolve_implicit_global_asset_job_def()
    instance = DagsterInstance.ephemeral()
    assets.execute_in_process(instance=instance, asset_selection=[AssetKey("review_tokenizer")], run_config=QUIET)
    storage = LakeStorage(root=root)
    registry = ModelRegistry(storage.sentiment_registry_path)
    register_corpus_scorer(registry, 300, "benchmark scorer")
    registry.push(storage.sentiment_registry_store)  # nothing to do on the local lake
    for day in days[:-1]:
        assets.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            asset_selection=[AssetKey(name) for name in HISTORY],
            run_config=HISTORY_CONFIG,
        )
    recommender = {**QUIET, "ops": {"recommender_model": {"config": RECOMMENDER}}}
    assets.execute_in_process(
        instance=instance, asset_selection=[AssetKey("recommender_model")], run_config=recommender
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = SampleSpec(
        days=args.days,
        orders_per_day=args.orders_per_day,
        truncated_orders_day=-1,
        gbk_reviews_day=-1,
        truncated_reviews_day=-1,
        category_growth=False,
    )
    days = [spec.start + timedelta(days=offset) for offset in range(spec.days)]
    local = Path(tempfile.mkdtemp(prefix="shopinsight-local-lake-"))
    write_sample(local, spec)
    with ObjectStoreServer() as store:
        os.environ.update(store.environment)
        os.environ["SHOPINSIGHT_CACHE_DIR"] = tempfile.mkdtemp(prefix="shopinsight-model-cache-")
        import s3fs

        s3fs.S3FileSystem().put(str(local / "landing"), f"{store.bucket}/bench/landing", recursive=True)
        remote = f"s3://{store.bucket}/bench"
        results = {}
        for name, root in (("local", str(local)), ("object store", remote)):
            started = time.perf_counter()
            prepare(root, days)
            elapsed = time.perf_counter() - started
            print(f"{name}: history of {len(days) - 1} days prepared in {elapsed:.0f}s", flush=True)
            results[name] = time_new_day(Path(root) if name == "local" else root, days[-1], args.repeat)
            gc.collect()  # this phase's ephemeral instances, here rather than in a reader thread of the next
            print(f"{name}: one nightly run {results[name][0]:.2f}s (median of {args.repeat})", flush=True)
    (local_total, local_steps), (store_total, store_steps) = results["local"], results["object store"]
    print("per step, median seconds: local -> object store (extra)")
    for step in sorted(store_steps, key=lambda s: local_steps.get(s, 0.0) - store_steps[s])[:10]:
        before, after = local_steps.get(step, 0.0), store_steps[step]
        print(f"  {step:<40} {before:6.2f} -> {after:6.2f}  ({after - before:+.2f})")
    print(f"ratio object store / local: {store_total / local_total:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
