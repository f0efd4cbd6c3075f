"""The lake IO manager: declared windows arrive as parameters, missing days are skipped or named,
and a range run writes one file per day."""

from datetime import date, timedelta

import polars as pl
from dagster import AssetIn, DagsterInstance, Definitions, asset

from shopinsight_pipeline.io_manager import LakeIOManager, RunFrames
from shopinsight_pipeline.partitions import daily_partitions, window
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.schemas import DAILY_SALES_SCHEMA
from shopinsight_pipeline.storage import LakeStorage

START = date(2026, 8, 1)
received: dict[str, object] = {}


@asset(name="daily_sales", partitions_def=daily_partitions)
def sales_of_the_day(context) -> pl.DataFrame:
    day = date.fromisoformat(context.partition_key)
    return pl.DataFrame({"date": [day], "category": ["books"], "revenue": [float(day.day)]})


@asset(name="category_trends", partitions_def=daily_partitions, ins={"daily_sales": window("daily_sales", 3)})
def three_days_as_dict(daily_sales: dict[str, pl.DataFrame]) -> pl.DataFrame:
    received["dict"] = daily_sales
    return pl.DataFrame({"days": [len(daily_sales)]})


@asset(name="sales_forecast", partitions_def=daily_partitions, ins={"daily_sales": window("daily_sales", 3)})
def three_days_as_frame(daily_sales: pl.DataFrame) -> pl.DataFrame:
    received["frame"] = daily_sales
    return pl.DataFrame({"rows": [daily_sales.height]})


@asset(name="insights", partitions_def=daily_partitions, ins={"daily_sales": AssetIn()})
def same_day(daily_sales: pl.DataFrame) -> pl.DataFrame:
    return daily_sales


def run(root, names, day: date, instance=None):
    storage = LakeStorage(root=str(root))
    defs = Definitions(
        assets=[sales_of_the_day, three_days_as_dict, three_days_as_frame, same_day],
        resources={"io_manager": LakeIOManager(storage=storage, sentiment_labels=SentimentLabels())},
    )
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        partition_key=day.isoformat(),
        asset_selection=[key for key in job.asset_layer.executable_asset_keys if key.to_user_string() in names],
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_window_gets_the_written_days_oldest_first_and_skips_the_missing(tmp_path):
    for day in (START, START + timedelta(days=2)):  # the day between is never written
        assert run(tmp_path, {"daily_sales"}, day).success
    last = START + timedelta(days=2)
    assert run(tmp_path, {"category_trends", "sales_forecast"}, last).success
    assert list(received["dict"]) == [START.isoformat(), last.isoformat()]
    assert received["frame"].get_column("date").to_list() == [START, last]
    written = LakeStorage(root=str(tmp_path)).read_partition("category_trends", last)
    assert written.item(0, "days") == 2


def test_an_empty_window_is_an_empty_frame_of_the_documented_schema(tmp_path):
    assert run(tmp_path, {"sales_forecast"}, START + timedelta(days=10)).success
    assert received["frame"].is_empty()
    assert dict(received["frame"].schema) == DAILY_SALES_SCHEMA


def test_a_missing_same_day_input_fails_naming_the_path_and_what_to_run(tmp_path):
    result = run(tmp_path, {"insights"}, START)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "daily_sales has no partition for 2026-08-01" in message
    assert "date=2026-08-01" in message and "Materialize daily_sales" in message


def test_rematerializing_a_day_replaces_its_file(tmp_path):
    for _ in range(2):
        assert run(tmp_path, {"daily_sales"}, START).success
    folder = LakeStorage(root=str(tmp_path)).partition_file("daily_sales", START).parent
    assert sorted(path.name for path in folder.iterdir()) == ["part-0.parquet"]


def test_run_frames_keep_one_runs_reads_within_their_budget():
    frames = RunFrames(max_bytes=3 * 800)  # room for three frames of 100 float64 values
    frame = {name: pl.DataFrame({"value": [float(n)] * 100}) for n, name in enumerate("abcd")}
    for name in "abc":
        frames.put("run-1", (name, "v1"), frame[name])
    assert frames.get("run-1", ("a", "v1")) is frame["a"]  # now the most recently used
    assert frames.get("run-1", ("a", "v2")) is None  # the file was written again since
    frames.put("run-1", ("d", "v1"), frame["d"])  # over budget: the least recently used (b) goes
    assert frames.get("run-1", ("b", "v1")) is None
    assert frames.get("run-1", ("c", "v1")) is frame["c"] and frames.get("run-1", ("d", "v1")) is frame["d"]
    assert frames.get("run-2", ("a", "v1")) is None  # another run never sees this one's reads
    frames.put("run-2", ("a", "v1"), frame["a"])
    assert frames.get("run-1", ("c", "v1")) is None  # and its arrival cleared them
    frames.put("run-2", ("e", None), frame["b"])  # no version known: never kept
    assert frames.get("run-2", ("e", None)) is None
