"""The Dagster instance on PostgreSQL (deploy/postgres/dagster.yaml), against a real server started
here: a run as `make run` executes it, then the daemon's range backfill from the webserver, and the
runs and materializations are read back from PostgreSQL itself. Skipped, with the reason, where
the server programs are not installed (`make test` installs them when it runs as root)."""

import shutil
from datetime import timedelta

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from shopinsight_pipeline.devtools.devserver import PROJECT_ROOT, DevServer
from shopinsight_pipeline.devtools.local_services import PostgresServer, ServiceUnavailable
from shopinsight_pipeline.devtools.location_runs import LocationRuns
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline_tests.conftest import PERMISSIVE

SPEC = SampleSpec(days=2, orders_per_day=40, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)
DAYS = [(SPEC.start + timedelta(days=offset)).isoformat() for offset in range(SPEC.days)]


@pytest.fixture
def postgres():
    try:
        with PostgresServer() as server:
            yield server
    except ServiceUnavailable as why:
        pytest.skip(f"no PostgreSQL server here: {why}")


def rows(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.slow
def test_runs_and_materializations_of_a_daemon_backfill_are_stored_in_postgresql(
    postgres, tmp_path, tiny_model_dir, monkeypatch
):
    lake, home = tmp_path / "lake", tmp_path / "instance"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("SHOPINSIGHT_PG_URL", postgres.sqlalchemy_url)
    write_sample(lake, SPEC)

    instance = DagsterInstance.from_config(str(home))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    tokenizer = LocationRuns(instance, str(lake)).run(assets=["review_tokenizer"], run_config=config)
    assert tokenizer.success

    closed_sample = {"SHOPINSIGHT_PG_URL": postgres.sqlalchemy_url, "SHOPINSIGHT_END_DATE": DAYS[-1]}
    with DevServer(home, lake, tmp_path / "dagster.log", env=closed_sample) as server:
        backfill = server.launch_backfill("prepare_partition_job", DAYS, PERMISSIVE)
        server.wait_backfill(backfill, 300)

    # what Dagster reads back through the instance ...
    runs = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill}))
    assert runs and all(record.dagster_run.status == DagsterRunStatus.SUCCESS for record in runs)
    assert set(DAYS) <= instance.get_materialized_partitions(AssetKey("validated_orders"))
    # ... is in PostgreSQL's own tables, and no SQLite history was written beside the settings
    stored_runs = {run_id for (run_id,) in rows(postgres.url, "SELECT run_id FROM runs")}
    assert tokenizer.run_id in stored_runs and {record.dagster_run.run_id for record in runs} <= stored_runs
    materialized = rows(
        postgres.url,
        "SELECT DISTINCT partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
        """AND asset_key = '["validated_orders"]'""",
    )
    assert sorted(partition for (partition,) in materialized) == DAYS
    assert not list(home.rglob("*.db")), "a SQLite database was written: the instance is not on PostgreSQL alone"
