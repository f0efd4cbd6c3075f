"""A run date's recommendation lists from the candidate the recommender gate chose."""

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.recommend.gate import fit_candidate
from shopinsight_pipeline.recommend.settings import RecommenderSettings
from shopinsight_pipeline.schemas import CUSTOMER_RECOMMENDATIONS_SCHEMA, conform, keyed_by_customer_id


def active_customers(purchases: pl.DataFrame, day: date, active_days: int) -> list[str]:
    """Customers with a purchase in the `active_days` days ending on `day`."""
    first = day - timedelta(days=active_days - 1)
    recent = purchases.filter(pl.col("day").is_between(first, day))
    return recent.get_column("customer_id").unique().sort().to_list()


def recommend_for_day(
    purchases: pl.DataFrame,
    day: date,
    choice: dict,
    flagged: Sequence[str],
    active_days: int,
    k: int,
    catalogue: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Top-k lists on the morning after `day` for the customers active up to it, from the purchases
    up to `day` (nothing later), by the candidate `choice` (recommender_model's value) names.
    `catalogue` (the day's `products`) puts a name beside each product id a reason cites."""
    history = purchases.filter(pl.col("day") <= day)
    if catalogue is not None and "product_name" not in history.columns:
        history = history.join(catalogue.select("product_id", "product_name"), on="product_id", how="left")
    customers = active_customers(history, day, active_days)
    if not customers:
        return pl.DataFrame(schema=keyed_by_customer_id(CUSTOMER_RECOMMENDATIONS_SCHEMA))
    settings = RecommenderSettings(**choice["settings"])
    options = {}
    if choice["champion"] == "sequence":  # the weights recommender_model published; no retraining here
        from upath import UPath

        from shopinsight_pipeline.recommend.sequence import load_sequence_model

        trained, sequence_settings, products = load_sequence_model(UPath(choice["model_path"]))
        options = {"model": trained, "model_products": products, "sequence_settings": sequence_settings}
    model = fit_candidate(choice["champion"], history, day + timedelta(days=1), settings, flagged, **options)
    lists = model.recommend(customers, k).with_columns(run_date=pl.lit(day))
    return conform(lists, keyed_by_customer_id(CUSTOMER_RECOMMENDATIONS_SCHEMA)).sort("customer_id", "rank")


def flagged_products(findings: pl.DataFrame | None, types: Sequence[str]) -> list[str]:
    """Products that insights of `types` name on the run date (none when it has no insights)."""
    if findings is None:
        return []
    flagging = findings.filter(pl.col("entity_type").eq("product") & pl.col("type").is_in(list(types)))
    return sorted(flagging.get_column("entity").unique())


def reason_kinds(lists: pl.DataFrame) -> pl.DataFrame:
    """How many list entries each kind of reason explains ("bought after", "bought again", ...: the
    reason up to its first product id, number or colon), most frequent first."""
    kind = pl.col("reason").str.extract(r"^([a-z -]+?)(?::| [A-Z0-9(]|$)", 1).alias("reason")
    return lists.group_by(kind).len().sort("len", "reason", descending=[True, False])
