"""The asset chain materialized in process on a small generated landing zone."""

import hashlib
import json
from collections import defaultdict

import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.sample import ORDER_DEFECTS, REVIEW_DEFECTS, write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import PERMISSIVE, SMALL_SPEC, foundation_job, materialize_days

# What each planted defect must be quarantined for, stated here independently of the code.
EXPECTED_RULE = {
    ("orders", "missing_order_id"): "missing_order_id",
    ("orders", "missing_customer_id"): "missing_customer_id",
    ("orders", "price_with_decimal_comma"): "unit_price_not_a_number",
    ("orders", "quantity_not_a_number"): "quantity_not_an_integer",
    ("orders", "negative_quantity"): "quantity_out_of_range",
    ("orders", "duplicate_order_in_file"): "duplicate_order_id",
    ("orders", "duplicate_order_across_days"): "order_id_seen_on_earlier_day",
    ("orders", "timestamp_outside_day"): "timestamp_outside_partition_day",
    ("orders", "extra_field"): "wrong_field_count",
    ("orders", "truncated_line"): "wrong_field_count",
    ("reviews", "missing_review_id"): "missing_review_id",
    ("reviews", "missing_product_id"): "missing_product_id",
    ("reviews", "rating_zero"): "rating_out_of_range",
    ("reviews", "rating_seven"): "rating_out_of_range",
    ("reviews", "empty_text"): "empty_review_text",
    ("reviews", "whitespace_text"): "empty_review_text",
    ("reviews", "duplicate_review_in_file"): "duplicate_review_id",
    ("reviews", "timestamp_outside_day"): "timestamp_outside_partition_day",
    ("reviews", "unknown_field"): "unknown_field",
    ("reviews", "truncated_line"): "unparseable_line",
    ("reviews", "review_of_rejected_order"): "unknown_order",
}


def read_table(storage: LakeStorage, table: str) -> pl.DataFrame:
    return pl.concat([storage.read_partition(table, day) for day in storage.partition_days(table)], how="vertical")


def test_every_planted_defect_is_quarantined_for_its_rule_and_nothing_else_is(lake):
    storage = LakeStorage(root=str(lake.root))
    planted = [p for p in lake.manifest["planted"] if p["line"] is not None]
    kinds = {(p["file"].split("/")[0], p["kind"]) for p in planted}
    assert kinds == set(EXPECTED_RULE), "the small sample should plant every kind"
    assert {k for s, k in kinds if s == "orders"} == {*ORDER_DEFECTS, "truncated_line"}
    assert {k for s, k in kinds if s == "reviews"} == {*REVIEW_DEFECTS, "truncated_line", "review_of_rejected_order"}
    for source in ("orders", "reviews"):
        quarantine = read_table(storage, f"quarantined_{source}")
        rules_at = {
            (row["source_file"], row["line_number"]): set(row["rejected_rules"])
            for row in quarantine.iter_rows(named=True)
        }
        expected_at = defaultdict(set)
        for p in planted:
            if p["file"].startswith(source):
                expected_at[(p["file"].split("/")[1], p["line"])].add(EXPECTED_RULE[(source, p["kind"])])
        assert set(rules_at) == set(expected_at), f"{source}: quarantined lines differ from planted ones"
        for place, expected in expected_at.items():
            assert expected <= rules_at[place], (place, expected, rules_at[place])


def test_rows_are_conserved_per_partition(lake):
    storage = LakeStorage(root=str(lake.root))
    for source in ("orders", "reviews"):
        for day in lake.days:
            raw = storage.read_partition(f"raw_{source}", day).height
            kept = storage.read_partition(f"validated_{source}", day).height
            rejected = storage.read_partition(f"quarantined_{source}", day).height
            assert raw == kept + rejected, (source, day)


def test_gbk_reviews_arrive_with_their_text_intact(lake):
    storage = LakeStorage(root=str(lake.root))
    gbk_file = next(p["file"] for p in lake.manifest["planted"] if p["kind"] == "gbk_encoded_file")
    day = lake.days[4]
    decoded = (lake.root / "landing" / gbk_file).read_bytes().decode("gbk")
    validated = storage.read_partition("validated_reviews", day)
    assert validated.height > 0
    for text in validated.get_column("review_text"):
        assert json.dumps(text, ensure_ascii=False) in decoded


