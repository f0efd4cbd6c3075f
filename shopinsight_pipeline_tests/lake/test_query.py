"""The analysts' query command over the foundation lake."""

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from shopinsight_pipeline.query import main, open_lake
from shopinsight_pipeline.storage import LakeStorage


def test_query_sees_tables_as_views_with_the_date_column(lake, capsys, tmp_path):
    out = tmp_path / "sales.csv"
    sql = "select date, sum(revenue) as revenue from daily_sales group by date order by date"
    assert main([sql, "--root", str(lake.root), "--out", str(out)]) == 0
    result = pl.read_csv(out, try_parse_dates=True)
    expected = (
        pl.scan_parquet(str(lake.root / "lake/gold/daily_sales/*/*.parquet"), hive_partitioning=True)
        .group_by("date")
        .agg(pl.col("revenue").sum())
        .sort("date")
        .collect()
    )
    assert result.get_column("date").to_list() == expected.get_column("date").to_list()
    # Summation order differs between DuckDB and polars: equal up to float rounding.
    assert result.get_column("revenue").to_list() == pytest.approx(expected.get_column("revenue").to_list())


def test_bad_sql_names_the_views(lake, capsys):
    assert main(["select * from no_such_table", "--root", str(lake.root)]) == 2
    err = capsys.readouterr().err
    assert "no_such_table" in err
    assert "daily_sales" in err


def test_empty_lake_says_run_first(tmp_path, capsys):
    assert main(["select 1", "--root", str(tmp_path)]) == 2
    assert "run `make run` first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("copy (select * from daily_sales) to '{out}'", "COPY"),
        ("attach '{out}' as other", "ATTACH"),
        ("install httpfs", "LOAD"),
        ("load httpfs", "LOAD"),
        ("create table copied as select * from daily_sales", "CREATE"),
        ("set enable_external_access = true", "SET"),
        ("select 1; copy (select 1) to '{out}'", "COPY"),  # one write among reads refuses the whole
    ],
)
def test_query_refuses_every_statement_that_is_not_a_read(lake, capsys, tmp_path, sql, kind):
    out = tmp_path / "written.csv"
    assert main([sql.format(out=out), "--root", str(lake.root)]) == 2
    err = capsys.readouterr().err
    assert f"only reads the lake: {kind} statements are refused" in err
    assert "--out" in err
    assert not out.exists()


