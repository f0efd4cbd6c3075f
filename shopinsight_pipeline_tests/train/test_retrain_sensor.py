"""retrain_after_the_night: retraining waits for the night's partitions the models learn from, asks
once per night, and waits for its time of day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context

from shopinsight_pipeline.calendar import day_before
from shopinsight_pipeline.partitions import BUSINESS_TIMEZONE
from shopinsight_pipeline.sensors import RETRAIN_INPUTS, retrain_after_the_night
from shopinsight_pipeline.storage import LakeStorage


def evaluate(storage: LakeStorage):
    return retrain_after_the_night(build_sensor_context(resources={"storage": storage}))


def test_retraining_waits_for_every_input_of_the_night_then_asks_once_for_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPINSIGHT_RETRAIN_AFTER", "00:00")  # any time of day: what is tested is the data
    storage = LakeStorage(root=str(tmp_path))
    night = day_before(datetime.now(ZoneInfo(BUSINESS_TIMEZONE)))
    waiting = evaluate(storage)
    assert isinstance(waiting, SkipReason)
    assert f"waiting for the night of {night.isoformat()}: " + ", ".join(RETRAIN_INPUTS) in waiting.skip_message
    for table in RETRAIN_INPUTS[:-1]:  # all but the customer events
        storage.write_partition(table, night, pl.DataFrame({"x": [1]}))
    still = evaluate(storage)
    assert isinstance(still, SkipReason) and still.skip_message.endswith("customer_events not written yet")
    storage.write_partition("customer_events", night, pl.DataFrame({"x": [1]}))
    request = evaluate(storage)
    assert isinstance(request, RunRequest) and request.run_key == f"retrain-after-{night.isoformat()}"
    assert evaluate(storage).run_key == request.run_key  # the same key: Dagster starts one run per night


def test_retraining_waits_for_its_time_of_day_and_refuses_a_malformed_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPINSIGHT_RETRAIN_AFTER", "23:59:59")
    now = datetime.now(ZoneInfo(BUSINESS_TIMEZONE))
    result = evaluate(LakeStorage(root=str(tmp_path)))
    if now.time() < datetime.strptime("23:59:59", "%H:%M:%S").time():  # all but the last second of the day
        assert isinstance(result, SkipReason) and "retraining waits until 23:59" in result.skip_message
    monkeypatch.setenv("SHOPINSIGHT_RETRAIN_AFTER", "half past four")
    with pytest.raises(ValueError, match="SHOPINSIGHT_RETRAIN_AFTER='half past four': expected HH:MM"):
        evaluate(LakeStorage(root=str(tmp_path)))
