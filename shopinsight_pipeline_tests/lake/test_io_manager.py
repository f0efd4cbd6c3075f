"""The lake IO manager: declared windows arrive as parameters, missing days are skipped or named,
and a range run writes one file per day."""

from datetime import date, timedelta

import polars as pl
from dagster import AssetIn, DagsterInstance, Definitions, asset

from shopinsight_pipeline.io_manager import LakeIOManager, RunFrames
from shopinsight_pipeline.partitions import daily_partitions, window
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.schemas import CUSTOMER_EVENTS_SCHEMA
from shopinsight_pipeline.storage import LakeStorage

# The toy assets carry silver tables' names: a gold table's write waits in staging for its audit
# (gold_checks.py), which these assets, testing the IO manager alone, do not run.
START = date(2026, 8, 1)
received: dict[str, object] = {}


@asset(name="customer_events", partitions_def=daily_partitions)
def sales_of_the_day(context) -> pl.DataFrame:
    day = date.fromisoformat(context.partition_key)
    return pl.DataFrame({"date": [day], "category": ["books"], "revenue": [float(day.day)]})


@asset(name="review_aspects", partitions_def=daily_partitions, ins={"customer_events": window("customer_events", 3)})
def three_days_as_dict(customer_events: dict[str, pl.DataFrame]) -> pl.DataFrame:
    received["dict"] = customer_events
    return pl.DataFrame({"days": [len(customer_events)]})


@asset(name="review_scores", partitions_def=daily_partitions, ins={"customer_events": window("customer_events", 3)})
def three_days_as_frame(customer_events: pl.DataFrame) -> pl.DataFrame:
    received["frame"] = customer_events
    return pl.DataFrame({"rows": [customer_events.height]})


@asset(name="products", partitions_def=daily_partitions, ins={"customer_events": AssetIn()})
def same_day(customer_events: pl.DataFrame) -> pl.DataFrame:
    return customer_events


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
        assert run(tmp_path, {"customer_events"}, day).success
    last = START + timedelta(days=2)
    assert run(tmp_path, {"review_aspects", "review_scores"}, last).success
    assert list(received["dict"]) == [START.isoformat(), last.isoformat()]
    assert received["frame"].get_column("date").to_list() == [START, last]
    written = LakeStorage(root=str(tmp_path)).read_partition("review_aspects", last)
    assert written.item(0, "days") == 2


def test_an_empty_window_is_an_empty_frame_of_the_documented_schema(tmp_path):
    assert run(tmp_path, {"review_scores"}, START + timedelta(days=10)).success
    assert received["frame"].is_empty()
    assert dict(received["frame"].schema) == CUSTOMER_EVENTS_SCHEMA


def test_a_missing_same_day_input_fails_naming_the_path_and_what_to_run(tmp_path):
    result = run(tmp_path, {"products"}, START)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "customer_events has no partition for 2026-08-01" in message
    assert "date=2026-08-01" in message and "Materialize customer_events" in message


def test_rematerializing_a_day_replaces_its_file(tmp_path):
    for _ in range(2):
        assert run(tmp_path, {"customer_events"}, START).success
    folder = LakeStorage(root=str(tmp_path)).partition_file("customer_events", START).parent
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
