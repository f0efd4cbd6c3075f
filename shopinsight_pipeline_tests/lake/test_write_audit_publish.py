"""Write, audit, publish (issue 26.4): a day's validated and gold partitions become visible to readers
only after their blocking checks pass. A failing check leaves the previous version (or nothing)
visible to DuckDB and polars, and the staged files for inspection, named in the check's metadata."""

from datetime import date
from pathlib import Path

import polars as pl
from dagster import DagsterInstance

from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.sample import write_sample
from shopinsight_pipeline.storage import DAY_UNITS, LakeStorage
from shopinsight_pipeline_tests.conftest import (
    PERMISSIVE,
    SMALL_SPEC,
    materialize_assets,
    materialize_days,
    sample_days,
)

STRICT = {"ops": {"validate_orders": {"config": {"max_reject_rate": 0.0}}}}  # no dirty day meets it
ACCEPTING = {"ops": {"validate_orders": PERMISSIVE["ops"]["validate_orders"]}}
ORDER_TABLES = ["raw_orders", "validated_orders", "quarantined_orders"]


def checks_of(result, asset: str) -> dict[str, object]:
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.path == [asset]
    }


def polars_rows(root: Path, layer: str, table: str, key: str, day: date) -> int:
    """What an analyst's polars scan of the lake sees of `day` (Hive partitioning, as the README shows)."""
    files = list((root / "lake" / layer / table).glob("*/*.parquet"))
    if not files:
        return 0
    scanned = pl.scan_parquet(f"{root}/lake/{layer}/{table}/**/*.parquet", hive_partitioning=True)
    return scanned.filter(pl.col(key) == day).select(pl.len()).collect().item()


def duckdb_rows(storage: LakeStorage, table: str, key: str, day: date) -> int:
    with open_lake(storage) as (connection, views):
        if table not in views:
            return 0
        return connection.execute(f"select count(*) from {table} where {key} = ?", [day]).fetchone()[0]


def test_a_failing_validation_check_keeps_the_previous_day_visible_and_the_new_one_staged(tmp_path):
    write_sample(tmp_path, SMALL_SPEC)
    first = sample_days(SMALL_SPEC)[0]
    key = first.isoformat()
    instance = DagsterInstance.ephemeral()
    assert all(result.success for result in materialize_days(tmp_path, [first], instance))
    storage = LakeStorage(root=str(tmp_path))
    published = {table: storage.read_partition(table, first) for table in ORDER_TABLES}
    # a new, smaller delivery of the day, then a validation whose reject-rate check fails
    landing = storage.landing_file("orders", first)
    lines = landing.read_text(encoding="utf-8").splitlines(keepends=True)
    landing.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")

    result = materialize_assets(tmp_path, instance, ["raw_orders", *ORDER_TABLES[1:]], STRICT, key)
    assert not result.success
    checks = checks_of(result, "validated_orders")
    assert not checks["reject_rate_within_threshold"].passed
    assert checks["reject_rate_within_threshold"].metadata["failed_days"].value == [key]
    for table in ORDER_TABLES:  # readers see the previous delivery and its split, unchanged
        assert storage.read_partition(table, first).equals(published[table])
    assert duckdb_rows(storage, "validated_orders", "date", first) == published["validated_orders"].height
    assert polars_rows(tmp_path, "silver", "validated_orders", "date", first) == published["validated_orders"].height
    # the new day waits in staging, and the failed check names every staged file
    staged = [str(storage.staged_file(table, first)) for table in DAY_UNITS["orders"]]
    assert all(Path(path).exists() for path in staged)
    named = checks["reject_rate_within_threshold"].metadata["not_published"].value
    assert all(path in named for path in staged)
    assert "not_published" not in checks["rows_conserved"].metadata  # a check that passed names nothing
    assert pl.read_parquet(staged[0]).height == len(lines) // 2 - 1  # the staged raw: the new delivery

    # the operator accepts the day (a looser threshold): the staged delivery is published whole
    result = materialize_assets(tmp_path, instance, ORDER_TABLES[1:], ACCEPTING, key)
    assert result.success
    assert storage.read_partition("raw_orders", first).height == len(lines) // 2 - 1
    assert duckdb_rows(storage, "validated_orders", "date", first) == storage.row_count("validated_orders", first)
    assert not any(Path(path).exists() for path in staged)


def test_a_day_that_never_passed_is_invisible_to_duckdb_and_polars(tmp_path):
    write_sample(tmp_path, SMALL_SPEC)
    first = sample_days(SMALL_SPEC)[0]
    [result] = materialize_days(tmp_path, [first], DagsterInstance.ephemeral(), run_config=STRICT)
    assert not result.success
    storage = LakeStorage(root=str(tmp_path))
    assert storage.staged_file("validated_orders", first).exists()
    assert duckdb_rows(storage, "validated_orders", "date", first) == 0
    assert polars_rows(tmp_path, "silver", "validated_orders", "date", first) == 0
    assert polars_rows(tmp_path, "bronze", "raw_orders", "date", first) == 0  # the delivery too
    assert not (tmp_path / "lake" / "gold" / "daily_sales").exists()  # downstream did not run


def test_a_gold_day_that_fails_its_checks_is_not_published(tmp_path, monkeypatch):
    """A planted defect: a summary that repeats its rows (a join gone wrong) fails keys_unique."""
    import shopinsight_pipeline.reports.assets as report_assets

    write_sample(tmp_path, SMALL_SPEC)
    first = sample_days(SMALL_SPEC)[0]
    instance = DagsterInstance.ephemeral()
    assert all(result.success for result in materialize_days(tmp_path, [first], instance))
    storage = LakeStorage(root=str(tmp_path))
    before = storage.read_partition("daily_sales", first)
    assert before.height > 0
    real = report_assets.summarize_daily_sales
    monkeypatch.setattr(report_assets, "summarize_daily_sales", lambda orders: pl.concat([real(orders)] * 2))

    result = materialize_assets(tmp_path, instance, ["daily_sales"], {}, first.isoformat())
    assert not result.success
    checks = checks_of(result, "daily_sales")
    assert {name: check.passed for name, check in checks.items()} == {
        "row_count_in_bounds": True,
        "required_columns_not_null": True,
        "keys_unique": False,
        "values_in_range": True,
    }
    assert "keys repeated (date, category)" in checks["keys_unique"].metadata["problems"].value
    staged = storage.staged_file("daily_sales", first)
    assert str(staged) in checks["keys_unique"].metadata["not_published"].value
    assert pl.read_parquet(str(staged)).height == 2 * before.height
    assert storage.read_partition("daily_sales", first).equals(before)
    assert duckdb_rows(storage, "daily_sales", "date", first) == before.height
    assert polars_rows(tmp_path, "gold", "daily_sales", "date", first) == before.height

    monkeypatch.setattr(report_assets, "summarize_daily_sales", real)
    assert materialize_assets(tmp_path, instance, ["daily_sales"], {}, first.isoformat()).success
    assert storage.read_partition("daily_sales", first).equals(before) and not staged.exists()
