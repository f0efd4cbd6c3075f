"""The lake on object storage (SHOPINSIGHT_DATA_ROOT=s3://...), against a real S3-compatible server
started here (moto's standalone server on 127.0.0.1; no cloud): folders are published with a
commit marker instead of renames, the chain runs for a few days, DuckDB (the query command) and
polars read the tables back from the same URL, and a re-run leaves identical objects. Skipped, with
the reason, where the server cannot be started."""

import json
import uuid

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance
from upath import UPath

from shopinsight_pipeline.devtools.local_services import ObjectStoreServer, ServiceUnavailable
from shopinsight_pipeline.files import MANIFEST, committed_files, swap_folder
from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage, MissingPartitionError, clear_path_cache
from shopinsight_pipeline_tests.conftest import foundation_job, materialize_days, sample_days

SPEC = SampleSpec(days=3, orders_per_day=40, dirty_rate=0.1, truncated_orders_day=1, gbk_reviews_day=-1)


@pytest.fixture(scope="module")
def object_store():
    try:
        with ObjectStoreServer() as server:
            yield server
    except ServiceUnavailable as why:
        pytest.skip(f"no S3-compatible server here: {why}")


@pytest.fixture
def bucket_root(object_store, monkeypatch) -> str:
    """A fresh prefix of the server's bucket, with this process pointed at the server."""
    import s3fs

    for name, value in object_store.environment.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # an earlier test's client may know another endpoint
    clear_path_cache()
    yield f"s3://{object_store.bucket}/{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem.clear_instance_cache()
    clear_path_cache()


def objects(root: str) -> dict[str, str]:
    """Every object under `root` and its ETag (the MD5 of its bytes for a single upload)."""
    import s3fs

    found = s3fs.S3FileSystem().find(root.removeprefix("s3://"), detail=True)
    return {path: info["ETag"] for path, info in found.items()}


def test_a_folder_is_published_whole_and_a_publish_cut_short_reads_as_not_written(bucket_root):
    folder = UPath(bucket_root) / "lake" / "silver" / "review_token_shards" / "date=2026-08-01"

    def shards(count: int):
        def fill(staging: UPath) -> None:
            for number in range(count):
                (staging / f"part-{number}.parquet").write_bytes(b"shard %d of %d" % (number, count))

        return fill

    swap_folder(folder, shards(3))
    assert committed_files(folder) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    swap_folder(folder, shards(2))  # fewer shards: the third of the earlier run must go
    assert committed_files(folder) == ["part-0.parquet", "part-1.parquet"]
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST, "part-0.parquet", "part-1.parquet"]
    assert (folder / "part-1.parquet").read_bytes() == b"shard 1 of 2"

    def crash(staging: UPath) -> None:
        (staging / "part-0.parquet").write_bytes(b"never published")
        raise RuntimeError("the step died while writing")

    with pytest.raises(RuntimeError):
        swap_folder(folder, crash)  # a failing fill publishes nothing: the last good folder stays
    assert committed_files(folder) == ["part-0.parquet", "part-1.parquet"]
    assert (folder / "part-0.parquet").read_bytes() == b"shard 0 of 2"

    (folder / MANIFEST).unlink()  # as a crash between the uploads and the commit leaves it
    storage = LakeStorage(root=bucket_root)
    with pytest.raises(MissingPartitionError, match="not committed"):
        storage.partition_files("review_token_shards", SPEC.start)
    assert storage.partition_days("review_token_shards") == []
    swap_folder(folder, shards(1))  # the next run replaces it
    assert committed_files(folder) == ["part-0.parquet"]
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST, "part-0.parquet"]


