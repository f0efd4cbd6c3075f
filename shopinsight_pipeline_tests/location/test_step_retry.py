"""Steps retry a transient store error (issue 26.6): one failed write does not fail the night, and a
failed blocking check is not retried (the same data would fail it again)."""

from dagster import DagsterInstance, Definitions, define_asset_job

from shopinsight_pipeline import jobs
from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.partitions import daily_partitions
from shopinsight_pipeline.sample import write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import FOUNDATION, PERMISSIVE, SMALL_SPEC, sample_days


def retrying_foundation(root, monkeypatch):
    """The foundation assets in a job with the project's default retry policy, its pause set to
    nothing (conftest turns retries off for the other tests)."""
    monkeypatch.delenv("SHOPINSIGHT_STEP_RETRIES")
    monkeypatch.setenv("SHOPINSIGHT_STEP_RETRY_DELAY_S", "0")
    job = define_asset_job(
        "retrying_foundation",
        selection=FOUNDATION,
        partitions_def=daily_partitions,
        op_retry_policy=jobs.step_retry_policy(),
    )
    return Definitions.merge(build_definitions(str(root)), Definitions(jobs=[job])).resolve_job_def(job.name)


def restarts(result) -> list[str]:
    return [event.step_key for event in result.all_events if event.event_type_value == "STEP_RESTARTED"]


def test_the_projects_jobs_retry_their_steps(monkeypatch):
    for job in (jobs.nightly_partition_job, jobs.prepare_partition_job, jobs.score_partition_job, jobs.retrain_job):
        assert job.op_retry_policy is jobs.STEP_RETRY
    monkeypatch.delenv("SHOPINSIGHT_STEP_RETRIES")
    monkeypatch.delenv("SHOPINSIGHT_STEP_RETRY_DELAY_S", raising=False)
    default = jobs.step_retry_policy()
    assert (default.max_retries, default.delay) == (2, 30.0)


def test_a_store_that_fails_once_costs_a_retry_not_the_night(tmp_path, monkeypatch):
    write_sample(tmp_path, SMALL_SPEC)
    day = sample_days(SMALL_SPEC)[0]
    import shopinsight_pipeline.storage as storage_module

    real_write, calls = storage_module.write_parquet_atomic, {"n": 0}

    def fails_once(frame, target):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionResetError(104, "Connection reset by peer")  # what a dropped S3 connection raises
        return real_write(frame, target)

    monkeypatch.setattr(storage_module, "write_parquet_atomic", fails_once)
    job = retrying_foundation(tmp_path, monkeypatch)
    result = job.execute_in_process(
        partition_key=day.isoformat(), instance=DagsterInstance.ephemeral(), run_config=PERMISSIVE, raise_on_error=False
    )
    assert result.success
    assert len(restarts(result)) == 1  # the step that met the error ran twice, nothing else
    storage = LakeStorage(root=str(tmp_path))
    raw, validated, quarantined = (
        storage.row_count(t, day) for t in ("raw_orders", "validated_orders", "quarantined_orders")
    )
    assert raw == validated + quarantined > 0
    assert storage.row_count("daily_sales", day) > 0


def test_a_failed_blocking_check_is_not_retried(tmp_path, monkeypatch):
    write_sample(tmp_path, SMALL_SPEC)
    day = sample_days(SMALL_SPEC)[0]
    job = retrying_foundation(tmp_path, monkeypatch)
    strict = {"ops": {"validate_orders": {"config": {"max_reject_rate": 0.0}}}}
    result = job.execute_in_process(
        partition_key=day.isoformat(), instance=DagsterInstance.ephemeral(), run_config=strict, raise_on_error=False
    )
    assert not result.success
    failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert failed == ["validate_orders"]
    assert restarts(result) == []
