"""Retention (issue 27.4): the originals (landing files, bronze) older than the period are deleted by a
scheduled job that is off until an operator turns it on; silver and gold (masked) are kept."""

from datetime import date, timedelta

import pytest
from dagster import DagsterInstance, DefaultScheduleStatus

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.privacy.retention import expired
from shopinsight_pipeline.retention_job import retention_schedule
from shopinsight_pipeline.sample import write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import SMALL_SPEC, materialize_days, sample_days


def test_a_day_older_than_the_period_expires_and_one_exactly_that_old_is_kept():
    today = date(2026, 12, 1)
    days = [today - timedelta(days=offset) for offset in (0, 89, 90, 91, 400)]
    assert expired(days, today, 90) == [today - timedelta(days=400), today - timedelta(days=91)]
    with pytest.raises(ValueError, match="keep at least one day"):
        expired(days, today, 0)


def test_the_retention_job_deletes_old_originals_and_keeps_silver(tmp_path):
    write_sample(tmp_path, SMALL_SPEC)
    first, second = sample_days(SMALL_SPEC)[:2]
    instance = DagsterInstance.ephemeral()
    assert all(result.success for result in materialize_days(tmp_path, [first, second], instance))
    storage = LakeStorage(root=str(tmp_path))
    job = build_definitions(str(tmp_path)).resolve_job_def("retention_job")
    today = (second + timedelta(days=1)).isoformat()  # keeping 1 day: the first day has expired

    def run(dry_run: bool):
        config = {"ops": {"purge_expired_originals": {"config": {"keep_days": 1, "today": today, "dry_run": dry_run}}}}
        result = job.execute_in_process(run_config=config, instance=instance)
        assert result.success
        return result.output_for_node("purge_expired_originals")

    expected = {
        **{f"landing/{source}": 1 for source in ("orders", "reviews", "products", "inventory")},
        **{f"raw_{source}": 1 for source in ("orders", "reviews", "inventory")},
    }
    assert run(dry_run=True) == expected
    assert storage.landing_file("orders", first).exists() and storage.partition_days("raw_orders") == [first, second]
    assert run(dry_run=False) == expected
    for source in ("orders", "reviews", "products"):
        assert not storage.landing_file(source, first).exists() and storage.landing_file(source, second).exists()
    assert storage.partition_days("raw_orders") == storage.partition_days("raw_reviews") == [second]
    assert storage.partition_days("validated_reviews") == [first, second]  # masked silver stays
    assert run(dry_run=False) == {}  # nothing left to delete: idempotent


def test_the_retention_schedule_is_off_until_an_operator_turns_it_on():
    assert retention_schedule.default_status == DefaultScheduleStatus.STOPPED
