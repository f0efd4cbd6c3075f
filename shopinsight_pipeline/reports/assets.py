"""Gold report tables, written in Hive layout for DuckDB and polars."""

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, MetadataValue, asset

from shopinsight_pipeline.partitions import daily_partitions, partition_day
from shopinsight_pipeline.reports.sales import daily_sales as summarize_daily_sales
from shopinsight_pipeline.reports.sentiment import product_sentiment as summarize_product_sentiment
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.storage import LakeStorage


@asset(
    deps=["validated_orders"],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per day and category: orders, units, revenue, average order value, return rate.",
)
def daily_sales(context: AssetExecutionContext, storage: LakeStorage) -> MaterializeResult:
    day = partition_day(context.partition_key)
    sales = summarize_daily_sales(storage.read_partition("validated_orders", day))
    path = storage.write_partition("daily_sales", day, sales)
    return MaterializeResult(
        metadata={
            "dagster/row_count": sales.height,
            "revenue": float(sales.get_column("revenue").sum()),
            "orders": int(sales.get_column("orders").sum()),
            "preview": MetadataValue.md(sales.to_pandas().to_markdown(index=False) if sales.height else "no sales"),
            "path": str(path),
        }
    )


@asset(
    deps=["review_scores"],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="reports",
    kinds={"polars", "parquet"},
    description="Per product and day: reviews, average rating, model sentiment shares, model-rating agreement.",
)
def product_sentiment(
    context: AssetExecutionContext, storage: LakeStorage, sentiment_labels: SentimentLabels
) -> MaterializeResult:
    day = partition_day(context.partition_key)
    sentiment = summarize_product_sentiment(storage.read_partition("review_scores", day), sentiment_labels.labels)
    path = storage.write_partition("product_sentiment", day, sentiment)
    reviews = int(sentiment.get_column("reviews").sum()) if sentiment.height else 0
    return MaterializeResult(
        metadata={
            "dagster/row_count": sentiment.height,
            "reviews": reviews,
            "mean_agreement": float(sentiment.get_column("model_rating_agreement").mean() or 0.0)
            if sentiment.height
            else 0.0,
            "path": str(path),
        }
    )
