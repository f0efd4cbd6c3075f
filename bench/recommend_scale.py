"""The recommender candidates at scale: 20,000 products and 200,000 customers (issue 22).

    .venv/bin/python bench/recommend_scale.py [--products 20000] [--customers 200000] [--days 61]
        [--candidates NAME,...] [--sequence-epochs 30] [--cpu] [--scale 1.0]

Targets, for every candidate of `gate.CANDIDATES`: peak resident memory under 4 GB, and fit + serve
under 10 minutes on a 2-core machine.

The embedded sample has 96 products and about 4,200 customers, too few for a scale problem to
show. Here the sample's own generator (`shopinsight_pipeline.sample.generate_orders`, the same
segments, category affinities and price tastes, arrivals and churn, re-order cycles, follow-ups and
bad experiences) writes the purchases through its scale knobs: `products_per_category` = products /
6 categories (the planted products keep their indices), `customers_at_start` and
`new_customers_per_day` in the sample's proportions (36% on day one, the rest over the other days)
so that about `--customers` customers arrive, and `orders_per_day` in the sample's proportion to
customers and days (420 a day for its 4,200 customers over 61 days), so each customer buys about
as often as in the sample (a few times: median 5, mean 8 purchases). The purchases are its orders less the
cancelled ones (customer, product, category, day: what `events.purchases_of` gives the
recommender). Generation runs in its own child process and is timed apart. The generator draws
each product by the segment's price taste: popularity within a category is fairly flat (no long
Zipf tail), which spreads the co-occurrence pairs over more products than a real shop's and leaves
little for any candidate to find among 20,000 products (NDCG@10 near 0.002): the numbers to read
here are the costs.

Then, as `gate.compare_candidates` judges them: the time split at T-7 (T: the last day with
purchases; `evaluation.time_split`), each candidate fitted on the days up to the cutoff
(`gate.fit_candidate`), top-10 lists served for every customer who bought in the 7 days after
(`recommend`), scored with `evaluation.ranking_metrics` (NDCG@10 with its 95% bootstrap interval
over customers). Each candidate runs in its own child process (multiprocessing, "spawn"), so its
peak resident memory (`ru_maxrss` inside the child: imports, the purchases, the fit and the lists;
read before the evaluation, whose bootstrap is not the candidate's) is its own. "base MB" is the
child's resident memory before the fit. "fit s" and "serve s" are wall-clock seconds, "CPU s" the
child's processor seconds (all its threads): on a shared machine the wall clock stretches with the
load, printed beside each candidate. The sequence model trains with the product's settings (30
epochs, and on a CPU at most `cpu_max_seconds` of training: 30 epochs would take hours on 2 cores at this
scale) unless `--sequence-epochs` says otherwise.
`--scale 0.1` multiplies products and customers (and so the orders) for quick trials.
"""

import argparse
import dataclasses
import json
import multiprocessing
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from _child import measure_in_child

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MEMORY_TARGET_MB = 4 * 1024
TIME_TARGET_SECONDS = 10 * 60
# the embedded sample: 1,500 customers on day one, 45 a day after, over 61 days; 420 orders a day
SAMPLE_CUSTOMERS_AT_START, SAMPLE_CUSTOMERS_PER_DAY, SAMPLE_DAYS, SAMPLE_ORDERS_PER_DAY = 1500, 45, 61, 420


def rss_mb() -> float:
    """This process's peak resident memory so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclasses.dataclass(frozen=True)
class Scale:
    """What to generate: the sample spec's knobs for `products` products, `customers` customers."""

    products: int
    customers: int
    days: int

    def spec(self):
        from shopinsight_pipeline.sample import CATEGORIES, SampleSpec

        sample_customers = SAMPLE_CUSTOMERS_AT_START + SAMPLE_CUSTOMERS_PER_DAY * (SAMPLE_DAYS - 1)
        at_start = round(self.customers * SAMPLE_CUSTOMERS_AT_START / sample_customers)
        per_day = round((self.customers - at_start) / max(self.days - 1, 1))
        orders_per_day = SAMPLE_ORDERS_PER_DAY * (self.customers / sample_customers) * (SAMPLE_DAYS / self.days)
        return SampleSpec(
            days=self.days,
            orders_per_day=max(1, round(orders_per_day)),
            products_per_category=max(1, round(self.products / len(CATEGORIES))),
            customers_at_start=at_start,
            new_customers_per_day=per_day,
        )


