"""The analysts' query command over the foundation lake."""

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
