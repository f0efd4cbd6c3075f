"""Run SQL over the lake's tables with DuckDB; every table is a view named after it.

    python -m shopinsight_pipeline.query "select * from daily_sales limit 5" [--root data]
        [--format table|csv|json] [--out result.csv|result.parquet]
        [--time-limit 300] [--memory-limit 4GB]

Views: every gold table of the lake that has at least one partition (daily_sales, insights,
product_sentiment, ...), read with Hive partitioning so the partition key (`date`, or `run_date`
for the run-date tables) is a column. Silver and bronze tables hold personal data (customer ids,
and in bronze review text as customers typed it): they are operator-only, served with `--layer
silver` / `--layer bronze` where the deployment enables them (SHOPINSIGHT_QUERY_LAYERS, e.g.
`gold,silver,bronze`; default `gold`). The table format prints every string in full
and numbers without exponents; `--format csv` or `json` prints machine-readable rows, and `--out`
writes CSV or Parquet (by extension) instead of printing. Rows are streamed: the table format reads
only the rows it prints, csv, json and --out write batch by batch.

Read-only, three ways over:
- the statement: each statement of the string must parse (DuckDB's own parser, its JSON tree) as a
  plain SELECT (WITH ... SELECT, VALUES, DESCRIBE, SHOW, SUMMARIZE parse as one too), or be an
  EXPLAIN of one without ANALYZE (which runs its statement). COPY, ATTACH, INSTALL/LOAD, CREATE,
  SET, PRAGMA, CALL and the like are refused before anything executes;
- the files: DuckDB reads the lake through a filesystem of ours that refuses every write, may open
  nothing else (`allowed_directories`; external access off, configuration locked), and spills to
  a private temporary folder made for the run and removed after it;
- the cost: a time limit (the query is interrupted) and DuckDB's memory limit, both flags.

In CSV output, text cells that begin with `=`, `+`, `-`, `@`, a tab or a carriage return get a
leading `'`, so a spreadsheet shows them as text instead of running them as formulas.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from shopinsight_pipeline.files import is_local
from shopinsight_pipeline.storage import DAY_UNIT_OF, DAY_UNITS, TABLE_LAYERS, LakeStorage

FORMULA_START = r"^[=+\-@\t\r]"
# Parsed-tree node types of a SELECT statement (json_serialize_sql serializes nothing else).
SELECT_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "CTE_NODE", "RECURSIVE_CTE_NODE"})
BATCH_ROWS = 10_000
DEFAULT_TIME_LIMIT_S = 300.0
DEFAULT_MEMORY_LIMIT = "4GB"
LAYERS = ("gold", "silver", "bronze", "restricted")  # restricted: customer id -> pseudonym
ANALYST_LAYERS = frozenset({"gold"})


class LayerRefused(PermissionError):
    """A layer the deployment does not serve to the query command."""


def enabled_layers() -> frozenset[str]:
    """The layers this deployment lets the query command serve (SHOPINSIGHT_QUERY_LAYERS, an
    operator's setting); gold always."""
    configured = os.environ.get("SHOPINSIGHT_QUERY_LAYERS", "gold")
    named = {layer.strip() for layer in configured.split(",") if layer.strip()}
    unknown = named - set(LAYERS)
    if unknown:
        raise ValueError(f"SHOPINSIGHT_QUERY_LAYERS names unknown layers {sorted(unknown)}; known: {list(LAYERS)}")
    return frozenset(named) | ANALYST_LAYERS


def served_layers(asked: list[str] | None) -> frozenset[str]:
    """Gold, plus the layers asked for with --layer, each of which the deployment must enable."""
    wanted = ANALYST_LAYERS | set(asked or [])
    refused = sorted(wanted - enabled_layers())
    if refused:
        raise LayerRefused(
            f"{' and '.join(refused)} tables hold personal data and are operator-only: this deployment serves "
            f"{', '.join(sorted(enabled_layers()))} (an operator enables more with SHOPINSIGHT_QUERY_LAYERS, "
            "e.g. gold,silver,bronze)"
        )
    return frozenset(wanted)


class QueryRefused(ValueError):
    """A statement that would write, attach, install or reconfigure something."""


def _parses_as_select(parser: duckdb.DuckDBPyConnection, sql: str) -> bool:
    """Whether `sql` is exactly one statement whose parsed tree is a SELECT (DuckDB's parser)."""
    [serialized] = parser.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone() or [None]
    tree: dict[str, Any] = json.loads(serialized) if serialized else {"error": True}
    statements: list[dict[str, Any]] = [] if tree.get("error") else tree.get("statements", [])
    return len(statements) == 1 and statements[0].get("node", {}).get("type") in SELECT_NODES


def _explained_select(parser: duckdb.DuckDBPyConnection, sql: str) -> str | None:
    """Why an EXPLAIN statement is refused, or None when it explains a plain SELECT: EXPLAIN
    ANALYZE executes its statement, and options in parentheses are not admitted (one may be
    ANALYZE), so the word after EXPLAIN must start a statement that parses as a SELECT."""
    tokens = duckdb.tokenize(sql)
    if len(tokens) < 2:
        return "an EXPLAIN without a statement"
    second = tokens[1][0]
    following = sql[second:].lstrip()
    if following[:1] == "(" or following[:7].lower() == "analyze":
        return "EXPLAIN ANALYZE (or EXPLAIN with options) executes its statement; use EXPLAIN SELECT ..."
    if not _parses_as_select(parser, sql[second:]):
        return "EXPLAIN is admitted only for a SELECT"
    return None


def check_read_only(sql: str) -> None:
    """Refuse every statement that is not a read, before any of them runs. SQL that does not parse
    passes through, so DuckDB's own message (with its position) reaches the analyst."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return
    parser = duckdb.connect()  # parses only: json_serialize_sql, no data, nothing executed
    try:
        for statement in statements:
            words = " ".join(statement.query.split()[:3])
            if statement.type == duckdb.StatementType.SELECT and _parses_as_select(parser, statement.query):
                continue
            if statement.type == duckdb.StatementType.EXPLAIN:
                reason = _explained_select(parser, statement.query)
                if reason is None:
                    continue
                raise QueryRefused(f"the query command only reads the lake: {reason} ('{words} ...')")
            raise QueryRefused(
                f"the query command only reads the lake: {statement.type.name} statements are refused "
                f"('{words} ...'); write a result with --out FILE.csv or FILE.parquet"
            )
    finally:
        parser.close()


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as formulas, prefixed with ' (CSV injection)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START)).then("'" + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text
    )


class ReadOnlyFileSystem(AbstractFileSystem):
    """Mixed in before an fsspec filesystem: opening for reading and listing work, every write,
    move or delete raises. DuckDB reaches the lake only through it, so even a statement that got
    past check_read_only could not change a byte there."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("the lake is read-only to the query command")

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":
            self._refuse()
        return super()._open(path, mode, **kwargs)

    rm = rm_file = _rm = rmdir = mv = cp_file = copy = _refuse
    mkdir = makedirs = touch = put = put_file = pipe = pipe_file = _refuse


def _reader(connection: duckdb.DuckDBPyConnection, storage: LakeStorage) -> Callable[[Any], str]:
    """How DuckDB spells the lake's paths: under a protocol of ours (`lake-file://`, `lake-s3://`)
    served by a read-only copy of the lake's fsspec filesystem. An object store goes through it
    anyway (DuckDB's built-in s3:// needs the httpfs extension, downloaded at run time); a local
    lake is read about half as fast as by DuckDB's own file reader on a large scan, the price of a
    lake no statement can write to."""
    root = storage.root_path
    filesystem = LocalFileSystem() if is_local(root) else root.fs
    protocol = "lake-file" if is_local(root) else f"lake-{root.protocol}"
    readonly = type(
        f"ReadOnly{type(filesystem).__name__}", (ReadOnlyFileSystem, type(filesystem)), {"protocol": (protocol,)}
    )
    connection.register_filesystem(readonly(**getattr(filesystem, "storage_options", {})))
    if is_local(root):
        return lambda path: f"{protocol}://{os.path.abspath(str(path))}"
    return lambda path: f"{protocol}://{path.path}"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(
    storage: LakeStorage,
    temp_directory: Path,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    layers: frozenset[str] = frozenset(LAYERS),
) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """An in-memory DuckDB with one view per materialized table of `layers`, then locked down: files
    only under the lake and read-only, spills into `temp_directory`, no extensions, no
    configuration changes. Returns the view names. The views list the written partitions' files (storage.partition_days
    skips folders that are no partition, such as `date=2026-08-01.bak`)."""
    connection = duckdb.connect()
    # Timestamps are stored in UTC: show them so, whatever the analyst's machine is set to.
    connection.execute("set TimeZone = 'UTC'")
    spelled = _reader(connection, storage)
    # a publish a crash cut short (storage.publish_day): read each table's newest file of the day, as
    # the next run will make it, so the day's raw, validated and quarantined tables still agree
    unfinished = {source: storage.pending_publishes(source) for source in DAY_UNITS}
    views = []
    for table in (name for name, layer in TABLE_LAYERS.items() if layer in layers):
        pending = unfinished.get(DAY_UNIT_OF.get(table, ""), {})
        pending_days = {day for day, plan in pending.items() if table in plan}
        files = []
        for day in sorted(set(storage.partition_days(table)) | pending_days):
            if day in pending_days:
                files.append(spelled(storage.path(pending[day][table])))
            else:
                files += [spelled(path) for path in storage.partition_files(table, day, listed=True)]
        if not files:
            continue
        connection.execute(
            f"create view {table} as select * from read_parquet([{', '.join(map(_quoted, files))}], "
            "hive_partitioning = true, union_by_name = true)"
        )
        views.append(table)
    lake = spelled(storage.root_path / "lake").rstrip("/") + "/"
    connection.execute("set temp_directory = $folder", {"folder": str(temp_directory)})
    connection.execute("set memory_limit = $limit", {"limit": memory_limit})
    connection.execute("set allowed_directories = [$lake]", {"lake": lake})
    connection.execute("set enable_external_access = false")
    connection.execute("set lock_configuration = true")
    return connection, views


@contextmanager
def open_lake(
    storage: LakeStorage, memory_limit: str = DEFAULT_MEMORY_LIMIT, layers: frozenset[str] = frozenset(LAYERS)
) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[str]]]:
    """connect() with a private spill folder (mode 0700) that is removed, with the connection, after.
    Every layer by default (the operators' code and tests); the command line serves gold unless told."""
    temp_directory = Path(tempfile.mkdtemp(prefix="shopinsight-query-"))
    connection = None
    try:
        connection, views = connect(storage, temp_directory, memory_limit, layers)
        yield connection, views
    finally:
        if connection is not None:
            connection.close()
        shutil.rmtree(temp_directory, ignore_errors=True)


