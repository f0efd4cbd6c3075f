"""Run SQL over the lake's tables with DuckDB; every table is a view named after it.

    python -m shopinsight_pipeline.query "select * from daily_sales limit 5" [--root data] [--out result.csv]

Views: every table of the lake that has at least one partition (daily_sales, product_sentiment,
review_scores, validated_orders, ...), read with Hive partitioning so `date` is a column.
`--out` writes CSV or Parquet (by extension) instead of printing.
"""

import argparse
import sys
from pathlib import Path

import duckdb

from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage


def connect(storage: LakeStorage) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """An in-memory DuckDB with one view per materialized table; returns the view names."""
    connection = duckdb.connect()
    views = []
    for table in TABLE_LAYERS:
        if not storage.partition_days(table):
            continue
        pattern = str(storage.table_path(table) / "*" / "*.parquet").replace("'", "''")
        connection.execute(
            f"create view {table} as select * from "
            f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        )
        views.append(table)
    return connection, views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopinsight_pipeline.query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql")
    parser.add_argument("--root", default="data", help="data root (default: data)")
    parser.add_argument("--out", type=Path, help="write the result to .csv or .parquet instead of printing")
    parser.add_argument("--max-rows", type=int, default=50, help="rows to print (default 50)")
    args = parser.parse_args(argv)

    connection, views = connect(LakeStorage(root=args.root))
    if not views:
        print(f"error: no tables under {Path(args.root) / 'lake'}; run `make run` first", file=sys.stderr)
        return 2
    try:
        result = connection.sql(args.sql)
    except duckdb.Error as error:
        print(f"error: {error}\nviews: {', '.join(views)}", file=sys.stderr)
        return 2
    if result is None:
        return 0
    frame = result.pl()
    if args.out is None:
        import polars as pl

        with pl.Config(tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=60):
            print(frame)
    elif args.out.suffix.lower() == ".parquet":
        frame.write_parquet(args.out)
    elif args.out.suffix.lower() == ".csv":
        frame.write_csv(args.out)
    else:
        print(f"error: --out must end in .csv or .parquet, got {args.out}", file=sys.stderr)
        return 2
    if args.out is not None:
        print(f"{frame.height} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
