"""Customer behaviour assets: the day's customer events, the recommender (candidates compared on one
time split, the best promoted), each run date's top-10 lists and purchase propensities."""

import dataclasses
from datetime import date

import polars as pl
from dagster import AssetExecutionContext, AssetIn, Config, MetadataValue, Output, asset
from pydantic import Field
from upath import UPath

from shopinsight_pipeline.files import swap_folder
from shopinsight_pipeline.markdown import frame_table, table
from shopinsight_pipeline.partitions import DAILY_ASSET, each_day, same_day_if_written, window, window_of
from shopinsight_pipeline.recommend.events import customer_events as events_of_day
from shopinsight_pipeline.recommend.events import empty_events, purchases_of
from shopinsight_pipeline.recommend.settings import (
    CANDIDATE_NAMES,
    EVAL_DAYS,
    GateSettings,
    K,
    PropensitySettings,
    RecommenderSettings,
    SequenceSettings,
)
from shopinsight_pipeline.schemas import PURCHASE_PROPENSITY_SCHEMA, conform
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import ORDER_LOOKBACK_DAYS

SETTINGS, GATE, SEQUENCE = RecommenderSettings(), GateSettings(), SequenceSettings()
HISTORY_DAYS = 91  # the customer_events window the recommendations are computed from
FLAGGING_INSIGHTS = ["negative_share_jump", "high_sales_poor_sentiment"]


@asset(
    ins={
        # the day's orders, and those a day's reviews may name (validation's look-back)
        "validated_orders": window("validated_orders", ORDER_LOOKBACK_DAYS + 1),
        "validated_reviews": AssetIn(),
    },
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"polars", "parquet"},
    description="Per day: one row per customer, product and event (purchase +1, return -1, review (stars-3)/2).",
)
def customer_events(
    context: AssetExecutionContext,
    validated_orders: dict[str, pl.LazyFrame],
    validated_reviews: dict[str, pl.DataFrame],
) -> Output:
    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        orders = window_of(validated_orders, day, ORDER_LOOKBACK_DAYS + 1)
        if day.isoformat() not in orders:
            raise ValueError(f"validated_orders of {day} is not written: materialize the day's validation first")
        todays = orders.pop(day.isoformat()).collect()
        columns = ["order_id", "customer_id", "category"]
        earlier = pl.concat([frame.select(columns) for frame in orders.values()]).collect() if orders else todays
        events = events_of_day(todays, validated_reviews[day.isoformat()], earlier.select(columns))
        counts = events.group_by("event").len().sort("event")
        return events, {
            "customers": events.get_column("customer_id").n_unique(),
            "events_by_type": MetadataValue.md(table(["event", "rows"], counts.rows()) if counts.height else "none"),
        }

    return each_day(context, compute)


class RecommenderConfig(Config):
    """Run config of recommender_model; every default comes from the pure settings."""

    eval_days: int = Field(default=EVAL_DAYS, description="Train up to T - eval_days, evaluate on the days after.")
    k: int = Field(default=K, description="Length of a recommendation list.")
    popularity_half_life_days: float = SETTINGS.popularity_half_life_days
    horizon_days: int = Field(
        default=SETTINGS.horizon_days, description="b bought within this many days after a counts for the pair."
    )
    pair_half_life_days: float = SETTINGS.pair_half_life_days
    recency_half_life_days: float = SETTINGS.recency_half_life_days
    just_bought_days: int = Field(
        default=SETTINGS.just_bought_days,
        description="A product the customer bought this recently is not recommended, unless its re-order cycle is "
        "due (0: re-buys are recommended; the default, chosen on evaluation: on real shops half of next week's "
        "purchases are re-buys).",
    )
    gate_confidence: float = Field(
        default=GATE.confidence,
        description="A more complex candidate replaces a simpler one only when the paired bootstrap interval of "
        "their NDCG@10 difference, at this confidence, lies above zero.",
    )
    bootstrap_rounds: int = GATE.rounds
    candidates: list[str] = Field(
        default=list(CANDIDATE_NAMES),
        description="Candidates to compare, simplest first (each serves only if it beats every simpler one); "
        "leave 'sequence' out where training it is too slow.",
    )
    sequence_epochs: int = Field(default=SEQUENCE.epochs, description="Passes over the purchase sequences.")
    sequence_dim: int = Field(default=SEQUENCE.dim, description="Width of the sequence model's embeddings.")
    sequence_layers: int = SEQUENCE.layers
    sequence_max_length: int = Field(
        default=SEQUENCE.max_length, description="Latest baskets (purchase days) a sequence keeps."
    )
    force_cpu: bool = Field(default=SEQUENCE.cpu, description="Train the sequence model on the CPU even with a GPU.")
    sequence_cpu_max_seconds: float = Field(
        default=SEQUENCE.cpu_max_seconds,
        description="Training budget of the sequence model on a CPU, in seconds (0: none); a GPU trains every "
        "epoch. Small shops never reach it.",
    )

    def sequence(self) -> SequenceSettings:
        return dataclasses.replace(
            SEQUENCE,
            epochs=self.sequence_epochs,
            dim=self.sequence_dim,
            layers=self.sequence_layers,
            max_length=self.sequence_max_length,
            cpu=self.force_cpu,
            cpu_max_seconds=self.sequence_cpu_max_seconds,
        )

    def settings(self) -> RecommenderSettings:
        return RecommenderSettings(
            popularity_half_life_days=self.popularity_half_life_days,
            horizon_days=self.horizon_days,
            pair_half_life_days=self.pair_half_life_days,
            recency_half_life_days=self.recency_half_life_days,
            just_bought_days=self.just_bought_days,
            due_within_days=self.eval_days,
        )

    def gate(self) -> GateSettings:
        return GateSettings(confidence=self.gate_confidence, rounds=self.bootstrap_rounds)