@contextmanager
def time_limit(connection: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[threading.Event]:
    """Interrupt the connection's query after `seconds` (0: no limit); the event says it fired."""
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        connection.interrupt()

    timer = threading.Timer(seconds, interrupt) if seconds > 0 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield fired
    finally:
        if timer is not None:
            timer.cancel()


def _frames(reader: pa.RecordBatchReader) -> Iterator[pl.DataFrame]:
    for batch in reader:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield frame


def _empty(reader: pa.RecordBatchReader) -> pl.DataFrame:
    frame = pl.from_arrow(reader.schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def print_table(reader: pa.RecordBatchReader, max_rows: int, out: TextIO) -> None:
    """The first max_rows rows with full strings and plain numbers; reads no further than that."""
    shown: list[pl.DataFrame] = []
    rows, more = 0, False
    for frame in _frames(reader):
        shown.append(frame)
        rows += frame.height
        if rows > max_rows:
            more = True
            break
    frame = pl.concat(shown).head(max_rows) if shown else _empty(reader)
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        fmt_str_lengths=60_000,
        fmt_table_cell_list_len=-1,
        fmt_float="full",
        tbl_width_chars=65_000,
        tbl_hide_dataframe_shape=False,
    ):
        print(frame, file=out)
    if more:
        print(f"(the first {max_rows} rows; the result has more: --max-rows, --format csv or --out)", file=out)


def write_csv(reader: pa.RecordBatchReader, out: TextIO) -> int:
    """Every row as CSV (formulas neutralised), batch by batch; returns the row count."""
    rows, header = 0, True
    for frame in _frames(reader):
        out.write(neutralise_formulas(frame).write_csv(include_header=header))
        rows, header = rows + frame.height, False
    if header:
        out.write(_empty(reader).write_csv())
    return rows


def write_json(reader: pa.RecordBatchReader, out: TextIO) -> int:
    """Every row as one JSON array of row objects, batch by batch; returns the row count."""
    rows, separator = 0, ""
    out.write("[")
    for frame in _frames(reader):
        objects = frame.write_json()[1:-1]
        if objects:
            out.write(separator + objects)
            separator = ","
        rows += frame.height
    out.write("]\n")
    return rows


def write_out(reader: pa.RecordBatchReader, target: Path) -> int:
    """Write the result to a .csv or .parquet file, all or nothing (a temp file renamed over it)."""
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        if target.suffix.lower() == ".parquet":
            rows = 0
            with pq.ParquetWriter(str(temporary), reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        else:
            with temporary.open("w", encoding="utf-8", newline="") as handle:
                rows = write_csv(reader, handle)
        os.replace(temporary, target)
        return rows
    finally:
        temporary.unlink(missing_ok=True)


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
    parser.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT_S,
        help=f"seconds before the query is stopped (default {DEFAULT_TIME_LIMIT_S:g}; 0: none)",
    )
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        help=f"DuckDB's memory limit, beyond which it spills or fails (default {DEFAULT_MEMORY_LIMIT})",
    )
    parser.add_argument(
        "--layer",
        action="append",
        choices=("silver", "bronze", "restricted"),
        help="also serve the silver or bronze tables (personal data: operator-only; the deployment must enable "
        "the layer with SHOPINSIGHT_QUERY_LAYERS)",
    )
    args = parser.parse_args(argv)
    try:
        layers = served_layers(args.layer)
    except (LayerRefused, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet"):
        print(f"error: --out must end in .csv or .parquet, got {args.out}", file=sys.stderr)
        return 2
    try:
        check_read_only(args.sql)
    except QueryRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    storage = LakeStorage(root=args.root)
    with open_lake(storage, args.memory_limit, layers) as (connection, views):
        if not views:
            shown = ", ".join(sorted(layers))
            print(f"error: no {shown} tables under {Path(args.root) / 'lake'}; run `make run` first", file=sys.stderr)
            return 2
        with time_limit(connection, args.time_limit) as fired:
            try:
                result = connection.sql(args.sql)
                if result is None:
                    return 0
                reader = result.to_arrow_reader(BATCH_ROWS)
                if args.out is not None:
                    rows = write_out(reader, args.out)
                    print(f"{rows} rows -> {args.out}")
                elif args.format == "csv":
                    write_csv(reader, sys.stdout)
                elif args.format == "json":
                    write_json(reader, sys.stdout)
                else:
                    print_table(reader, args.max_rows, sys.stdout)
            except duckdb.InterruptException:
                if not fired.is_set():
                    raise
                print(
                    f"error: the query ran past its time limit of {args.time_limit:g} s and was stopped "
                    "(--time-limit; narrow it with a where clause on date)",
                    file=sys.stderr,
                )
                return 2
            except duckdb.OutOfMemoryException as error:
                print(
                    f"error: the query needs more than its memory limit of {args.memory_limit} "
                    f"(--memory-limit): {error}",
                    file=sys.stderr,
                )
                return 2
            except duckdb.Error as error:
                hidden = sorted(
                    f"{table} ({layer})"
                    for table, layer in TABLE_LAYERS.items()
                    if layer not in layers and table in args.sql
                )
                note = f"\nnot served here: {', '.join(hidden)} (--layer, operator-only)" if hidden else ""
                print(f"error: {error}\nviews: {', '.join(views)}{note}", file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
