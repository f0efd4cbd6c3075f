"""Customer behaviour assets: the day's customer events, the recommender (candidates compared on one
time split, the best promoted), each run date's top-10 lists and purchase propensities. Wiring only:
run config in `config.py`, the work in the stage's pure modules."""

from collections.abc import Iterator
from datetime import date, timedelta

import polars as pl
from dagster import AssetCheckResult, AssetExecutionContext, AssetIn, MetadataValue, Output, asset
from upath import UPath

from shopinsight_pipeline.files import swap_folder
from shopinsight_pipeline.gold_checks import audited_days, gold_check_specs
from shopinsight_pipeline.markdown import frame_table, table
from shopinsight_pipeline.partitions import DAILY_ASSET, each_day, same_day_if_written, window, window_of
from shopinsight_pipeline.privacy.pseudonyms import mapping, pseudonymized
from shopinsight_pipeline.recommend.config import PropensityConfig, RecommendationsConfig, RecommenderConfig
from shopinsight_pipeline.recommend.events import derive_customer_events, empty_events, purchases_of
from shopinsight_pipeline.recommend.settings import (
    CANDIDATE_NAMES,
    HISTORY_DAYS,
    PROPENSITY_HISTORY_DAYS,
    RecommenderSettings,
    SequenceSettings,
)
from shopinsight_pipeline.resources import CustomerPseudonyms
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import ORDER_LOOKBACK_DAYS


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
        events = derive_customer_events(todays, validated_reviews[day.isoformat()], earlier.select(columns))
        counts = events.group_by("event").len().sort("event")
        return events, {
            "customers": events.get_column("customer_id").n_unique(),
            "events_by_type": MetadataValue.md(table(["event", "rows"], counts.rows()) if counts.height else "none"),
        }

    return each_day(context, compute)


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


def save_serving_model(
    storage: LakeStorage, purchases: pl.DataFrame, settings: RecommenderSettings, sequence: SequenceSettings, log
) -> UPath:
    """Train the sequence model on every purchase and publish it by swapping its folder into place."""
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


@asset(
    check_specs=gold_check_specs("customer_recommendations"),
    ins={
        "customer_events": window("customer_events", HISTORY_DAYS),
        "recommender_model": AssetIn(),
        "insights": same_day_if_written("insights"),
        "products_today": same_day_if_written("products"),
    },
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"polars", "parquet"},
    description="Per run date: the top-10 products of every customer active in the last 30 days, with score, "
    "rank, the candidate that produced it and a reason (a product it cites named beside its id).",
)
def customer_recommendations(
    context: AssetExecutionContext,
    config: RecommendationsConfig,
    customer_events: dict[str, pl.LazyFrame],
    recommender_model: dict,
    insights: dict[str, pl.DataFrame],
    products_today: dict[str, pl.DataFrame],
    storage: LakeStorage,
    pseudonyms: CustomerPseudonyms,
) -> Iterator[Output | AssetCheckResult]:
    from shopinsight_pipeline.recommend.serve import flagged_products, reason_kinds, recommend_for_day

    key = pseudonyms.key_for(storage)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        history = window_of(customer_events, day, HISTORY_DAYS)
        findings = insights.get(day.isoformat())
        flagged = flagged_products(findings, config.exclude_flagged_by)
        lists = recommend_for_day(
            purchases_of(pl.concat(list(history.values())) if history else empty_events()),
            day,
            recommender_model,
            flagged,
            config.active_days,
            config.k,
            products_today.get(day.isoformat()),
        )
        by_reason = reason_kinds(lists)
        return pseudonymized(lists, key), {
            "customers": lists.get_column("customer_id").n_unique(),
            "candidate": recommender_model["champion"],
            "flagged_products_excluded": ", ".join(flagged) or ("none" if findings is not None else "no insights"),
            "reasons": MetadataValue.md(frame_table(by_reason)),
        }

    yield from audited_days(context, storage, "customer_recommendations", compute)


@asset(
    check_specs=gold_check_specs("purchase_propensity"),
    ins={"customer_events": window("customer_events", PROPENSITY_HISTORY_DAYS)},
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"scikitlearn", "parquet"},
    description="Per run date: every customer's probability of a purchase in the next 7 days (calibrated "
    "gradient-boosted trees on recency, frequency, value, gaps, returns and reviews) and a churn-risk flag; "
    "evaluated on the last week of the history (ROC AUC, PR AUC, Brier vs the base rate, calibration).",
)
def purchase_propensity(
    context: AssetExecutionContext,
    config: PropensityConfig,
    customer_events: dict[str, pl.LazyFrame],
    storage: LakeStorage,
    pseudonyms: CustomerPseudonyms,
) -> Iterator[Output | AssetCheckResult]:
    from shopinsight_pipeline import charts
    from shopinsight_pipeline.recommend import propensity  # scikit-learn: in this step only

    settings = config.settings()
    key = pseudonyms.key_for(storage)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        days = window_of(customer_events, day, PROPENSITY_HISTORY_DAYS)
        events = pl.concat(list(days.values())).collect() if days else empty_events()
        scored, metrics, note = propensity.propensity_for_day(events, day, settings)
        scored = pseudonymized(scored, key)
        if metrics is None:
            context.log.warning(f"{day}: {note}; probabilities are null")
            return scored, {"note": note}
        shown = {key: value for key, value in metrics.items() if key not in ("reliability", "trained_on")}
        return scored, {
            **{key: value for key, value in shown.items() if value is not None},
            "churn_risk_customers": int(scored["churn_risk"].sum()),
            "calibration": MetadataValue.md(
                charts.markdown_image(charts.reliability_chart({"propensity": metrics["reliability"]}), "calibration")
            ),
        }

    yield from audited_days(context, storage, "purchase_propensity", compute)


@asset(
    ins={"customer_events": AssetIn()},
    **DAILY_ASSET,
    group_name="recommend",
    kinds={"polars", "parquet"},
    description="Restricted (operators only): each customer with an event on the day and the pseudonym the gold "
    "tables show for them, for the sends that need the shop's id (a marketing mail from customer_recommendations).",
)
def customer_pseudonyms(
    context: AssetExecutionContext,
    customer_events: dict[str, pl.DataFrame],
    storage: LakeStorage,
    pseudonyms: CustomerPseudonyms,
) -> Output:
    key = pseudonyms.key_for(storage)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        table = mapping(customer_events[day.isoformat()].get_column("customer_id"), key)
        return table, {"customers": table.height}

    return each_day(context, compute)