@asset(
    ins={"customer_events": AssetIn(metadata={"allow_missing_partitions": True})},  # every written day
    group_name="recommend",
    kinds={"numpy", "scipy"},
    description="Fits every recommender candidate on the purchases up to T-7, evaluates each on the customers' "
    "purchases of the last 7 days (Recall@10, NDCG@10, MRR, coverage; new vs returning) and promotes the best. "
    "Its value is the choice customer_recommendations serves.",
)
def recommender_model(
    context: AssetExecutionContext,
    config: RecommenderConfig,
    storage: LakeStorage,
    customer_events: dict[str, pl.LazyFrame],
) -> Output[dict]:
    from shopinsight_pipeline.recommend.gate import compare_candidates  # scikit-learn: in this step only

    if not customer_events:
        raise ValueError("customer_events has no written day: materialize some days first")
    purchases = purchases_of(pl.concat(list(customer_events.values())))
    settings, sequence = config.settings(), config.sequence()
    unknown = set(config.candidates) - set(CANDIDATE_NAMES)
    if unknown or not config.candidates:
        raise ValueError(f"candidates {config.candidates}: choose among {list(CANDIDATE_NAMES)}")
    comparison = compare_candidates(
        purchases, settings, config.gate(), config.eval_days, config.k, sequence, config.candidates
    )
    context.log.info(f"champion {comparison['champion']}: {comparison['reason']}")
    if comparison["champion"] == "sequence":  # serve weights trained on every day, up to the last
        comparison["model_path"] = str(save_serving_model(storage, purchases, settings, sequence, context.log.info))
    return Output(
        comparison,
        metadata={
            "champion": comparison["champion"],
            "reason": comparison["reason"],
            "split": f"train up to {comparison['cutoff']}, evaluate {comparison['eval_days']} days to "
            f"{comparison['last_day']}",
            "evaluated_customers": comparison["candidates"][comparison["champion"]]["all"]["customers"],
            "metrics": MetadataValue.md(comparison["table"]),
            **{
                f"{name}_training": MetadataValue.json({k: v for k, v in report.items() if k != "history"})
                for name, report in comparison["training"].items()
            },
        },
    )


def save_serving_model(storage: LakeStorage, purchases: pl.DataFrame, settings, sequence, log) -> UPath:
    """Train the sequence model on every purchase and publish it by swapping its folder into place."""
    from datetime import timedelta

    from shopinsight_pipeline.recommend.gate import fit_candidate
    from shopinsight_pipeline.recommend.sequence import save_sequence_model

    last = purchases["day"].max()
    assert isinstance(last, date)
    fitted = fit_candidate(
        "sequence", purchases, last + timedelta(days=1), settings, sequence_settings=sequence, log=log
    )
    target = storage.models_path / "recommender" / "sequence"
    swap_folder(target, lambda folder: save_sequence_model(fitted.model, sequence, fitted.product_ids, folder))
    return target


class RecommendationsConfig(Config):
    active_days: int = Field(default=30, description="Customers who bought in this many days up to the run date.")
    k: int = Field(default=K, description="Products per customer.")
    exclude_flagged_by: list[str] = Field(
        default=FLAGGING_INSIGHTS,
        description="Never recommend a product an insight of these types names on the run date ([] to allow).",
    )