@pytest.mark.slow
def test_the_chain_runs_on_the_object_store_reads_back_with_duckdb_and_polars_and_reruns_identically(
    bucket_root, tmp_path
):
    import s3fs

    write_sample(tmp_path, SPEC)
    s3fs.S3FileSystem().put(str(tmp_path / "landing"), f"{bucket_root}/landing".removeprefix("s3://"), recursive=True)
    days = sample_days(SPEC)
    job = foundation_job(bucket_root)
    results = materialize_days(bucket_root, days, DagsterInstance.ephemeral(), job=job)
    assert all(result.success for result in results)
    # row conservation held on the object store (the asset checks ran in the job) ...
    checks = [e for r in results for e in r.get_asset_check_evaluations()]
    assert checks and all(check.passed for check in checks)

    storage = LakeStorage(root=bucket_root)
    assert storage.partition_days("validated_orders") == days
    written = pl.concat([storage.read_partition("validated_orders", day) for day in days])
    assert written.height > 0
    # ... and analysts read the same rows from the same URL with polars (Hive partitioning) ...
    scanned = pl.scan_parquet(f"{bucket_root}/lake/silver/validated_orders/**/*.parquet", hive_partitioning=True)
    scanned_rows = scanned.collect().sort("order_id")
    assert scanned_rows.select(written.columns).equals(written.sort("order_id"))
    assert scanned_rows["date"].unique().sort().to_list() == days  # the Hive key, from the folder names
    # ... and with DuckDB, through the query command's views
    with open_lake(storage) as (connection, views):
        assert {"validated_orders", "quarantined_orders", "daily_sales"} <= set(views)
        queried = connection.sql("select * from validated_orders").pl()
    assert queried.sort("order_id").select(written.columns).equals(written.sort("order_id"))
    assert queried["date"].unique().sort().to_list() == days

    before = objects(bucket_root + "/lake")
    rerun = materialize_days(bucket_root, days, DagsterInstance.ephemeral(), job=job)
    assert all(result.success for result in rerun)
    assert objects(bucket_root + "/lake") == before  # same keys, same bytes: replaced, never added to


