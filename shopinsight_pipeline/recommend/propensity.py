"""Purchase propensity: who buys in the next 7 days, and who is slipping away.

Features are taken as of a day T from the customer's events up to T (recency, frequency and value
of purchases, tenure, the usual gap between purchase days, returns, reviews and their stars); the
label is at least one purchase in the 7 days after T. Training stacks weekly snapshots whose label
weeks all end before the evaluation snapshot starts, and the evaluation snapshot is the one whose
label week is the last 7 days: the same time split as the recommender, never a random one.

The classifier is gradient-boosted trees, calibrated with isotonic regression on held-out folds
(scikit-learn), so a probability of 0.3 means about 3 in 10 such customers buy. The model that
scores the run date is the evaluated one, not a refit on the newest week: its metrics describe what
serves, and a run date trains once (a refit cost as much again, for labels one week fresher).
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.recommend.settings import PropensitySettings
from shopinsight_pipeline.schemas import PURCHASE_PROPENSITY_SCHEMA, conform, keyed_by_customer_id

FEATURES = [
    "recency_days",
    "tenure_days",
    "orders_30d",
    "orders_90d",
    "value_90d",
    "mean_gap_days",
    "overdue_ratio",
    "returns_90d",
    "reviews_90d",
    "mean_review_weight",
]


def features_as_of(events: pl.DataFrame, day: date) -> pl.DataFrame:
    """One row per customer with a purchase on or before `day`: the FEATURES, from events up to it."""
    past = events.filter(pl.col("date") <= day)
    purchases = past.filter(pl.col("event") == "purchase")
    if purchases.is_empty():
        return pl.DataFrame(schema={"customer_id": pl.String, **dict.fromkeys(FEATURES, pl.Float64)})
    days_before = (pl.lit(day) - pl.col("date")).dt.total_days()
    purchase_days = purchases.select("customer_id", "date").unique().sort("customer_id", "date")
    gaps = (
        purchase_days.with_columns(gap=pl.col("date").diff().dt.total_days().over("customer_id"))
        .group_by("customer_id")
        .agg(pl.col("gap").mean().alias("mean_gap_days"))
    )
    bought = purchases.group_by("customer_id").agg(
        days_before.min().cast(pl.Float64).alias("recency_days"),
        days_before.max().cast(pl.Float64).alias("tenure_days"),
        (days_before < 30).sum().cast(pl.Float64).alias("orders_30d"),
        (days_before < 90).sum().cast(pl.Float64).alias("orders_90d"),
        pl.col("value").filter(days_before < 90).sum().alias("value_90d"),
    )
    recent = past.filter(days_before < 90)
    other = recent.group_by("customer_id").agg(
        (pl.col("event") == "return").sum().cast(pl.Float64).alias("returns_90d"),
        (pl.col("event") == "review").sum().cast(pl.Float64).alias("reviews_90d"),
        pl.col("weight").filter(pl.col("event") == "review").mean().alias("mean_review_weight"),
    )
    return (
        bought.join(gaps, on="customer_id", how="left")
        .join(other, on="customer_id", how="left")
        .with_columns(
            pl.col("mean_gap_days").fill_null(-1.0),  # one purchase day: no gap yet
            pl.col("returns_90d", "reviews_90d").fill_null(0.0),
            pl.col("mean_review_weight").fill_null(0.0),
        )
        .with_columns(
            overdue_ratio=pl.when(pl.col("mean_gap_days") > 0)
            .then(pl.col("recency_days") / pl.col("mean_gap_days"))
            .otherwise(-1.0)
        )
        .select("customer_id", *FEATURES)
        .sort("customer_id")
    )


def labelled_snapshot(events: pl.DataFrame, day: date, horizon_days: int) -> pl.DataFrame:
    """Features as of `day` and whether each customer bought in the `horizon_days` after it."""
    future = events.filter(
        (pl.col("event") == "purchase")
        & (pl.col("date") > day)
        & (pl.col("date") <= day + timedelta(days=horizon_days))
    )
    buyers = future.select("customer_id").unique().with_columns(bought=pl.lit(1))
    return (
        features_as_of(events, day)
        .join(buyers, on="customer_id", how="left")
        .with_columns(pl.col("bought").fill_null(0).cast(pl.Int8), snapshot=pl.lit(day))
    )


@dataclass
class PropensityModel:
    classifier: object
    trained_on: list[date]  # snapshot days (labels end horizon_days after each)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        if features.is_empty():
            return np.empty(0)
        return self.classifier.predict_proba(features.select(FEATURES).to_numpy())[:, 1]  # type: ignore[attr-defined]


def fit(events: pl.DataFrame, last_label_day: date, settings: PropensitySettings) -> PropensityModel:
    """Train on weekly snapshots whose label weeks end on or before `last_label_day`."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    first_event = events["date"].min()
    days = [last_label_day - timedelta(days=settings.horizon_days * (i + 1)) for i in range(settings.snapshots)]
    days = [day for day in days if first_event is not None and day >= first_event]  # type: ignore[operator]
    training = pl.concat([labelled_snapshot(events, day, settings.horizon_days) for day in days]) if days else None
    if training is None or training.height < 20 or training["bought"].n_unique() < 2:
        raise ValueError(
            f"too little history before {last_label_day} to learn who buys: "
            f"{0 if training is None else training.height} customer snapshots, both outcomes needed"
        )
    trees = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=settings.seed)
    classifier = CalibratedClassifierCV(trees, method="isotonic", cv=3)
    classifier.fit(training.select(FEATURES).to_numpy(), training["bought"].to_numpy())
    return PropensityModel(classifier, days)