@asset(
    ins={
        "customer_events": window("customer_events", HISTORY_DAYS),
        "recommender_model": AssetIn(),
        "insights": same_day_if_written("insights"),
    },
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"polars", "parquet"},
    description="Per run date: the top-10 products of every customer active in the last 30 days, with score, "
    "rank, the candidate that produced it and a reason.",
)
def customer_recommendations(
    context: AssetExecutionContext,
    config: RecommendationsConfig,
    customer_events: dict[str, pl.LazyFrame],
    recommender_model: dict,
    insights: dict[str, pl.DataFrame],
) -> Output:
    from shopinsight_pipeline.recommend.serve import reason_kinds, recommend_for_day

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        history = window_of(customer_events, day, HISTORY_DAYS)
        findings = insights.get(day.isoformat())
        flagged = (
            sorted(
                findings.filter(pl.col("entity_type").eq("product") & pl.col("type").is_in(config.exclude_flagged_by))[
                    "entity"
                ].unique()
            )
            if findings is not None
            else []
        )
        lists = recommend_for_day(
            purchases_of(pl.concat(list(history.values())) if history else empty_events()),
            day,
            recommender_model,
            flagged,
            config.active_days,
            config.k,
        )
        by_reason = reason_kinds(lists)
        return lists, {
            "customers": lists.get_column("customer_id").n_unique(),
            "candidate": recommender_model["champion"],
            "flagged_products_excluded": ", ".join(flagged) or ("none" if findings is not None else "no insights"),
            "reasons": MetadataValue.md(frame_table(by_reason)),
        }

    return each_day(context, compute)


PROPENSITY = PropensitySettings()
# the features look back 90 days from the earliest training snapshot, which lies snapshots + 1 weeks back
PROPENSITY_HISTORY_DAYS = 90 + EVAL_DAYS * (PROPENSITY.snapshots + 2)


class PropensityConfig(Config):
    snapshots: int = Field(
        default=PROPENSITY.snapshots,
        description="Weekly snapshots to train on (each: features as of a day, label: a purchase in the 7 after).",
        ge=1,
        le=PROPENSITY.snapshots,
    )
    churn_probability: float = Field(
        default=PROPENSITY.churn_probability,
        description="A customer with 2+ orders in 90 days, overdue (1.5x its usual gap) and below this "
        "probability is flagged churn_risk.",
    )


@asset(
    ins={"customer_events": window("customer_events", PROPENSITY_HISTORY_DAYS)},
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"scikitlearn", "parquet"},
    description="Per run date: every customer's probability of a purchase in the next 7 days (calibrated "
    "gradient-boosted trees on recency, frequency, value, gaps, returns and reviews) and a churn-risk flag; "
    "evaluated on the last week of the history (ROC AUC, PR AUC, Brier vs the base rate, calibration).",
)
def purchase_propensity(
    context: AssetExecutionContext, config: PropensityConfig, customer_events: dict[str, pl.LazyFrame]
) -> Output:
    from shopinsight_pipeline import charts
    from shopinsight_pipeline.recommend import propensity  # scikit-learn: in this step only

    settings = dataclasses.replace(PROPENSITY, snapshots=config.snapshots, churn_probability=config.churn_probability)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        days = window_of(customer_events, day, PROPENSITY_HISTORY_DAYS)
        events = pl.concat(list(days.values())).collect() if days else empty_events()
        try:
            model, metrics = propensity.evaluate(events, day, settings)
        except ValueError as too_short:
            context.log.warning(f"{day}: {too_short}; probabilities are null")
            table = conform(
                propensity.features_as_of(events, day).with_columns(
                    run_date=pl.lit(day),
                    purchase_probability=pl.lit(None, pl.Float64),
                    churn_risk=pl.lit(None, pl.Boolean),
                ),
                PURCHASE_PROPENSITY_SCHEMA,
            )
            return table, {"note": str(too_short)}
        table = conform(propensity.score(model, events, day, settings), PURCHASE_PROPENSITY_SCHEMA)
        shown = {key: value for key, value in metrics.items() if key not in ("reliability", "trained_on")}
        return table, {
            **{key: value for key, value in shown.items() if value is not None},
            "churn_risk_customers": int(table["churn_risk"].sum()),
            "calibration": MetadataValue.md(
                charts.markdown_image(charts.reliability_chart({"propensity": metrics["reliability"]}), "calibration")
            ),
        }

    return each_day(context, compute)
