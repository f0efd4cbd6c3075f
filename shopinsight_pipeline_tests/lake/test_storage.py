"""LakeStorage: paths in one place, atomic writes that replace, clear errors for missing data."""

import uuid
import warnings
from datetime import date

import polars as pl
import pytest
from upath import UPath

from shopinsight_pipeline.files import MANIFEST, read_committed, swap_folder
from shopinsight_pipeline.storage import LakeStorage, MissingPartitionError, clear_path_cache

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


def test_a_published_model_folder_is_read_only_when_committed_and_whole():
    """read_committed (the sequence recommender's loader uses it): a folder without its marker, or a
    file replaced after the marker was written, raises instead of mixing two publishes."""
    folder = UPath(f"memory://models-{uuid.uuid4().hex[:8]}/recommender/sequence")

    def fill(staging):
        (staging / "config.json").write_text('{"version": 1}')
        (staging / "model.safetensors").write_bytes(b"weights 1")

    swap_folder(folder, fill)
    assert read_committed(folder, ["config.json", "model.safetensors"]) == {
        "config.json": b'{"version": 1}',
        "model.safetensors": b"weights 1",
    }
    (folder / "model.safetensors").write_bytes(b"weights 2")  # another publish, caught between its uploads
    with pytest.raises(RuntimeError, match="does not match"):
        read_committed(folder, ["config.json", "model.safetensors"])
    (folder / MANIFEST).unlink()  # a publish that stopped before its marker
    with pytest.raises(FileNotFoundError, match="was not committed"):
        read_committed(folder, ["config.json"])


def test_object_store_paths_are_kept_until_the_cache_is_cleared():
    """A kept UPath keeps the filesystem client it made (its endpoint): clear_path_cache forgets it,
    for a process that points the same URL at another store."""
    storage = LakeStorage(root="memory://lake-kept")
    table, root = storage.table_path("daily_sales"), storage.path("memory://lake-kept")
    assert storage.table_path("daily_sales") is table and storage.path("memory://lake-kept") is root
    clear_path_cache()
    assert storage.table_path("daily_sales") is not table and storage.path("memory://lake-kept") is not root
    assert storage.table_path("daily_sales") == table  # the same place, built again


STRAY_FOLDERS = ("date=2026-08-01.bak", "date=2026-13-45", "date=", "date=20260804", "2026-08-05")


def stray_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted(str(warning.message) for warning in caught if "not a partition of" in str(warning.message))


def test_stray_folders_beside_the_partitions_are_skipped_with_a_warning_naming_them(tmp_path):
    """Issue 25: a `date=2026-08-01.bak` copy made every query and validation fail on
    date.fromisoformat, naming no path. `date=20260804` is a day to fromisoformat, not to us."""
    storage = LakeStorage(root=str(tmp_path))
    for day in (date(2026, 8, 1), date(2026, 8, 2)):
        storage.write_partition("raw_orders", day, pl.DataFrame({"a": [day.day]}))
    table = tmp_path / "lake" / "bronze" / "raw_orders"
    for name in STRAY_FOLDERS:
        (table / name).mkdir()
        (table / name / "part-0.parquet").write_bytes((table / "date=2026-08-01" / "part-0.parquet").read_bytes())
    (table / ".date=2026-08-03.0123abcd.tmp").mkdir()  # a write in flight: skipped without a word
    (table / ".date=2026-08-03.0123abcd.tmp" / "part-0.parquet").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert storage.partition_days("raw_orders") == [date(2026, 8, 1), date(2026, 8, 2)]
    messages = stray_warnings(caught)
    assert len(messages) == len(STRAY_FOLDERS), messages
    for name in STRAY_FOLDERS:
        assert sum(f"skipping {table / name}: " in message for message in messages) == 1, name


def test_a_run_date_table_skips_a_folder_of_the_other_key(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    storage.write_partition("insights", DAY, pl.DataFrame({"a": [1]}))
    table = tmp_path / "lake" / "gold" / "insights"
    (table / "date=2026-08-02").mkdir()
    (table / "date=2026-08-02" / "part-0.parquet").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"insights/date=2026-08-02: not a partition of insights"):
        assert storage.partition_days("insights") == [DAY]


def test_stray_folders_on_an_object_store_are_skipped_with_a_warning_naming_them():
    root = f"memory://lake-stray-{uuid.uuid4().hex[:8]}"
    storage = LakeStorage(root=root)
    assert storage.is_object_store
    for day in (date(2026, 8, 1), date(2026, 8, 2)):
        storage.write_partition("validated_orders", day, pl.DataFrame({"a": [day.day]}))
    table = UPath(f"{root}/lake/silver/validated_orders")
    for name in STRAY_FOLDERS:
        (table / name / "part-0.parquet").write_bytes(b"PAR1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(storage.written_partitions("validated_orders")) == [date(2026, 8, 1), date(2026, 8, 2)]
    messages = stray_warnings(caught)
    assert len(messages) == len(STRAY_FOLDERS), messages
    for name in STRAY_FOLDERS:
        assert sum(f"skipping {root}/lake/silver/validated_orders/{name}: " in m for m in messages) == 1, name
