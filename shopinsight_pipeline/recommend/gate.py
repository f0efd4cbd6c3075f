"""Compare the recommender candidates on one time split and choose the one to serve.

Candidates are tried from the simplest up (popularity, the customer's own re-buys, then
co-occurrence, then the learned sequence model). A candidate takes over only when it is better on
NDCG@10 than the one serving so far beyond the noise, that is when the paired bootstrap interval
of their per-customer NDCG@10 difference (the same customers resampled for both) lies above zero.
So a learned model that does not beat co-occurrence keeps out, and a candidate that never beat
popularity does not stand in the way of one that does. Each challenger's verdict against every
simpler candidate is recorded beside the decision.
"""

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import polars as pl

from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml.significance import Interval, resample_counts
from shopinsight_pipeline.recommend.candidates import (
    Catalogue,
    CoOccurrence,
    History,
    NotEnoughHistory,
    Popularity,
    RepeatPurchases,
)
from shopinsight_pipeline.recommend.evaluation import (
    new_and_returning,
    per_customer_scores,
    ranking_metrics,
    time_split,
)
from shopinsight_pipeline.recommend.sequence import SequenceCandidate
from shopinsight_pipeline.recommend.settings import EVAL_DAYS, GateSettings, K, RecommenderSettings, SequenceSettings

CANDIDATES: dict[str, Callable] = {  # simplest first
    "popularity": Popularity,
    "repeat": RepeatPurchases,
    "cooccurrence": CoOccurrence,
    "sequence": SequenceCandidate,
}


def paired_difference(a: np.ndarray, b: np.ndarray, settings: GateSettings) -> Interval:
    """Mean of a - b over the same customers, with a bootstrap interval resampling the customers."""
    differences = a - b
    means = resample_counts(len(differences), settings.rounds, settings.seed) @ differences / len(differences)
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(differences.mean()), float(low), float(high), settings.confidence)


def fit_candidate(
    name: str,
    purchases: pl.DataFrame,
    as_of,
    settings: RecommenderSettings,
    flagged: Sequence[str] = (),
    **options,
):
    """The named candidate fitted on `purchases`, recommending on `as_of` (options: the sequence
    model's `sequence_settings`, or its trained `model` and `model_products`)."""
    catalogue = Catalogue.of(purchases)
    history = History.of(purchases, catalogue, as_of, settings)
    return CANDIDATES[name](purchases, history, settings, flagged, **options)


def compare_candidates(
    purchases: pl.DataFrame,
    settings: RecommenderSettings,
    gate: GateSettings | None = None,
    eval_days: int = EVAL_DAYS,
    k: int = K,
    sequence_settings: SequenceSettings | None = None,
    candidates: Sequence[str] = tuple(CANDIDATES),
) -> dict:
    """Every candidate on the split ending on the last day with purchases; the choice and why."""
    gate = gate or GateSettings()
    if purchases.is_empty():
        raise ValueError("no purchases to train a recommender on")
    first, last = purchases["day"].min(), purchases["day"].max()
    assert isinstance(first, date) and isinstance(last, date)
    split = time_split(purchases, last, eval_days)
    if split.train.is_empty() or split.evaluation.is_empty():
        raise ValueError(
            f"the time split needs purchases before and after {split.cutoff}: the history is "
            f"{first.isoformat()} to {last.isoformat()}, at least {eval_days + 1} days are needed"
        )
    catalogue_size = Catalogue.of(purchases).product_ids.size
    customers = split.evaluation["customer_id"].unique().sort().to_list()
    groups = {"all": split.evaluation, **new_and_returning(split)}
    results, ndcg = {}, {}
    training = {}
    left_out: dict[str, str] = {}
    for name in candidates:
        options: dict = {"sequence_settings": sequence_settings or SequenceSettings()} if name == "sequence" else {}
        try:
            fitted = fit_candidate(name, split.train, split.as_of, settings, **options)
        except NotEnoughHistory as why:
            left_out[name] = str(why)
            continue
        lists = fitted.recommend(customers, k)
        if getattr(fitted, "report", None) is not None:
            training[name] = fitted.report.as_dict()
        results[name], ndcg[name] = judge(lists, groups, catalogue_size, gate, k)
    if not ndcg:
        raise ValueError(f"no candidate could be fitted on the purchases up to {split.cutoff}: {left_out}")
    champion, reasons = choose(ndcg, [name for name in candidates if name in ndcg], gate, k)
    reasons += [f"{name} left out: {why}" for name, why in left_out.items()]
    return {
        "champion": champion,
        "reason": "; ".join(reasons),
        "left_out": left_out,
        "cutoff": split.cutoff.isoformat(),
        "last_day": split.last_day.isoformat(),
        "eval_days": eval_days,
        "k": k,
        "settings": dataclasses.asdict(settings),
        "candidates": results,
        "training": training,
        "table": metrics_table(results, k),
    }


def judge(
    lists: pl.DataFrame, groups: dict[str, pl.DataFrame], catalogue_size: int, gate: GateSettings, k: int = K
) -> tuple[dict, np.ndarray]:
    """One candidate's lists judged: the metrics of each customer group (None where it bought
    nothing) and the per-customer NDCG@k of all (`groups["all"]`) that the gate compares."""
    metrics = {
        group: ranking_metrics(lists, relevant, catalogue_size, k, gate.rounds, gate.confidence, gate.seed).as_dict()
        if relevant.height
        else None
        for group, relevant in groups.items()
    }
    return metrics, per_customer_scores(lists, groups["all"], k)["ndcg"].to_numpy()


def choose(ndcg: dict[str, np.ndarray], order: list[str], gate: GateSettings, k: int = K) -> tuple[str, list[str]]:
    """The candidate to serve from per-customer NDCG@k (same customers, same order for all): each in
    `order` (simplest first) takes over when it beats the one serving so far beyond the noise."""
    champion, reasons = order[0], []
    for position, name in enumerate(order[1:], start=1):
        verdicts, takes_over = [], False
        for simpler in order[:position]:
            difference = paired_difference(ndcg[name], ndcg[simpler], gate)
            beats = difference.low > 0
            if simpler == champion:
                takes_over = beats
            verdicts.append(
                f"{name} {'beats' if beats else 'does not beat'} {simpler} on NDCG@{k} beyond the noise "
                f"({difference.point:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}])"
            )
        if takes_over:
            champion = name
        outcome = f"{name} serves" if takes_over else f"{champion} keeps serving"
        reasons.append(", ".join(verdicts) + f": {outcome}")
    return champion, reasons


def metrics_table(results: dict, k: int) -> str:
    """Markdown: one row per candidate and customer group, point [low, high]."""

    def shown(interval: dict) -> str:
        return f"{interval['point']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"

    rows = [
        [
            name,
            group,
            m["customers"],
            shown(m["recall_at_10"]),
            shown(m["ndcg_at_10"]),
            shown(m["mrr"]),
            f"{m['catalogue_coverage']:.0%}",
        ]
        for name, groups in results.items()
        for group, m in groups.items()
        if m is not None
    ]
    return table(["candidate", "group", "customers", f"Recall@{k}", f"NDCG@{k}", "MRR", "coverage"], rows)