def generate(scale: Scale, path: str, queue) -> None:
    """In a child: the sample generator's orders at `scale`, less the cancelled ones, as the
    purchases frame in parquet at `path`; puts (seconds, peak MiB, orders) on `queue`."""
    import random

    import polars as pl

    from shopinsight_pipeline.sample import generate_orders, make_products

    spec = scale.spec()
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    by_day = generate_orders(spec, make_products(rng, spec.products_per_category), rng)
    columns: dict[str, list] = {"customer_id": [], "product_id": [], "category": [], "day": []}
    orders = 0
    for day, todays in by_day.items():
        orders += len(todays)
        for order in todays:
            if order["status"] != "cancelled":
                columns["customer_id"].append(order["customer_id"])
                columns["product_id"].append(order["product_id"])
                columns["category"].append(order["category"])
                columns["day"].append(day)
        todays.clear()  # the dicts are the bulk of the memory
    schema = {"customer_id": pl.String, "product_id": pl.String, "category": pl.String, "day": pl.Date}
    pl.DataFrame(columns, schema=schema).write_parquet(path)
    queue.put((time.perf_counter() - started, rss_mb(), orders))


@dataclasses.dataclass(frozen=True)
class Job:
    """What a candidate's child process needs."""

    name: str
    purchases: str
    folder: str
    sequence_epochs: int
    cpu: bool


def run_candidate(job: Job) -> None:
    """In the child: the split, the fit, top-10 for every evaluated customer, then the metrics;
    timings and memory to `folder`/`name`.json."""
    import polars as pl

    from shopinsight_pipeline.recommend.candidates import Catalogue
    from shopinsight_pipeline.recommend.evaluation import ranking_metrics, time_split
    from shopinsight_pipeline.recommend.gate import fit_candidate
    from shopinsight_pipeline.recommend.settings import (
        EVAL_DAYS,
        GateSettings,
        K,
        RecommenderSettings,
        SequenceSettings,
    )

    purchases = pl.read_parquet(job.purchases)
    last = purchases["day"].max()
    assert isinstance(last, date)
    split = time_split(purchases, last, EVAL_DAYS)
    customers = split.evaluation["customer_id"].unique().sort().to_list()
    catalogue_size = len(Catalogue.of(purchases))
    base = rss_mb()
    options: dict = {}
    if job.name == "sequence":
        options["sequence_settings"] = SequenceSettings(epochs=job.sequence_epochs, cpu=job.cpu)
    started, cpu = time.perf_counter(), time.process_time()
    fitted = fit_candidate(job.name, split.train, split.as_of, RecommenderSettings(), **options)
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    lists = fitted.recommend(customers, K)
    serve_seconds, serve_cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = rss_mb()
    gate = GateSettings()
    started = time.perf_counter()
    metrics = ranking_metrics(lists, split.evaluation, catalogue_size, K, gate.rounds, gate.confidence, gate.seed)
    report = getattr(fitted, "report", None)
    result = {
        "base_mb": base,
        "peak_mb": peak,
        "fit_seconds": fit_seconds,
        "serve_seconds": serve_seconds,
        "fit_cpu_seconds": fit_cpu,
        "serve_cpu_seconds": serve_cpu,
        "evaluate_seconds": time.perf_counter() - started,
        "evaluate_peak_mb": rss_mb(),
        "load": os.getloadavg()[0],  # other work on the machine stretches the wall-clock times
        "customers": len(customers),
        "rows": lists.height,
        "metrics": metrics.as_dict(),
        "training": {k: v for k, v in report.as_dict().items() if k != "history"} if report else None,
    }
    (Path(job.folder) / f"{job.name}.json").write_text(json.dumps(result), encoding="utf-8")


def measure(job: Job) -> dict | None:
    return measure_in_child(run_candidate, job)


