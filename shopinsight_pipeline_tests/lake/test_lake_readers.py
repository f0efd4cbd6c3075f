"""Every table of the ML lake reads the same in the query command, plain DuckDB and polars."""

import duckdb
import polars as pl

from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.schemas import file_schema
from shopinsight_pipeline.storage import TABLE_LAYERS, partition_column
from shopinsight_pipeline_tests.conftest import materialize_assets


def test_every_table_reads_the_same_in_the_query_command_duckdb_and_polars(ml_lake):
    """No column collides with a Hive partition key: the three ways analysts read a table agree
    with the documented schema, the partition key included, and with each other row for row."""
    last = ml_lake.days[-1].isoformat()
    assert materialize_assets(ml_lake.root, ml_lake.instance, ["recommender_model"]).success
    assert materialize_assets(
        ml_lake.root,
        ml_lake.instance,
        [
            "sales_forecast",
            "insights",
            "customer_recommendations",
            "purchase_propensity",
            "product_demand_forecast",
            "inventory_plan",
        ],
        partition_key=last,
    ).success
    with open_lake(ml_lake.storage) as (connection, views):
        labels = LabelScheme().labels
        assert set(views) == set(TABLE_LAYERS)
        plain_duckdb = duckdb.connect()
        plain_duckdb.execute("set TimeZone = 'UTC'")  # DuckDB shows timestamps in the session's zone
        for table in TABLE_LAYERS:
            documented = {**file_schema(table, labels)}
            documented.setdefault(partition_column(table), pl.Date())
            folder = ml_lake.storage.table_path(table)
            readers = {
                "query command": connection.sql(f"select * from {table}").pl(),
                "duckdb": plain_duckdb.sql(
                    f"select * from read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
                ).pl(),
                "polars": pl.scan_parquet(folder, hive_partitioning=True).collect(),
            }
            order = [partition_column(table), *[c for c in documented if c != partition_column(table)]]
            frames = {name: frame.select(order).sort(order[:3]) for name, frame in readers.items()}
            for name, frame in frames.items():
                assert dict(frame.schema) == {column: documented[column] for column in order}, (table, name)
                assert frame.height > 0, (table, name)
                assert frame.equals(frames["polars"]), (table, name)
    forecast = pl.scan_parquet(ml_lake.storage.table_path("sales_forecast"), hive_partitioning=True)
    assert forecast.filter(pl.col("run_date") == ml_lake.days[-1]).collect().height > 0
    assert (forecast.select(pl.col("target_date") > pl.col("run_date")).collect().to_series()).all()