def test_daily_sales_matches_validated_orders(lake):
    storage = LakeStorage(root=str(lake.root))
    sales = pl.read_parquet(str(lake.root / "lake/gold/daily_sales/**/*.parquet"), hive_partitioning=True)
    orders = read_table(storage, "validated_orders")
    kept = orders.filter(pl.col("status") != "cancelled")
    assert sales.get_column("orders").sum() == kept.height
    assert sales.get_column("revenue").sum() == pytest.approx(kept.get_column("line_total").sum(), abs=0.05)
    assert sales.get_column("date").n_unique() == len(lake.days)


def _digest(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(pl.read_parquet(path).write_ipc(None).getvalue()).hexdigest()
        for path in sorted((root / "lake").rglob("*.parquet"))
    }


def test_rematerializing_gives_identical_tables_and_no_extra_files(lake):
    before = _digest(lake.root)
    results = materialize_days(lake.root, lake.days[:3], DagsterInstance.ephemeral())
    assert all(r.success for r in results)
    assert _digest(lake.root) == before
    assert not [p for p in (lake.root / "lake").rglob("*") if p.is_file() and p.suffix != ".parquet"]


def test_reject_rate_over_threshold_blocks_downstream(lake, tmp_path):
    import shutil

    shutil.copytree(lake.root / "landing", tmp_path / "landing")
    strict = {"ops": {"validate_orders": {"config": {"max_reject_rate": 0.01}}}}
    [result] = materialize_days(tmp_path, lake.days[1:2], DagsterInstance.ephemeral(), run_config=strict)
    assert not result.success
    checks = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key.path == ["validated_orders"]
    }
    assert checks == {
        "rows_conserved": True,
        "reject_rate_within_threshold": False,
        "great_expectations_suite": True,
        "no_nulls_in_required_columns": True,
    }
    assert not (tmp_path / "lake/gold/daily_sales").exists()


def materialize_range(root, first, last, instance, job=None):
    """One run over a range of days, as a UI backfill of up to MAX_DAYS_PER_RUN days launches it."""
    job = job or foundation_job(root)
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    return job.execute_in_process(instance=instance, tags=tags, run_config=PERMISSIVE, raise_on_error=False)


def test_a_range_run_writes_the_same_lake_as_day_by_day_runs(lake, tmp_path):
    write_sample(tmp_path, SMALL_SPEC)
    result = materialize_range(tmp_path, lake.days[0], lake.days[-1], DagsterInstance.ephemeral())
    assert result.success
    materialized = {
        (event.asset_key.to_user_string(), event.partition) for event in result.get_asset_materialization_events()
    }
    assert len(materialized) == 12 * len(lake.days)  # each of the 12 assets once per day, in one run
    assert _digest(tmp_path) == _digest(lake.root)
    # a range run's materializations say where the files are, as a one-day run's do
    storage = LakeStorage(root=str(tmp_path))
    for event in result.get_asset_materialization_events():
        table = event.asset_key.to_user_string()
        metadata = event.step_materialization_data.materialization.metadata
        assert metadata["path"].value == str(storage.table_path(table)), table
        assert metadata["last_path"].value == str(storage.partition_file(table, lake.days[-1])), table


def test_a_range_run_checks_each_day_against_the_days_before_it_in_the_same_run(lake, tmp_path):
    """The cross-day duplicate check of day N sees day N-1 although both are written by one run,
    and the days before the range, written by an earlier run."""
    write_sample(tmp_path, SMALL_SPEC)
    instance = DagsterInstance.ephemeral()
    assert materialize_range(tmp_path, lake.days[0], lake.days[1], instance).success
    assert materialize_range(tmp_path, lake.days[2], lake.days[-1], instance).success
    planted = [d for d in lake.manifest["planted"] if d["kind"] == "duplicate_order_across_days"]
    assert planted, "the sample plants an order id repeated from an earlier day"
    quarantined = read_table(LakeStorage(root=str(tmp_path)), "quarantined_orders")
    for defect in planted:
        file_name = defect["file"].split("/")[1]
        rows = quarantined.filter(pl.col("line_number") == defect["line"], pl.col("source_file") == file_name)
        assert rows.height == 1 and "order_id_seen_on_earlier_day" in rows.item(0, "rejected_rules"), defect
    assert _digest(tmp_path) == _digest(lake.root)