def evaluate(events: pl.DataFrame, last_day: date, settings: PropensitySettings) -> tuple[PropensityModel, dict]:
    """Fit on snapshots before the evaluation week, score the snapshot `horizon_days` before
    `last_day` against what was bought in the last week: ROC AUC, PR AUC, Brier (and the base rate's),
    the calibration error (ECE: the gap between predicted and observed rates over ten probability
    bins, weighted by their customers) and the bins for a reliability chart."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    eval_day = last_day - timedelta(days=settings.horizon_days)
    model = fit(events, eval_day, settings)
    held_out = labelled_snapshot(events, eval_day, settings.horizon_days)
    truth = held_out["bought"].to_numpy()
    probability = model.predict(held_out)
    base_rate = float(truth.mean())
    reliability = _reliability(probability, truth)
    ece = sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in reliability) / max(len(truth), 1)
    metrics = {
        "evaluated_on": eval_day.isoformat(),
        "customers": len(truth),
        "base_rate": base_rate,
        "roc_auc": float(roc_auc_score(truth, probability)) if 0 < base_rate < 1 else None,
        "pr_auc": float(average_precision_score(truth, probability)) if 0 < base_rate < 1 else None,
        "brier": float(brier_score_loss(truth, probability)),
        "brier_of_base_rate": base_rate * (1 - base_rate),
        "ece": ece,
        "reliability": reliability,
        "trained_on": [day.isoformat() for day in model.trained_on],
    }
    return model, metrics


def _reliability(probability: np.ndarray, truth: np.ndarray, bins: int = 10) -> list[dict]:
    """Observed purchase rate against mean predicted probability in equal-width bins."""
    index = np.clip((probability * bins).astype(int), 0, bins - 1)
    rows = []
    for number in range(bins):
        members = index == number
        if members.any():
            rows.append(
                {
                    "confidence": float(probability[members].mean()),
                    "accuracy": float(truth[members].mean()),
                    "count": int(members.sum()),
                }
            )
    return rows


def score(model: PropensityModel, events: pl.DataFrame, day: date, settings: PropensitySettings) -> pl.DataFrame:
    """Every customer with a purchase up to `day`: the probability of a purchase in the next
    `horizon_days` and the churn-risk flag (a regular, overdue, unlikely to buy)."""
    features = features_as_of(events, day)
    probability = model.predict(features)
    return features.with_columns(
        run_date=pl.lit(day),
        purchase_probability=pl.Series(probability, dtype=pl.Float64),
    ).with_columns(
        churn_risk=(pl.col("orders_90d") >= settings.min_orders_for_churn)
        & (pl.col("purchase_probability") < settings.churn_probability)
        & (pl.col("overdue_ratio") > 1.5)
    )


def propensity_for_day(
    events: pl.DataFrame, day: date, settings: PropensitySettings
) -> tuple[pl.DataFrame, dict | None, str | None]:
    """purchase_propensity of run date `day`: the table, the evaluation's metrics and None; or, when
    the history is too short to train and evaluate, every customer's features with null probabilities,
    no metrics and why."""
    try:
        model, metrics = evaluate(events, day, settings)
    except ValueError as too_short:
        unscored = features_as_of(events, day).with_columns(
            run_date=pl.lit(day),
            purchase_probability=pl.lit(None, pl.Float64),
            churn_risk=pl.lit(None, pl.Boolean),
        )
        return conform(unscored, keyed_by_customer_id(PURCHASE_PROPENSITY_SCHEMA)), None, str(too_short)
    return conform(score(model, events, day, settings), keyed_by_customer_id(PURCHASE_PROPENSITY_SCHEMA)), metrics, None
