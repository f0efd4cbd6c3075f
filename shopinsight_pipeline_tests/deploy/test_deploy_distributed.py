"""A nightly run on a distributed executor, with the PostgreSQL instance and the object-store lake
together, every server real and started here on 127.0.0.1: Dagster's Celery executor with a Redis
broker and two Celery worker processes (as `celery worker` starts them on worker nodes),
PostgreSQL and an S3-compatible server. The run's steps execute on the workers, each with its own
model cache. Skipped, with the reason, where a server cannot be had.

Why Celery and not Dask: dagster-dask 0.29 cannot submit a step of a partitioned job to
dask.distributed 2026 (dask walks the submitted arguments, and Dagster's records refuse iteration:
"Iteration is not allowed on `@record` TimeWindowPartitionsDefinition")."""

import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from shopinsight_pipeline.devtools.devserver import PROJECT_ROOT
from shopinsight_pipeline.devtools.local_services import (
    ObjectStoreServer,
    PostgresServer,
    RedisServer,
    ServiceUnavailable,
)
from shopinsight_pipeline.devtools.location_runs import LocationRuns
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage, clear_path_cache
from shopinsight_pipeline_tests.conftest import PERMISSIVE

SPEC = SampleSpec(days=3, orders_per_day=60, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)
DAYS = [SPEC.start + timedelta(days=offset) for offset in range(SPEC.days)]


def wait_for_workers(broker: str, names: list[str], timeout: float = 180) -> None:
    """Until every named Celery worker answers a ping through the broker."""
    from celery import Celery

    app = Celery(broker=broker, backend=broker)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {name.split("@")[0] for reply in app.control.ping(timeout=1.0) or [] for name in reply}
        if set(names) <= answered:
            return
        time.sleep(1)
    raise TimeoutError(f"Celery workers {names} did not answer within {timeout:.0f}s")


def failures(instance: DagsterInstance, run_id: str) -> list[str]:
    """What went wrong in a run, from its event log (the step errors, or the run's own)."""
    wrong = (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT)
    return [
        f"{entry.step_key}: {entry.dagster_event.message} "
        f"{getattr(entry.dagster_event.event_specific_data, 'error', '')}"
        for entry in instance.all_logs(run_id)
        if entry.dagster_event and entry.dagster_event.event_type in wrong
    ]


@pytest.fixture
def servers(tmp_path):
    try:
        with PostgresServer() as postgres, ObjectStoreServer() as store, RedisServer() as broker:
            yield postgres, store, broker
    except ServiceUnavailable as why:
        pytest.skip(f"a server this test needs cannot be had here: {why}")


@pytest.mark.slow
def test_a_nightly_run_executes_its_steps_on_two_celery_workers_with_postgresql_and_the_object_store(
    servers, tmp_path, tiny_model_dir, monkeypatch
):
    import s3fs

    from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
    from shopinsight_pipeline.ml.registry import ModelRegistry

    postgres, store, broker = servers
    root = f"s3://{store.bucket}/distributed"
    home = tmp_path / "instance"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    deployment = {
        **store.environment,
        "SHOPINSIGHT_PG_URL": postgres.sqlalchemy_url,
        "SHOPINSIGHT_DATA_ROOT": root,
        "SHOPINSIGHT_END_DATE": DAYS[-1].isoformat(),
        "DAGSTER_HOME": str(home),
    }
    for name, value in {**deployment, "SHOPINSIGHT_CACHE_DIR": str(tmp_path / "cache-orchestrator")}.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    clear_path_cache()

    # the lake as the earlier nights left it: history prepared, a tokenizer, a scorer, a recommender
    write_sample(tmp_path / "sample", SPEC)
    s3fs.S3FileSystem().put(str(tmp_path / "sample" / "landing"), f"{store.bucket}/distributed/landing", recursive=True)
    instance = DagsterInstance.from_config(str(home))
    runs = LocationRuns(instance, root)
    tokenizer = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    assert runs.run(assets=["review_tokenizer"], run_config=tokenizer).success
    history = (DAYS[0].isoformat(), DAYS[-2].isoformat())
    assert runs.run("prepare_partition_job", partition_range=history, run_config=PERMISSIVE).success
    storage = LakeStorage(root=root)
    registry = ModelRegistry(storage.sentiment_registry_path)
    register_corpus_scorer(registry, 200, "distributed test scorer")
    registry.push(storage.sentiment_registry_store)
    recommender = {"ops": {"recommender_model": {"config": {"candidates": ["popularity"], "eval_days": 1}}}}
    assert runs.run(assets=["recommender_model"], run_config=recommender).success

    # two Celery workers as worker nodes run them: one process each (solo pool), one task at a time
    log = (tmp_path / "celery.log").open("w")
    celery = Path(sys.executable).parent / "celery"
    workers = []
    try:
        for worker in ("a", "b"):
            env = {**os.environ, **deployment, "SHOPINSIGHT_CACHE_DIR": str(tmp_path / f"cache-worker-{worker}")}
            command = [str(celery), "-A", "dagster_celery.app", "-b", broker.url, "--result-backend", broker.url]
            command += ["worker", "-Q", "dagster", "--pool", "solo", "-n", f"worker-{worker}@%h", "--without-mingle"]
            workers.append(
                subprocess.Popen(
                    command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        wait_for_workers(broker.url, ["worker-a", "worker-b"])
        worker_pids = {process.pid for process in workers}

        monkeypatch.setenv("SHOPINSIGHT_EXECUTOR", "celery")
        monkeypatch.setenv("SHOPINSIGHT_CELERY_BROKER", broker.url)
        started = time.perf_counter()
        nightly = runs.run("nightly_partition_job", partition_key=DAYS[-1].isoformat(), run_config=PERMISSIVE)
        print(f"nightly run on celery: {time.perf_counter() - started:.0f}s")
        assert nightly.success, (failures(instance, nightly.run_id), f"see {tmp_path / 'celery.log'}")
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    # every step ran on a worker, and both workers took steps
    starts = instance.get_records_for_run(nightly.run_id, of_type=DagsterEventType.STEP_START).records
    step_pids = {record.event_log_entry.dagster_event.pid for record in starts}
    assert len(starts) >= 10
    assert step_pids <= worker_pids and len(step_pids) == 2, (step_pids, worker_pids)
    assert os.getpid() not in step_pids
    # the run is in PostgreSQL, its tables and report in the object store
    import psycopg2

    with psycopg2.connect(postgres.url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (nightly.run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
    for table in ("review_scores", "daily_sales", "customer_recommendations"):
        assert DAYS[-1] in storage.partition_days(table), table
    assert (storage.report_dir(DAYS[-1]) / "report.html").exists()