def test_query_cannot_read_files_outside_the_lake(lake, capsys, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    assert main([f"select * from read_csv('{secret}')", "--root", str(lake.root)]) == 2
    assert "Permission Error" in capsys.readouterr().err


def test_csv_output_neutralises_spreadsheet_formulas(lake, tmp_path):
    out = tmp_path / "cells.csv"
    sql = "select '=HYPERLINK(\"http://x\")' as a, '+1' as b, '-2' as c, '@SUM(A1)' as d, 'ok' as e, -3.5 as n"
    assert main([sql, "--root", str(lake.root), "--out", str(out)]) == 0
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    assert row == {"a": '\'=HYPERLINK("http://x")', "b": "'+1", "c": "'-2", "d": "'@SUM(A1)", "e": "ok", "n": "-3.5"}


LONG_SENTENCE = "Revenue of the next 14 days is forecast at 5599612.25, " + "a sentence longer than a column " * 8


def test_the_table_format_prints_whole_strings_and_plain_numbers(lake, capsys):
    sql = f"select '{LONG_SENTENCE}' as sentence, 5599612.25::double as revenue"
    assert main([sql, "--root", str(lake.root)]) == 0
    out = capsys.readouterr().out
    assert LONG_SENTENCE in out
    assert "5599612.25" in out
    assert "e6" not in out and "…" not in out


@pytest.mark.parametrize("output_format", ["csv", "json"])
def test_csv_and_json_formats_print_every_row_readably(lake, capsys, output_format):
    sql = "select date, category, revenue from daily_sales order by date, category"
    assert main([sql, "--root", str(lake.root), "--format", output_format, "--max-rows", "2"]) == 0
    out = capsys.readouterr().out
    expected = pl.read_parquet(lake.root / "lake/gold/daily_sales", hive_partitioning=True).sort("date", "category")
    if output_format == "csv":
        printed = pl.read_csv(out.encode(), try_parse_dates=True)
    else:
        printed = pl.DataFrame(json.loads(out)).with_columns(pl.col("date").str.to_date())
    assert printed.height == expected.height  # --max-rows limits the table format only
    assert printed.get_column("category").to_list() == expected.get_column("category").to_list()
    assert printed.get_column("revenue").to_list() == pytest.approx(expected.get_column("revenue").to_list())


def lake_bytes(root) -> dict[str, bytes]:
    """Every file under the lake with its content: what a refused statement must leave as it was."""
    return {str(path): path.read_bytes() for path in sorted((root / "lake").rglob("*")) if path.is_file()}


WRITERS_INSIDE_READS = [
    # EXPLAIN ANALYZE executes its statement: each of these wrote into the lake or the machine
    "explain analyze copy (select * replace ('INJECTED-'||order_id as order_id, 999999.0 as unit_price) "
    "from validated_orders where date='2026-08-01') to '{partition}' (format parquet)",
    "explain analyze copy (select 1 as p) to '{silver}' (format parquet, partition_by (p), overwrite true)",
    "explain analyze create table copied as select * from daily_sales",
    "explain analyze insert into daily_sales select * from daily_sales",
    "explain analyze delete from daily_sales",
    "explain analyze select 1",  # it runs what it explains, whatever that is: refused as a kind
    "EXPLAIN\n  ANALYZE copy (select 1) to '{out}'",
    "explain (analyze, format json) copy (select 1) to '{out}'",
    "explain copy (select 1) to '{out}'",
    "explain create table t as select 1",
    "with rows as (select 1 as a) insert into daily_sales select * from rows",
    "with rows as (select 1 as a) select * from rows; copy (select 1) to '{out}'",
    "pragma version",
    "call pragma_version()",
    "export database '{out_dir}'",
    "set variable leaked = 1",
    "delete from daily_sales",
    "update daily_sales set revenue = 0",
    "drop view daily_sales",
]


@pytest.mark.parametrize("sql", WRITERS_INSIDE_READS)
def test_statements_that_execute_or_write_are_refused_and_the_lake_is_unchanged(lake, capsys, tmp_path, sql):
    before = lake_bytes(lake.root)
    partition = lake.root / "lake/silver/validated_orders/date=2026-08-01/part-0.parquet"
    out, out_dir = tmp_path / "written.parquet", tmp_path / "exported"
    statement = sql.format(partition=partition, silver=lake.root / "lake/silver", out=out, out_dir=out_dir)
    assert main([statement, "--root", str(lake.root)]) == 2
    assert "only reads the lake" in capsys.readouterr().err
    assert lake_bytes(lake.root) == before
    assert not out.exists() and not out_dir.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "describe daily_sales",
        "show tables",
        "summarize select 1 as a",
        "explain select * from daily_sales",
        "with days as (select distinct date from daily_sales) select count(*) from days",
        "values (1, 'a')",
        "(select 1) union all (select 2)",
    ],
)
def test_plain_reads_and_explain_without_analyze_run(lake, capsys, sql):
    assert main([sql, "--root", str(lake.root)]) == 0, capsys.readouterr().err


def test_the_connection_itself_cannot_write_into_the_lake(lake):
    """Past the statement check too: DuckDB reaches the lake only through a read-only filesystem
    and may open nothing else, so a COPY run on the connection directly fails and changes nothing."""
    before = lake_bytes(lake.root)
    partition = lake.root / "lake/silver/validated_orders/date=2026-08-01/part-0.parquet"
    with open_lake(LakeStorage(root=str(lake.root))) as (connection, _):
        for target in (f"lake-file://{partition}", str(partition), str(lake.root / "lake/silver/extra.parquet")):
            with pytest.raises(duckdb.Error):
                connection.execute(f"copy (select 1 as a) to '{target}' (format parquet)")
        with pytest.raises(duckdb.Error):
            connection.execute("set enable_external_access = true")
    assert lake_bytes(lake.root) == before


