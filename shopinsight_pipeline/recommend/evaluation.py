"""The time split every recommender candidate is judged on, and its ranking metrics.

A random split lets a model see a customer's later purchases while it is asked to predict earlier
ones; here training sees only days up to the cutoff and the evaluation is each active customer's
purchases in the `eval_days` after it, the way the model is used (recommend today, judged by what
is bought next week).
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.ml.significance import Interval, resample_counts
from shopinsight_pipeline.recommend.settings import EVAL_DAYS, K

PURCHASE_COLUMNS = {"customer_id": pl.String, "product_id": pl.String, "category": pl.String, "day": pl.Date}


@dataclass(frozen=True)
class TimeSplit:
    """Purchases up to `cutoff` (training) and those of the `eval_days` after it (evaluation)."""

    train: pl.DataFrame
    evaluation: pl.DataFrame  # distinct (customer_id, product_id) bought after the cutoff
    cutoff: date
    last_day: date

    @property
    def as_of(self) -> date:
        """The day a candidate trained on `train` recommends on: the day after the cutoff."""
        return self.cutoff + timedelta(days=1)


def time_split(purchases: pl.DataFrame, last_day: date, eval_days: int = EVAL_DAYS) -> TimeSplit:
    """Train on every purchase on or before `last_day - eval_days`; evaluate on the purchases of
    the `eval_days` days up to `last_day`. Nothing after `last_day` is used."""
    cutoff = last_day - timedelta(days=eval_days)
    train = purchases.filter(pl.col("day") <= cutoff)
    evaluation = (
        purchases.filter((pl.col("day") > cutoff) & (pl.col("day") <= last_day))
        .select("customer_id", "product_id")
        .unique()
        .sort("customer_id", "product_id")
    )
    return TimeSplit(train, evaluation, cutoff, last_day)


@dataclass(frozen=True)
class RankingMetrics:
    customers: int
    recall: Interval
    ndcg: Interval
    mrr: Interval
    coverage: float  # share of the catalogue recommended to at least one evaluated customer

    def as_dict(self) -> dict:
        return {
            "customers": self.customers,
            "recall_at_10": self.recall.as_dict(),
            "ndcg_at_10": self.ndcg.as_dict(),
            "mrr": self.mrr.as_dict(),
            "catalogue_coverage": self.coverage,
        }


def per_customer_scores(recommended: pl.DataFrame, relevant: pl.DataFrame, k: int = K) -> pl.DataFrame:
    """Recall@k, NDCG@k (binary gains) and reciprocal rank of each customer in `relevant`.

    `recommended`: customer_id, product_id, rank (1 = best); `relevant`: customer_id, product_id.
    A customer with no recommendation scores 0 on all three."""
    truth = relevant.select("customer_id", "product_id").unique()
    sizes = truth.group_by("customer_id").agg(pl.len().alias("relevant"))
    hits = (
        recommended.filter(pl.col("rank") <= k)
        .join(truth, on=["customer_id", "product_id"], how="inner")
        .group_by("customer_id")
        .agg(
            pl.len().alias("hits"),
            (1.0 / (pl.col("rank") + 1).log(2)).sum().alias("dcg"),
            (1.0 / pl.col("rank").min()).alias("reciprocal_rank"),
        )
    )
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])  # IDCG of n relevant, n <= k
    scores = (
        sizes.join(hits, on="customer_id", how="left")
        .with_columns(pl.col("hits", "dcg", "reciprocal_rank").fill_null(0))
        .sort("customer_id")
    )
    idcg = ideal[np.minimum(scores["relevant"].to_numpy(), k)]
    return scores.select(
        "customer_id",
        (pl.col("hits") / pl.col("relevant")).alias("recall"),
        (pl.col("dcg") / pl.Series(idcg)).alias("ndcg"),
        pl.col("reciprocal_rank").cast(pl.Float64),
    )


def _interval(values: np.ndarray, counts: np.ndarray, confidence: float) -> Interval:
    means = counts @ values / len(values)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(values.mean()), float(low), float(high), confidence)


def ranking_metrics(
    recommended: pl.DataFrame,
    relevant: pl.DataFrame,
    catalogue_size: int,
    k: int = K,
    rounds: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RankingMetrics:
    """Mean per-customer Recall@k, NDCG@k and MRR with bootstrap intervals over customers, and the
    catalogue coverage of the top-k lists of the evaluated customers."""
    scores = per_customer_scores(recommended, relevant, k)
    if scores.height == 0:
        raise ValueError("no customer bought anything in the evaluation window")
    counts = resample_counts(scores.height, rounds, seed)
    shown = recommended.filter((pl.col("rank") <= k) & pl.col("customer_id").is_in(scores["customer_id"].implode()))
    return RankingMetrics(
        customers=scores.height,
        recall=_interval(scores["recall"].to_numpy(), counts, confidence),
        ndcg=_interval(scores["ndcg"].to_numpy(), counts, confidence),
        mrr=_interval(scores["reciprocal_rank"].to_numpy(), counts, confidence),
        coverage=shown["product_id"].n_unique() / catalogue_size if catalogue_size else 0.0,
    )


def new_and_returning(split: TimeSplit) -> dict[str, pl.DataFrame]:
    """The evaluation purchases of customers with no purchase before the cutoff ("new") and of
    those with one ("returning")."""
    known = split.train.select("customer_id").unique()
    returning = split.evaluation.join(known, on="customer_id", how="semi")
    new = split.evaluation.join(known, on="customer_id", how="anti")
    return {"new": new, "returning": returning}
