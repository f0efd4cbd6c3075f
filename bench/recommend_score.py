"""Top-10 lists for many customers: our serving path against the physical baseline.

    .venv/bin/python bench/recommend_score.py [--customers 100000] [--products 5000]

Synthetic purchases (3-8 per customer over 60 days, a 1/k popularity tail) and an untrained
sequence model of the default size (weights do not change the cost). Each measurement runs in its
own process, so each peak resident memory is its own:
- baseline: the customers' query vectors (computed once, outside the timing) times the product
  vectors in one dense float32 matrix product, then `argpartition` for the 10 best and a sort of
  those 10, in numpy;
- ours, scoring: `SequenceCandidate.rank` from the same query vectors, in batches of 4,096: the
  same product plus each customer's re-order biases (its own past products), the softmax, the
  exclusions (just bought unless a due re-order, flagged products), the top 10 and the table with
  reasons (target: ours / baseline <= 2);
- ours, end to end: `SequenceCandidate.recommend`: also reading every customer's last baskets and
  running the transformer for its query vector (the model's inference, which the baseline is
  given). The candidate builds the customers' baskets once when it is made, outside the timing.
"""

import argparse
import multiprocessing
import resource
import time
from datetime import date, timedelta

import numpy as np
import polars as pl
import torch

START = date(2026, 6, 1)


def synthetic_purchases(customers: int, products: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 9, customers)
    customer = np.repeat(np.arange(customers), counts)
    popularity = 1.0 / rng.permutation(np.arange(1, products + 1))
    product = rng.choice(products, size=customer.size, p=popularity / popularity.sum())
    day = rng.integers(0, 60, customer.size)
    frame = pl.DataFrame({"c": customer, "p": product, "d": day})
    return frame.select(
        pl.format("C{}", pl.col("c").cast(pl.String).str.zfill(6)).alias("customer_id"),
        pl.format("P{}", pl.col("p").cast(pl.String).str.zfill(5)).alias("product_id"),
        pl.lit("any").alias("category"),
        (pl.lit(START) + pl.duration(days=pl.col("d"))).cast(pl.Date).alias("day"),
    )


def setup(customers: int, products: int):
    from shopinsight_pipeline.recommend.candidates import Catalogue, History
    from shopinsight_pipeline.recommend.sequence import SequenceRecommender
    from shopinsight_pipeline.recommend.settings import RecommenderSettings, SequenceSettings

    torch.manual_seed(0)
    purchases = synthetic_purchases(customers, products)
    catalogue = Catalogue.of(purchases)
    as_of = START + timedelta(days=60)
    settings = RecommenderSettings()
    history = History.of(purchases, catalogue, as_of, settings)
    sequence = SequenceSettings()
    model = SequenceRecommender(len(catalogue), sequence).eval()
    return purchases, catalogue, history, settings, sequence, model, as_of


def queries_of(purchases, catalogue, sequence, model, as_of) -> np.ndarray:
    from shopinsight_pipeline.recommend.sequence import customer_queries

    names = purchases["customer_id"].unique().sort().to_list()
    return customer_queries(model, purchases, list(catalogue.product_ids), names, as_of, sequence)


def baseline(customers: int, products: int, queue) -> None:
    purchases, catalogue, _, _, sequence, model, as_of = setup(customers, products)
    queries = queries_of(purchases, catalogue, sequence, model, as_of)
    items = model.product_vectors().detach().numpy()
    started = time.perf_counter()
    scores = queries @ items.T
    top = np.argpartition(-scores, 9, axis=1)[:, :10]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, top.shape))


def ours_scoring(customers: int, products: int, queue) -> None:
    """From the same query vectors: SequenceCandidate.rank in batches (probabilities, exclusions,
    top 10, the table with reasons)."""
    from shopinsight_pipeline.recommend.sequence import SequenceCandidate

    purchases, catalogue, history, settings, sequence, model, as_of = setup(customers, products)
    queries = queries_of(purchases, catalogue, sequence, model, as_of)
    candidate = SequenceCandidate(purchases, history, settings, sequence_settings=sequence, model=model)
    names = purchases["customer_id"].unique().sort().to_list()
    size = settings.batch_customers
    started = time.perf_counter()
    rows = sum(
        candidate.rank(names[i : i + size], queries[i : i + size], 10).height for i in range(0, len(names), size)
    )
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, (rows,)))


def ours(customers: int, products: int, queue) -> None:
    from shopinsight_pipeline.recommend.sequence import SequenceCandidate

    purchases, _, history, settings, sequence, model, _ = setup(customers, products)
    candidate = SequenceCandidate(purchases, history, settings, sequence_settings=sequence, model=model)
    names = purchases["customer_id"].unique().sort().to_list()
    started = time.perf_counter()
    lists = candidate.recommend(names, 10)
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, lists.shape))


def measure(target, customers: int, products: int) -> tuple[float, float, tuple]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(customers, products, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    args = parser.parse_args()
    base_seconds, base_peak, base_shape = measure(baseline, args.customers, args.products)
    print(f"baseline (dense product + argpartition): {base_seconds:.2f}s, peak {base_peak:,.0f} MiB, top {base_shape}")
    scoring, scoring_peak, rows = measure(ours_scoring, args.customers, args.products)
    print(f"ours from the same query vectors (rank): {scoring:.2f}s, peak {scoring_peak:,.0f} MiB, rows {rows}")
    whole, whole_peak, _ = measure(ours, args.customers, args.products)
    print(f"ours end to end (recommend: sequences + transformer + rank): {whole:.2f}s, peak {whole_peak:,.0f} MiB")
    print(f"ratio scoring / baseline: {scoring / base_seconds:.2f}  (target <= 2)")
    print(f"ratio end to end / baseline: {whole / base_seconds:.2f}")


if __name__ == "__main__":
    main()
