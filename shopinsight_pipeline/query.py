"""Run SQL over the lake's tables with DuckDB; every table is a view named after it.

    python -m shopinsight_pipeline.query "select * from daily_sales limit 5" [--root data]
        [--format table|csv|json] [--out result.csv|result.parquet]

Views: every table of the lake that has at least one partition (daily_sales, product_sentiment,
review_scores, validated_orders, ...), read with Hive partitioning so the partition key (`date`,
or `run_date` for sales_forecast and insights) is a column. The table format prints every string in
full and numbers without exponents; `--format csv` or `json` prints machine-readable rows, and
`--out` writes CSV or Parquet (by extension) instead of printing.

Read-only: only SELECT (WITH, DESCRIBE, SHOW) and EXPLAIN statements run; COPY, ATTACH,
INSTALL/LOAD, CREATE, SET, PRAGMA and the like are refused before anything executes. DuckDB itself
may read files only under the lake (`allowed_directories`, external access off, configuration
locked), so `read_csv('/etc/passwd')` fails too. In CSV output, text cells that begin with `=`,
`+`, `-`, `@`, a tab or a carriage return get a leading `'`, so a spreadsheet shows them as text
instead of running them as formulas.
"""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
from upath import UPath

from shopinsight_pipeline.files import is_local
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage

READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
FORMULA_START = r"^[=+\-@\t\r]"


class QueryRefused(ValueError):
    """A statement that would write, attach, install or reconfigure something."""


def check_read_only(sql: str) -> None:
    """Refuse every statement that is not a read, before any of them runs. SQL that does not parse
    passes through, so DuckDB's own message (with its position) reaches the analyst."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return
    for statement in statements:
        if statement.type not in READ_STATEMENTS:
            words = " ".join(statement.query.split()[:3])
            raise QueryRefused(
                f"the query command only reads the lake: {statement.type.name} statements are refused "
                f"('{words} ...'); write a result with --out FILE.csv or FILE.parquet"
            )


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as formulas, prefixed with ' (CSV injection)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START)).then("'" + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text
    )


def print_frame(frame: pl.DataFrame, output_format: str, max_rows: int) -> None:
    """Print a result: a table with full strings and plain numbers, CSV (formulas neutralised) or
    a JSON array of row objects. csv and json print every row; the table prints max_rows."""
    if output_format == "csv":
        sys.stdout.write(neutralise_formulas(frame).write_csv())
    elif output_format == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        with pl.Config(
            tbl_rows=max_rows,
            tbl_cols=-1,
            fmt_str_lengths=60_000,
            fmt_table_cell_list_len=-1,
            fmt_float="full",
            tbl_width_chars=65_000,
            tbl_hide_dataframe_shape=False,
        ):
            print(frame)


def _reader(connection: duckdb.DuckDBPyConnection, root: UPath) -> Callable[[UPath], str]:
    """How DuckDB spells the lake's paths. DuckDB compares allowed directories as text, so local
    paths are made absolute. An object store is read through the lake's own fsspec filesystem,
    registered under a protocol of its own (`lake-s3://`): DuckDB's built-in s3:// needs the httpfs
    extension, which it downloads at run time (not offline, and extensions are locked here)."""
    if is_local(root):
        return lambda path: os.path.abspath(str(path))
    protocol = f"lake-{root.protocol}"
    filesystem = root.fs
    renamed = type(f"Lake{type(filesystem).__name__}", (type(filesystem),), {"protocol": (protocol,)})
    connection.register_filesystem(renamed(**filesystem.storage_options))
    return lambda path: f"{protocol}://{path.path}"


def connect(storage: LakeStorage) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """An in-memory DuckDB with one view per materialized table, then locked down: files only under
    the lake, no extensions, no configuration changes. Returns the view names."""
    connection = duckdb.connect()
    # Timestamps are stored in UTC: show them so, whatever the analyst's machine is set to.
    connection.execute("set TimeZone = 'UTC'")
    spelled = _reader(connection, storage.root_path)
    views = []
    for table in TABLE_LAYERS:
        if not storage.partition_days(table):
            continue
        pattern = spelled(storage.table_path(table) / "*" / "*.parquet").replace("'", "''")
        connection.execute(
            f"create view {table} as select * from "
            f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
        )
        views.append(table)
    lake = spelled(storage.root_path / "lake").rstrip("/") + "/"
    connection.execute("set allowed_directories = [$lake]", {"lake": lake})
    connection.execute("set enable_external_access = false")
    connection.execute("set lock_configuration = true")
    return connection, views


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopinsight_pipeline.query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql")
    parser.add_argument("--root", default="data", help="data root (default: data)")
    parser.add_argument("--out", type=Path, help="write the result to .csv or .parquet instead of printing")
    parser.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="how to print the result (default: table; csv and json print every row)",
    )
    parser.add_argument("--max-rows", type=int, default=50, help="rows the table format prints (default 50)")
    args = parser.parse_args(argv)

    connection, views = connect(LakeStorage(root=args.root))
    if not views:
        print(f"error: no tables under {Path(args.root) / 'lake'}; run `make run` first", file=sys.stderr)
        return 2
    try:
        check_read_only(args.sql)
        result = connection.sql(args.sql)
    except QueryRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(f"error: {error}\nviews: {', '.join(views)}", file=sys.stderr)
        return 2
    if result is None:
        return 0
    frame = result.pl()
    if args.out is None:
        print_frame(frame, args.format, args.max_rows)
    elif args.out.suffix.lower() == ".parquet":
        frame.write_parquet(args.out)
    elif args.out.suffix.lower() == ".csv":
        neutralise_formulas(frame).write_csv(args.out)
    else:
        print(f"error: --out must end in .csv or .parquet, got {args.out}", file=sys.stderr)
        return 2
    if args.out is not None:
        print(f"{frame.height} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