@pytest.mark.slow
def test_training_resumes_on_another_machine_and_a_third_scores_from_its_own_cache(
    bucket_root, tmp_path, tiny_model_dir, monkeypatch
):
    """Tokenizer and shards on machine A (cache A), whose training is killed after a checkpoint;
    machine B (an empty cache B) resumes that training from the store and publishes the registry;
    machine C (cache C) scores, finding everything it needs in the store."""
    import s3fs

    from shopinsight_pipeline.definitions import build_definitions
    from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets
    from shopinsight_pipeline_tests.ml_lake import LONG_TRAINING, kill_training_after_a_checkpoint, score_days

    spec = SampleSpec(days=4, orders_per_day=150, review_probability=0.9, truncated_orders_day=-1, gbk_reviews_day=-1)
    write_sample(tmp_path / "sample", spec)
    store = s3fs.S3FileSystem()
    store.put(str(tmp_path / "sample" / "landing"), f"{bucket_root}/landing".removeprefix("s3://"), recursive=True)
    days, instance = sample_days(spec), DagsterInstance.ephemeral()

    monkeypatch.setenv("SHOPINSIGHT_CACHE_DIR", str(tmp_path / "cache-a"))
    tokenizer_config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    assert materialize_assets(bucket_root, instance, ["review_tokenizer"], tokenizer_config).success
    prepare = build_definitions(bucket_root).resolve_job_def("prepare_partition_job")
    assert all(r.success for r in materialize_days(bucket_root, days, instance, PERMISSIVE, job=prepare))

    storage = LakeStorage(root=bucket_root)
    checkpoints = storage.checkpoint_store
    assert checkpoints is not None

    def committed_in_store() -> int:  # a fresh listing each time: another process publishes
        markers = s3fs.S3FileSystem(use_listings_cache=False).glob(f"{checkpoints.path}/*/step_*/{MANIFEST}")
        return max((int(marker.split("/")[-2].removeprefix("step_")) for marker in markers), default=0)

    training = {"ops": {"sentiment_model": {"config": LONG_TRAINING}}}
    reached = kill_training_after_a_checkpoint(bucket_root, training, committed_in_store)  # machine A dies

    monkeypatch.setenv("SHOPINSIGHT_CACHE_DIR", str(tmp_path / "cache-b"))  # machine B: nothing cached
    resumed = materialize_assets(bucket_root, instance, ["sentiment_model"], training)
    assert resumed.success
    [materialization] = resumed.asset_materializations_for_node("sentiment_model")
    assert materialization.metadata["resumed_from_step"].value >= reached > 0
    assert materialization.metadata["train_steps"].value == LONG_TRAINING["max_steps"]
    assert not checkpoints.fs.exists(checkpoints.path)  # finished: the job's checkpoints left the store

    pointer = json.loads((storage.sentiment_registry_store / "champion.json").read_text())
    published = {
        marker.parent.name for marker in (storage.sentiment_registry_store / "versions").glob("*/_manifest.json")
    }
    evaluated = {name for name in published if "-refit-" not in name}
    assert pointer["version"] in evaluated and len(evaluated) == 3  # transformer, TF-IDF, ensemble
    assert pointer["refit_version"] in published  # the champion refit on every label serves (issue 29)
    [tokenizer] = (storage.models_path / "base").glob("*/_manifest.json")
    assert committed_files(tokenizer.parent) and "tokenizer.json" in committed_files(tokenizer.parent)
    assert storage.partition_days("review_token_shards") == days  # sharded folders, committed

    monkeypatch.setenv("SHOPINSIGHT_CACHE_DIR", str(tmp_path / "cache-c"))  # machine C: nothing cached
    assert all(r.success for r in score_days(bucket_root, days, instance))
    scores = pl.concat([storage.read_partition("review_scores", day) for day in days])
    reviews = pl.concat([storage.read_partition("validated_reviews", day) for day in days])
    assert sorted(scores["review_id"]) == sorted(reviews["review_id"])
    for version in (pointer["version"], pointer["refit_version"]):
        cached = LakeStorage(root=bucket_root).sentiment_registry_path / "versions" / version
        assert (cached / "_manifest.json").is_file()  # scoring loaded the champion from machine C's cache
        assert str(tmp_path / "cache-c") in str(cached)
    assert set(scores["model_version"]) == {pointer["refit_version"]}

    # the recommender's sequence model: published as a folder, loaded from the store by the lists
    recommender = {
        "ops": {"recommender_model": {"config": {"candidates": ["sequence"], "sequence_epochs": 2, "eval_days": 2}}}
    }
    assert materialize_assets(bucket_root, instance, ["recommender_model"], recommender).success
    assert committed_files(storage.models_path / "recommender" / "sequence")
    lists = materialize_assets(bucket_root, instance, ["customer_recommendations"], partition_key=days[-1].isoformat())
    assert lists.success
    recommended = storage.read_partition("customer_recommendations", days[-1])
    assert recommended.height > 0 and set(recommended["candidate"]) == {"sequence"}


