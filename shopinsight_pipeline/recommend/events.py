"""One row per (customer, product, event) of a day, from validated orders and reviews.

The weights are what a model counts: a purchase +1, a return -1 (the customer sent it back), a
review its stars mapped to [-1, 1] ((rating - 3) / 2). A cancelled order is no event. A review
names an order, not a customer: the customer is the one who placed that order (validation keeps
only reviews of orders validated on the review's day or the 60 before, so every review finds it).
"""

import polars as pl

from shopinsight_pipeline.schemas import CUSTOMER_EVENTS_SCHEMA, conform

EVENTS = ("purchase", "return", "review")


def derive_customer_events(orders: pl.DataFrame, reviews: pl.DataFrame, earlier_orders: pl.DataFrame) -> pl.DataFrame:
    """The day's events: purchases and returns of `orders`, reviews of `reviews` whose customer is
    found in `orders` or `earlier_orders` (validated orders of the days the reviews may name)."""
    kept = orders.filter(pl.col("status") != "cancelled")
    base = kept.select(
        pl.col("order_date").alias("date"),
        "customer_id",
        "product_id",
        "category",
        "order_id",
        pl.col("order_ts").alias("event_ts"),
        "quantity",
        pl.col("line_total").alias("value"),
        pl.lit(None, pl.Int8).alias("rating"),
    )
    purchases = base.with_columns(event=pl.lit("purchase"), weight=pl.lit(1.0))
    returns = base.filter(kept["status"] == "returned").with_columns(
        event=pl.lit("return"), weight=pl.lit(-1.0), value=-pl.col("value")
    )
    placed = pl.concat(
        [frame.select("order_id", "customer_id", "category") for frame in (orders, earlier_orders)]
    ).unique("order_id", keep="first")
    reviewed = reviews.join(placed, on="order_id", how="inner").select(
        pl.col("review_date").alias("date"),
        "customer_id",
        "product_id",
        "category",
        "order_id",
        pl.col("review_ts").alias("event_ts"),
        pl.lit(None, pl.Int32).alias("quantity"),
        pl.lit(None, pl.Float64).alias("value"),
        "rating",
        event=pl.lit("review"),
        weight=(pl.col("rating").cast(pl.Float64) - 3) / 2,
    )
    events = pl.concat(
        [conform(frame, CUSTOMER_EVENTS_SCHEMA) for frame in (purchases, returns, reviewed)], how="vertical"
    )
    return events.sort("event_ts", "customer_id", "event", "product_id")


def purchases_of(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The purchases a recommender learns from: customer, product, category and day."""
    return (
        events.lazy()
        .filter(pl.col("event") == "purchase")
        .select("customer_id", "product_id", "category", pl.col("date").alias("day"))
        .collect()
    )


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=CUSTOMER_EVENTS_SCHEMA)


def cross_sell_pairs(purchases: pl.DataFrame, days: int = 30, min_customers: int = 1) -> pl.DataFrame:
    """Per ordered pair of different products (first, second): how many of the customers who
    bought `first` bought `second` on the same day or within `days` after, their share, and the lift
    over the share of all customers who bought `second` at all. Pairs are counted from each
    customer's first purchase of `first` and the baskets of the `days` after it (recommend/baskets.py),
    so the cost grows with the pairs that exist, not with a customer's history squared. Only pairs of
    at least `min_customers` customers are returned (a real catalogue has millions of rare pairs)."""
    from shopinsight_pipeline.recommend.baskets import Baskets, customers_following  # scipy: in this step only

    bought = purchases.select("customer_id", "product_id", "day").unique()
    customers = max(bought["customer_id"].n_unique(), 1)
    products = bought["product_id"].unique().sort().to_list()
    baskets = Baskets.of(bought, {product: i for i, product in enumerate(products)})
    counts = customers_following(baskets, baskets.firsts, days).tocoo()
    kept = counts.data >= min_customers - 0.5  # counts of customers, summed as floats
    names = pl.Series(products, dtype=pl.String)
    pairs = pl.DataFrame(
        {
            "first": names.gather(counts.row[kept]),
            "second": names.gather(counts.col[kept]),
            "customers": counts.data[kept].round().astype("int64"),
        }
    )
    buyers = bought.group_by("product_id").agg(pl.col("customer_id").n_unique().alias("buyers"))
    return (
        pairs.join(buyers.rename({"product_id": "first"}), on="first")
        .join(buyers.rename({"product_id": "second", "buyers": "second_buyers"}), on="second")
        .with_columns(
            share=pl.col("customers") / pl.col("buyers"),
            base_share=pl.col("second_buyers") / customers,
            days=pl.lit(days),
        )
        .with_columns(lift=pl.col("share") / pl.col("base_share"))
        .select("first", "second", "customers", "buyers", "share", "base_share", "lift", "days")
        .sort("lift", descending=True)
    )
