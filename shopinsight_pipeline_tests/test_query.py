"""The analysts' query command over the foundation lake."""

import json

import polars as pl
import pytest

from shopinsight_pipeline.query import main


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