def test_duckdb_spills_into_a_private_folder_that_is_removed_afterwards(lake, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the old default spilled into <cwd>/.tmp, readable through the allow-list
    with open_lake(LakeStorage(root=str(lake.root))) as (connection, _):
        [(folder,)] = connection.execute("select current_setting('temp_directory')").fetchall()
        assert Path(folder).is_dir()
        assert Path(folder).stat().st_mode & 0o077 == 0  # only this user
        assert not Path(folder).is_relative_to(tmp_path) and not Path(folder).is_relative_to(lake.root)
    assert not Path(folder).exists()
    assert not (tmp_path / ".tmp").exists()


def test_the_table_format_streams_only_the_rows_it_prints(lake, capsys):
    # ten billion rows: a command that read the whole result first would run into its time limit
    sql = "select range as n from range(10000000000)"
    assert main([sql, "--root", str(lake.root), "--max-rows", "3", "--time-limit", "120"]) == 0
    out = capsys.readouterr().out
    assert "the first 3 rows; the result has more" in out
    cells = [line.strip("│ ") for line in out.splitlines() if line.startswith("│")]
    assert cells[-3:] == ["0", "1", "2"]


def test_a_query_past_its_time_limit_is_stopped_with_a_clear_error(lake, capsys):
    sql = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = -1"
    assert main([sql, "--root", str(lake.root), "--time-limit", "0.5"]) == 2
    assert "ran past its time limit of 0.5 s" in capsys.readouterr().err


def test_a_query_past_its_memory_limit_fails_with_a_clear_error(lake, capsys):
    sql = "select list(md5(range::varchar)) from range(3000000)"
    assert main([sql, "--root", str(lake.root), "--memory-limit", "20MB"]) == 2
    assert "memory limit of 20MB" in capsys.readouterr().err


def test_out_writes_parquet_whole_and_replaces_an_earlier_file(lake, tmp_path):
    out = tmp_path / "sales.parquet"
    out.write_bytes(b"an older result")
    sql = "select date, category, revenue from daily_sales order by date, category"
    assert main([sql, "--root", str(lake.root), "--out", str(out)]) == 0
    expected = pl.read_parquet(lake.root / "lake/gold/daily_sales", hive_partitioning=True).sort("date", "category")
    assert pl.read_parquet(out).height == expected.height
    assert [path.name for path in tmp_path.iterdir()] == ["sales.parquet"]  # no temp file left


def test_a_stray_folder_beside_the_partitions_is_skipped_with_a_warning(lake, tmp_path, capsys):
    """Issue 25.6: `date=2026-08-01.bak` made every query fail with 'Invalid isoformat string'."""
    table = tmp_path / "lake/gold/daily_sales"
    shutil.copytree(lake.root / "lake/gold/daily_sales", table)
    first = sorted(table.iterdir())[0]
    shutil.copytree(first, table / f"{first.name}.bak")
    sql = "select count(distinct date) as days, count(*) as rows from daily_sales"
    with pytest.warns(UserWarning, match=r"date=2026-08-01\.bak"):
        assert main([sql, "--root", str(tmp_path), "--format", "csv"]) == 0
    printed = pl.read_csv(capsys.readouterr().out.encode())
    expected = pl.read_parquet(lake.root / "lake/gold/daily_sales", hive_partitioning=True)
    assert printed.row(0) == (expected.get_column("date").n_unique(), expected.height)


def test_analysts_get_gold_tables_and_silver_or_bronze_only_where_an_operator_enabled_them(lake, capsys, monkeypatch):
    """Issue 27.5: silver and bronze hold personal data; the command serves gold unless told and allowed."""
    monkeypatch.delenv("SHOPINSIGHT_QUERY_LAYERS", raising=False)
    root = ["--root", str(lake.root)]
    assert main(["select count(*) from validated_orders", *root]) == 2
    error = capsys.readouterr().err
    assert "not served here: validated_orders (silver)" in error and "raw_orders" not in error.split("views:")[1]
    assert main(["select count(*) from validated_orders", "--layer", "silver", *root]) == 2
    refused = capsys.readouterr().err
    assert "operator-only" in refused and "SHOPINSIGHT_QUERY_LAYERS" in refused

    monkeypatch.setenv("SHOPINSIGHT_QUERY_LAYERS", "gold,silver")
    assert main(["select count(*) as n from validated_orders", "--layer", "silver", "--format", "csv", *root]) == 0
    assert int(capsys.readouterr().out.splitlines()[1]) > 0
    assert main(["select count(*) from raw_orders", "--layer", "bronze", *root]) == 2  # bronze is not enabled
    assert "bronze tables hold personal data" in capsys.readouterr().err
    monkeypatch.setenv("SHOPINSIGHT_QUERY_LAYERS", "gold,platinum")
    assert main(["select 1", *root]) == 2
    assert "unknown layers ['platinum']" in capsys.readouterr().err
