"""LakeStorage: paths in one place, atomic writes that replace, clear errors for missing data."""

from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.storage import LakeStorage, MissingPartitionError

DAY = date(2026, 8, 3)


def test_partition_layout_is_hive_style(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    path = storage.partition_file("daily_sales", DAY)
    assert path.relative_to(tmp_path).as_posix() == "lake/gold/daily_sales/date=2026-08-03/part-0.parquet"
    assert storage.landing_file("orders", DAY).name == "orders_2026-08-03.csv"
    assert storage.landing_file("reviews", DAY).name == "reviews_2026-08-03.jsonl"


def test_rewriting_a_partition_replaces_it_and_leaves_no_temp_files(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    storage.write_partition("raw_orders", DAY, pl.DataFrame({"a": [1, 2, 3]}))
    storage.write_partition("raw_orders", DAY, pl.DataFrame({"a": [4]}))
    assert storage.read_partition("raw_orders", DAY).get_column("a").to_list() == [4]
    folder = storage.partition_file("raw_orders", DAY).parent
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]


def test_a_failed_write_keeps_the_old_partition(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    storage.write_partition("raw_orders", DAY, pl.DataFrame({"a": [1]}))
    unwritable = pl.DataFrame({"a": [object()]}, schema={"a": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 - polars refuses Object columns; the type is polars'
        storage.write_partition("raw_orders", DAY, unwritable)
    assert storage.read_partition("raw_orders", DAY).get_column("a").to_list() == [1]
    assert [p.name for p in storage.partition_file("raw_orders", DAY).parent.iterdir()] == ["part-0.parquet"]


def test_reading_a_missing_partition_names_the_path(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    with pytest.raises(
        MissingPartitionError, match=r"validated_orders has no partition for 2026-08-03: expected .*date=2026-08-03"
    ):
        storage.read_partition("validated_orders", DAY)


def test_unknown_table_is_refused(tmp_path):
    with pytest.raises(KeyError, match="unknown table 'sales'"):
        LakeStorage(root=str(tmp_path)).table_path("sales")