def test_a_run_reads_an_unchanged_day_once_and_a_rewritten_day_again(bucket_root, monkeypatch):
    """Steps of one run that read the same days share what was read, checked against the listing's
    version of each file: a day rewritten meanwhile is read again, and the next run reads afresh."""
    from dagster import AssetIn, Definitions, asset

    from shopinsight_pipeline.io_manager import LakeIOManager, LakeParquetIOManager
    from shopinsight_pipeline.partitions import daily_partitions, window
    from shopinsight_pipeline.resources import SentimentLabels
    from shopinsight_pipeline_tests.lake.test_io_manager import sales_of_the_day

    storage = LakeStorage(root=bucket_root)
    days = sample_days(SPEC)

    def sales(revenue: float, day) -> pl.DataFrame:
        return pl.DataFrame({"date": [day], "category": ["books"], "revenue": [revenue]})

    for number, day in enumerate(days):
        storage.write_partition("customer_events", day, sales(float(number), day))
    fetched: list[list[str]] = []
    read_at_once = LakeParquetIOManager._read_at_once

    def spy(self, table, keys):
        if table == "customer_events":
            fetched.append(list(keys))
        return read_at_once(self, table, keys)

    monkeypatch.setattr(LakeParquetIOManager, "_read_at_once", spy)
    seen: dict[str, dict[str, pl.DataFrame]] = {}

    # two readers under silver tables' names: a gold table's write waits in staging for its audit
    @asset(
        name="review_aspects", partitions_def=daily_partitions, ins={"customer_events": window("customer_events", 3)}
    )
    def first_reader(customer_events: dict[str, pl.DataFrame]) -> pl.DataFrame:
        seen["first"] = customer_events
        storage.write_partition("customer_events", days[0], sales(100.0, days[0]))  # as another process would
        return pl.DataFrame({"days": [len(customer_events)]})

    @asset(
        name="review_scores",
        partitions_def=daily_partitions,
        ins={"customer_events": window("customer_events", 3), "review_aspects": AssetIn()},
    )
    def second_reader(customer_events: dict[str, pl.DataFrame], review_aspects: pl.DataFrame) -> pl.DataFrame:
        seen["second"] = customer_events
        return review_aspects

    defs = Definitions(
        assets=[sales_of_the_day, first_reader, second_reader],
        resources={"io_manager": LakeIOManager(storage=storage, sentiment_labels=SentimentLabels())},
    )
    job = defs.resolve_implicit_global_asset_job_def()

    def run() -> None:
        result = job.execute_in_process(
            partition_key=days[-1].isoformat(),
            asset_selection=[AssetKey("review_aspects"), AssetKey("review_scores")],
            instance=DagsterInstance.ephemeral(),
        )
        assert result.success

    run()
    keys = [day.isoformat() for day in days]
    assert fetched == [keys, [keys[0]]]  # the second step read only the rewritten day
    assert seen["first"][keys[0]].item(0, "revenue") == 0.0
    assert seen["second"][keys[0]].item(0, "revenue") == 100.0
    assert seen["second"][keys[1]] is seen["first"][keys[1]]  # shared, not read again
    fetched.clear()
    run()
    assert fetched[0] == keys  # another run reads for itself


def test_a_window_whose_days_differ_in_schema_is_read_day_by_day(bucket_root):
    """One read of a window needs one schema; a lake written by two versions of the code (here an
    integer column that became a float) is read a day at a time and combined as before."""
    from shopinsight_pipeline_tests.lake import test_io_manager

    storage = LakeStorage(root=bucket_root)
    days = sample_days(SPEC)
    storage.write_partition("customer_events", days[0], pl.DataFrame({"date": [days[0]], "revenue": [3]}))
    storage.write_partition("customer_events", days[1], pl.DataFrame({"date": [days[1]], "revenue": [4.5]}))
    assert test_io_manager.run(bucket_root, {"review_scores"}, days[1]).success
    frame = test_io_manager.received["frame"]
    assert frame.get_column("revenue").to_list() == [3.0, 4.5]


def test_a_day_that_fails_a_blocking_check_on_the_object_store_stays_staged_and_unseen(bucket_root, tmp_path):
    """Write, audit, publish on S3 as on a POSIX lake (issue 26.4): the previous version stays visible."""
    import s3fs

    write_sample(tmp_path, SPEC)
    s3fs.S3FileSystem().put(str(tmp_path / "landing"), f"{bucket_root}/landing".removeprefix("s3://"), recursive=True)
    day, instance, job = sample_days(SPEC)[0], DagsterInstance.ephemeral(), foundation_job(bucket_root)
    assert materialize_days(bucket_root, [day], instance, job=job)[0].success
    storage = LakeStorage(root=bucket_root)
    before = storage.read_partition("validated_orders", day)

    strict = {"ops": {"validate_orders": {"config": {"max_reject_rate": 0.0}}}}
    [result] = materialize_days(bucket_root, [day], instance, run_config=strict, job=job)
    assert not result.success
    assert storage.staged_file("validated_orders", day).exists()
    assert storage.read_partition("validated_orders", day).equals(before)
    with open_lake(storage) as (connection, _):
        assert connection.execute("select count(*) from validated_orders").fetchone()[0] == before.height
    scanned = pl.scan_parquet(f"{bucket_root}/lake/silver/validated_orders/**/*.parquet", hive_partitioning=True)
    assert scanned.select(pl.len()).collect().item() == before.height