def shown(interval: dict) -> str:
    return f"{interval['point']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def print_table(results: dict[str, dict | None]) -> None:
    from shopinsight_pipeline.markdown import table

    rows = []
    for name, result in results.items():
        if result is None:
            rows.append([name, *["failed"] * 11])
            continue
        total = result["fit_seconds"] + result["serve_seconds"]
        training = result["training"]
        rows.append(
            [
                name + (f" ({training['epochs']} epochs)" if training else ""),
                f"{result['fit_seconds']:.1f}",
                f"{result['serve_seconds']:.1f}",
                f"{result['fit_cpu_seconds']:.1f}",
                f"{result['serve_cpu_seconds']:.1f}",
                f"{result['base_mb']:,.0f}",
                f"{result['peak_mb']:,.0f}",
                shown(result["metrics"]["ndcg_at_10"]),
                f"{result['metrics']['catalogue_coverage']:.1%}",
                f"{result['evaluate_seconds']:.1f}",
                "yes" if result["peak_mb"] < MEMORY_TARGET_MB else "NO",
                "yes" if total < TIME_TARGET_SECONDS else "NO",
            ]
        )
    headers = [
        "candidate",
        "fit s",
        "serve s",
        "fit CPU s",
        "serve CPU s",
        "base MB",
        "peak MB",
        "NDCG@10 [95%]",
        "coverage",
        "eval s",
    ]
    print(table([*headers, "< 4 GB", "fit+serve < 10 min"], rows))


def main() -> None:
    from shopinsight_pipeline.recommend.settings import SequenceSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=200_000, help="customers who arrive over the days")
    parser.add_argument("--days", type=int, default=SAMPLE_DAYS)
    parser.add_argument("--candidates", help="comma-separated (default: every gate.CANDIDATES)")
    parser.add_argument(
        "--sequence-epochs", type=int, default=SequenceSettings().epochs, help="the sequence model's epochs"
    )
    parser.add_argument("--cpu", action="store_true", help="train the sequence model on the CPU even with a GPU")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies --products and --customers (trials)")
    args = parser.parse_args()

    import numpy as np
    import polars as pl

    from shopinsight_pipeline.recommend.gate import CANDIDATES

    candidates = args.candidates.split(",") if args.candidates else list(CANDIDATES)
    unknown = [name for name in candidates if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}: choose among {list(CANDIDATES)}")
    candidates = [name for name in CANDIDATES if name in candidates]  # the gate's order
    scale = Scale(round(args.products * args.scale), round(args.customers * args.scale), args.days)
    spec = scale.spec()
    print(
        f"scale {args.scale:g}: {spec.products_per_category} products a category, {spec.customers_at_start:,} "
        f"customers on day one and {spec.new_customers_per_day:,} a day after, {spec.orders_per_day:,} orders "
        f"a day (before weekday, promotion and category factors), {spec.days} days"
    )
    with tempfile.TemporaryDirectory(prefix="recommend_scale_") as folder:
        path = str(Path(folder) / "purchases.parquet")
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=generate, args=(scale, path, queue))
        process.start()
        seconds, peak, orders = queue.get()
        process.join()
        purchases = pl.read_parquet(path)
        per_customer = purchases.group_by("customer_id").len()["len"].to_numpy()
        print(
            f"generated in {seconds:.1f}s (peak {peak:,.0f} MiB): {orders:,} orders, {purchases.height:,} purchases "
            f"of {purchases['product_id'].n_unique():,} products by {len(per_customer):,} customers "
            f"(purchases per customer: median {np.median(per_customer):.0f}, mean {per_customer.mean():.1f}, "
            f"max {per_customer.max()})"
        )
        del purchases
        results: dict[str, dict | None] = {}
        for name in candidates:
            result = results[name] = measure(Job(name, path, folder, args.sequence_epochs, args.cpu))
            if result is not None:
                print(
                    f"  {name}: fit {result['fit_seconds']:.1f}s, serve {result['serve_seconds']:.1f}s for "
                    f"{result['customers']:,} customers, peak {result['peak_mb']:,.0f} MiB "
                    f"(evaluation {result['evaluate_seconds']:.1f}s, peak then {result['evaluate_peak_mb']:,.0f} MiB); "
                    f"load average {result['load']:.1f} on {os.cpu_count()} cores",
                    flush=True,
                )
    print()
    print_table(results)


if __name__ == "__main__":
    main()
