"""The ML chain in process on a small sample with a tiny random model: tokenizer -> shards ->
sentiment_model (train, evaluate, gate) -> review_scores -> product_sentiment."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.shards import TOKENIZER_HASH_KEY, TokenizerMismatchError
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.ml.training_run import training_examples
from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.schemas import file_schema
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage, partition_column
from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets, materialize_days, sample_days

ML_SPEC = SampleSpec(
    days=8,
    orders_per_day=150,
    review_probability=0.9,
    truncated_orders_day=99,
    gbk_reviews_day=99,
    truncated_reviews_day=99,
)
FAST_TRAINING = {
    "min_train_examples": 50,
    "max_epochs": 2,
    "batch_size": 16,
    "eval_every_steps": 10,
    "checkpoint_every_steps": 10,
    "learning_rate": 1e-3,
    "cpu_max_steps": 0,
    "bootstrap_rounds": 300,
}


@dataclass
class MlLake:
    root: Path
    storage: LakeStorage
    days: list
    instance: DagsterInstance
    first_model_run: object


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every row of the Markdown tables in `text` (header rows included)."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not set(line) <= set("|-: ")
    ]


def read_days(storage: LakeStorage, table: str, days) -> pl.DataFrame:
    return pl.concat([storage.read_partition(table, day) for day in days])


def train(ml: "MlLake | Path", instance, **overrides):
    root = ml.root if isinstance(ml, MlLake) else ml
    config = {"ops": {"sentiment_model": {"config": {**FAST_TRAINING, **overrides}}}}
    return materialize_assets(root, instance, ["sentiment_model"], config)


def score_days(root: Path, days, instance) -> list:
    job = build_definitions(str(root)).resolve_job_def("score_partition_job")
    return [job.execute_in_process(partition_key=d.isoformat(), instance=instance, raise_on_error=False) for d in days]


def metadata(result, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return {key: getattr(value, "value", value) for key, value in event.materialization.metadata.items()}


def check_results(result) -> dict:
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


@pytest.fixture(scope="module")
def ml_lake(tmp_path_factory, tiny_model_dir) -> MlLake:
    root = tmp_path_factory.mktemp("ml-lake")
    write_sample(root, ML_SPEC)
    instance = DagsterInstance.ephemeral()
    days = sample_days(ML_SPEC)
    tokenizer_config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tiny_model_dir)}}}}
    assert materialize_assets(root, instance, ["review_tokenizer"], tokenizer_config).success
    prepare = build_definitions(str(root)).resolve_job_def("prepare_partition_job")
    assert all(r.success for r in materialize_days(root, days, instance, PERMISSIVE, job=prepare))
    first = train(root, instance)
    assert first.success
    assert all(r.success for r in score_days(root, days, instance))
    return MlLake(root, LakeStorage(root=str(root)), days, instance, first)


def test_shards_hold_every_validated_review_unpadded_with_the_tokenizer_hash(ml_lake):
    storage = ml_lake.storage
    manifest = json.loads((ml_lake.root / "lake/models/review_tokenizer.json").read_text())
    assert manifest["added_tokens"] > 6000  # the GB2312 hanzi the English vocabulary lacks
    for day in ml_lake.days:
        validated = storage.read_partition("validated_reviews", day)
        shards = storage.read_partition("review_token_shards", day)
        assert sorted(shards.get_column("review_id")) == sorted(validated.get_column("review_id"))
        assert shards.schema["input_ids"] == pl.List(pl.Int32)
        assert (shards.get_column("length") == shards.get_column("input_ids").list.len()).all()
        assert not shards.get_column("input_ids").list.contains(0).any()  # 0 is [PAD]: nothing padded
        for path in storage.partition_files("review_token_shards", day):
            assert pq.read_schema(str(path)).metadata[TOKENIZER_HASH_KEY].decode() == manifest["hash"]
    reviews = read_days(storage, "review_token_shards", ml_lake.days)
    unknown = reviews.get_column("input_ids").explode().eq(100).mean()  # 100 is [UNK]
    assert unknown < 0.01


def test_rerunning_a_shard_partition_replaces_it(ml_lake):
    day = ml_lake.days[3]
    before = ml_lake.storage.read_partition("review_token_shards", day)
    prepare = build_definitions(str(ml_lake.root)).resolve_job_def("prepare_partition_job")
    [result] = materialize_days(ml_lake.root, [day], ml_lake.instance, PERMISSIVE, job=prepare)
    assert result.success
    assert ml_lake.storage.read_partition("review_token_shards", day).equals(before)
    folder = ml_lake.storage.partition_file("review_token_shards", day).parent
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_training_writes_versions_metrics_and_a_champion(ml_lake):
    versions = ml_lake.root / "lake/models/sentiment/versions"
    transformer = next(p for p in versions.iterdir() if "-transformer-" in p.name)
    baseline = next(p for p in versions.iterdir() if "-tfidf_logreg-" in p.name)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "candidate.json", "MODEL_CARD.md"):
        assert (transformer / name).is_file(), name
    ensemble = next(p for p in versions.iterdir() if "-ensemble-" in p.name)
    assert {p.name for p in baseline.iterdir()} == {
        "tfidf.json",
        "tfidf.npz",
        "candidate.json",
        "MODEL_CARD.md",
        "predictions.npz",
    }
    assert {p.name for p in ensemble.iterdir()} == {"candidate.json", "MODEL_CARD.md", "predictions.npz"}
    parts = json.loads((ensemble / "candidate.json").read_text())["parts"]
    assert {part["version"] for part in parts} == {transformer.name, baseline.name}
    assert sum(part["weight"] for part in parts) == pytest.approx(1.0)
    models = ml_lake.root / "lake/models"
    assert not [p for p in models.rglob("*") if p.suffix in (".bin", ".pkl", ".pt")]  # no pickles kept
    assert not list((models / "checkpoints").glob("*/step_*"))  # finished jobs clean their checkpoints
    candidate = json.loads((transformer / "candidate.json").read_text())
    test = candidate["metrics"]["test"]
    assert set(test) >= {"macro_f1", "accuracy", "per_class", "confusion_matrix", "ece", "reliability"}
    assert set(test["per_class"]) == {"negative", "positive"}  # polarity: 3 stars name no class
    low, high = test["macro_f1_ci95"]
    assert low <= test["macro_f1"] <= high
    assert candidate["dedup"]["examples"] >= candidate["dedup"]["distinct_texts"] > 0
    assert candidate["tokenizer"]["hash"] == json.loads((models / "review_tokenizer.json").read_text())["hash"]

    info = metadata(ml_lake.first_model_run, "sentiment_model")
    champion = json.loads((models / "sentiment/champion.json").read_text())
    assert info["serving_version"] == champion["version"]
    assert "![reliability](data:image/png;base64," in info["reliability"]
    assert ["true \\ predicted", "negative", "positive"] in markdown_rows(info["confusion_matrices"])
    assert check_results(ml_lake.first_model_run)["champion_challenger"].passed


def test_the_challenger_is_picked_on_validation_and_scores_follow_the_pointer(ml_lake):
    info = metadata(ml_lake.first_model_run, "sentiment_model")
    decision = info["decision"]
    assert decision.startswith(f"challenger {info['serving_kind']} {info['serving_version']}")
    for kind in ("transformer", "ensemble"):  # each more complex candidate was weighed on validation
        assert f"{kind} vs " in decision and " on validation " in decision
    if info["serving_kind"] != "tfidf_logreg":
        assert "better, takes over" in decision
    assert "no champion yet: promoted" in decision  # a fresh lake has no champion
    scores = read_days(ml_lake.storage, "review_scores", ml_lake.days)
    assert set(scores.get_column("scorer_kind")) == {info["serving_kind"]}
    assert set(scores.get_column("model_version")) == {info["serving_version"]}
    assert {row[0] for row in markdown_rows(info["versus_baseline"])} >= {"transformer", "ensemble"}
    assert info["minimum_detectable_difference"] > 0


def test_three_star_reviews_are_scored_but_never_trained_or_evaluated_on(ml_lake):
    info = metadata(ml_lake.first_model_run, "sentiment_model")
    shards = read_days(ml_lake.storage, "review_token_shards", ml_lake.days)
    three_stars = shards.filter(pl.col("rating") == 3).height
    assert three_stars > 0
    assert info["unlabelled_rows"] == three_stars
    assert info["window_rows"] == shards.height - three_stars
    serving = Path(info["serving_path"])
    candidate = json.loads((serving / "candidate.json").read_text())
    assert "3" not in candidate["rating_to_label"]
    assert (
        sum(candidate["metrics"]["test"]["per_class"][c]["support"] for c in ("negative", "positive"))
        == (candidate["split_sizes"]["test"])
    )
    scores = read_days(ml_lake.storage, "review_scores", ml_lake.days).filter(pl.col("rating") == 3)
    assert scores.height == three_stars
    assert scores.get_column("rating_label").null_count() == three_stars
    assert scores.get_column("prob_negative").null_count() == 0


def test_every_validated_review_is_scored_and_the_gold_table_adds_up(ml_lake):
    storage = ml_lake.storage
    for day in ml_lake.days:
        validated = storage.read_partition("validated_reviews", day)
        scores = storage.read_partition("review_scores", day)
        assert sorted(scores.get_column("review_id")) == sorted(validated.get_column("review_id"))
        total = scores.select(pl.sum_horizontal("prob_negative", "prob_positive")).to_series()
        assert ((total - 1).abs() < 1e-4).all()
        sentiment = storage.read_partition("product_sentiment", day)
        assert int(sentiment.get_column("reviews").sum() or 0) == scores.height
        if sentiment.height:
            shares = sentiment.select(pl.sum_horizontal("share_negative", "share_positive")).to_series()
            assert ((shares - 1).abs() < 1e-9).all()
            expected = scores.group_by("product_id").agg((pl.col("predicted_label") == pl.col("rating_label")).mean())
            joined = sentiment.join(expected, on="product_id")
            assert (joined.get_column("model_rating_agreement") == joined.get_column("predicted_label")).all()


def test_a_retrained_challenger_meets_the_champion_in_a_paired_comparison(ml_lake):
    before = json.loads((ml_lake.root / "lake/models/sentiment/champion.json").read_text())
    run = train(ml_lake, ml_lake.instance, seed=14)  # another job: trains a new challenger
    assert run.success
    info = metadata(run, "sentiment_model")
    evidence = info["gate_evidence"]
    assert evidence["champion"] == before["version"]
    assert evidence["low"] <= evidence["difference"] <= evidence["high"]
    assert evidence["examples"] == info["test_texts"]
    assert "95% interval" in info["decision"] and "paired test texts" in info["decision"]
    champion = json.loads((ml_lake.root / "lake/models/sentiment/champion.json").read_text())
    if evidence["low"] > 0:
        assert champion["version"] == evidence["challenger"] and "promoted" in info["decision"]
    else:
        assert champion["version"] == before["version"] and "champion kept" in info["decision"]


def test_scoring_follows_the_champion_pointer_to_a_transformer(ml_lake):
    versions = ml_lake.root / "lake/models/sentiment/versions"
    transformer = sorted(p.name for p in versions.iterdir() if "-transformer-" in p.name)[-1]
    registry = ModelRegistry(ml_lake.root / "lake/models/sentiment")
    before = registry.require_champion()
    try:
        registry.promote(transformer, "transformer", None, "test: promoted by hand")
        day = ml_lake.days[-1]
        [scored] = score_days(ml_lake.root, [day], ml_lake.instance)
        assert scored.success
        scores = ml_lake.storage.read_partition("review_scores", day)
        assert set(scores.get_column("model_version")) == {transformer}
        assert set(scores.get_column("scorer_kind")) == {"transformer"}
    finally:
        registry.promote(before["version"], before["kind"], before["test_macro_f1"], before["reason"])
        score_days(ml_lake.root, [ml_lake.days[-1]], ml_lake.instance)


def test_an_unchanged_training_job_reuses_its_versions_unless_told_to_retrain(ml_lake):
    versions = ml_lake.root / "lake/models/sentiment/versions"
    first = metadata(ml_lake.first_model_run, "sentiment_model")
    assert first["reused_earlier_training"] is False
    before = sorted(p.name for p in versions.iterdir())

    again = train(ml_lake, ml_lake.instance)  # same window, tokenizer and settings as the fixture's run
    assert again.success
    info = metadata(again, "sentiment_model")
    assert info["reused_earlier_training"] is True
    assert sorted(p.name for p in versions.iterdir()) == before  # nothing trained, nothing written
    assert info["transformer_test_macro_f1"] == first["transformer_test_macro_f1"]
    assert info["ensemble_test_macro_f1"] == first["ensemble_test_macro_f1"]

    retrained = train(ml_lake, ml_lake.instance, retrain_unchanged=True)
    assert retrained.success
    assert metadata(retrained, "sentiment_model")["reused_earlier_training"] is False
    assert len(list(versions.iterdir())) == len(before) + 3  # a new transformer, baseline and ensemble

    changed = train(ml_lake, ml_lake.instance, learning_rate=5e-4)  # another job: trains
    assert metadata(changed, "sentiment_model")["reused_earlier_training"] is False


# A training job long enough to be killed mid-way, checkpointing often.
LONG_TRAINING = {
    **FAST_TRAINING,
    "max_steps": 400,
    "max_epochs": 100,
    "checkpoint_every_steps": 5,
    "eval_every_steps": 200,
    "retrain_unchanged": True,
}


def kill_training_after_a_checkpoint(root: str | Path, config: dict, reached: Callable[[], int]) -> int:
    """Materialize sentiment_model in another process and SIGKILL it once `reached()` (the furthest
    complete checkpoint it can see) is past 0; returns that step."""
    script = (
        "import json, sys; from dagster import DagsterInstance; "
        "from shopinsight_pipeline_tests.conftest import materialize_assets; "
        "materialize_assets(sys.argv[1], DagsterInstance.ephemeral(), ['sentiment_model'], json.loads(sys.argv[2]))"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(root), json.dumps(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not reached():
            assert worker.poll() is None, "training ended before it wrote a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    return reached()


def test_a_killed_training_run_resumes_from_its_last_checkpoint(ml_lake):
    """SIGKILL the materialization in another process once a checkpoint is complete; the next
    materialization with the same data and settings starts from that checkpoint."""
    config = {"ops": {"sentiment_model": {"config": LONG_TRAINING}}}
    checkpoints = ml_lake.root / "lake/models/checkpoints"

    def reached() -> int:
        steps = [int(path.parent.name.removeprefix("step_")) for path in checkpoints.glob("*/step_*/COMPLETE")]
        return max(steps, default=0)

    reached_step = kill_training_after_a_checkpoint(ml_lake.root, config, reached)
    resumed = materialize_assets(ml_lake.root, ml_lake.instance, ["sentiment_model"], config)
    assert resumed.success
    info = metadata(resumed, "sentiment_model")
    assert info["resumed_from_step"] >= reached_step > 0
    assert info["train_steps"] == 400  # it went on to the end, not from scratch and not past it


def test_training_refuses_shards_of_another_tokenizer(ml_lake):
    with pytest.raises(TokenizerMismatchError, match="expected tokenizer hash 0000000000000000") as error:
        shards = {
            day.isoformat(): pq.read_table(str(ml_lake.storage.partition_file("review_token_shards", day)))
            for day in ml_lake.days
        }
        training_examples(shards, {}, 30, "0000000000000000", LabelScheme())
    assert "review_token_shards" in str(error.value)


def test_training_window_too_small_fails_with_a_clear_message(ml_lake):
    run = train(ml_lake, ml_lake.instance, min_train_examples=100_000)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert "fewer than min_train_examples=100000" in str(failure.event_specific_data.error)


def test_missing_model_directory_fails_naming_the_path(tmp_path):
    config = {"ops": {"review_tokenizer": {"config": {"base_model_dir": str(tmp_path / "no-such-model")}}}}
    run = materialize_assets(tmp_path, DagsterInstance.ephemeral(), ["review_tokenizer"], config)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"model directory {tmp_path / 'no-such-model'} does not exist" in str(failure.event_specific_data.error)


def test_scoring_without_a_promoted_model_says_what_to_do(tmp_path):
    write_sample(tmp_path, SampleSpec(days=1, orders_per_day=20))
    instance = DagsterInstance.ephemeral()
    assert all(r.success for r in materialize_days(tmp_path, [ML_SPEC.start], instance))
    [run] = score_days(tmp_path, [ML_SPEC.start], instance)
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert "Materialize sentiment_model first" in str(failure.event_specific_data.error)


def test_two_cpu_processes_through_pipes_give_a_model(ml_lake):
    """num_processes=2 runs `accelerate launch --cpu --num_processes 2` through Dagster Pipes."""
    run = train(
        ml_lake,
        ml_lake.instance,
        num_processes=2,
        force_cpu=True,
        retrain_unchanged=True,
    )
    assert run.success
    versions = ml_lake.root / "lake/models/sentiment/versions"
    newest = sorted((p for p in versions.iterdir() if "-transformer-" in p.name), key=lambda p: p.stat().st_mtime)[-1]
    candidate = json.loads((newest / "candidate.json").read_text())
    assert candidate["training"]["num_processes"] == 2, candidate["training"]
    assert (newest / "model.safetensors").is_file()
    logs = [e.message for e in ml_lake.instance.all_logs(run.run_id) if e.user_message]
    assert any("rank 0 of 2" in message for message in logs)  # reported by the subprocess over Pipes


def test_a_new_category_a_neutral_only_product_and_a_day_without_reviews_give_every_gold_table(ml_lake, tmp_path):
    """Run date: a category sold for the first time and a product with only 3-star reviews; the day
    before: no reviews at all. Every gold asset materializes and says what is thin."""
    root = tmp_path / "lake"
    shutil.copytree(ml_lake.root, root)
    storage = LakeStorage(root=str(root))
    quiet_day, run_day = ml_lake.days[-2], ml_lake.days[-1]
    Path(str(storage.landing_file("reviews", quiet_day))).write_bytes(b"")
    with open(str(storage.landing_file("orders", run_day)), "a", encoding="utf-8") as orders:
        for number in range(3):
            orders.write(f"ONEW{number},C9,PGARDEN,garden,1,35.00,CNY,{run_day}T1{number}:00:00+08:00,delivered\n")
    with open(str(storage.landing_file("reviews", run_day)), "a", encoding="utf-8") as reviews:
        for number, text in enumerate(["还行吧，一般般", "中规中矩", "不好不坏"]):
            review = {
                "review_id": f"RNEUTRAL{number}",
                "order_id": f"ONEW{number}",
                "product_id": "PNEUTRAL",
                "rating": 3,
                "review_text": text,
                "review_ts": f"{run_day}T2{number}:00:00+08:00",
            }
            reviews.write(json.dumps(review, ensure_ascii=False) + "\n")

    instance = DagsterInstance.ephemeral()
    prepare = build_definitions(str(root)).resolve_job_def("prepare_partition_job")
    days = [quiet_day, run_day]
    assert all(r.success for r in materialize_days(root, days, instance, PERMISSIVE, job=prepare))
    scored = score_days(root, days, instance)
    assert all(r.success for r in scored)
    gold_assets = ["sales_forecast", "insights", "insight_report"]
    for day in days:  # the day without reviews is a run date too
        assert materialize_assets(root, instance, gold_assets, partition_key=day.isoformat()).success
        assert (storage.report_dir(day) / "report.html").is_file()

    assert storage.read_partition("product_sentiment", quiet_day).is_empty()
    assert "no validated reviews" in metadata(scored[0], "product_sentiment")["note"]
    neutral = storage.read_partition("product_sentiment", run_day).filter(pl.col("product_id") == "PNEUTRAL")
    assert neutral.get_column("reviews").to_list() == [3] and neutral.get_column("avg_rating").to_list() == [3.0]
    assert "only neutral (3-star) reviews" in metadata(scored[1], "product_sentiment")["note"]

    [garden] = storage.read_partition("category_trends", run_day).filter(pl.col("category") == "garden").to_dicts()
    assert garden["revenue"] == 105.0 and "only 1 days of history" in garden["note"]
    forecast = storage.read_partition("sales_forecast", run_day).filter(pl.col("category") == "garden")
    assert forecast.height == 14 and forecast.get_column("note").str.contains("fallback").all()
    assert storage.read_partition("insights", run_day).height > 0


def test_every_table_reads_the_same_in_the_query_command_duckdb_and_polars(ml_lake):
    """No column collides with a Hive partition key: the three ways analysts read a table agree
    with the documented schema, the partition key included, and with each other row for row."""
    last = ml_lake.days[-1].isoformat()
    assert materialize_assets(ml_lake.root, ml_lake.instance, ["recommender_model"]).success
    assert materialize_assets(
        ml_lake.root,
        ml_lake.instance,
        ["sales_forecast", "insights", "customer_recommendations", "purchase_propensity"],
        partition_key=last,
    ).success
    with open_lake(ml_lake.storage) as (connection, views):
        labels = LabelScheme().labels
        assert set(views) == set(TABLE_LAYERS)
        plain_duckdb = duckdb.connect()
        plain_duckdb.execute("set TimeZone = 'UTC'")  # DuckDB shows timestamps in the session's zone
        for table in TABLE_LAYERS:
            documented = {**file_schema(table, labels)}
            documented.setdefault(partition_column(table), pl.Date())
            folder = ml_lake.storage.table_path(table)
            readers = {
                "query command": connection.sql(f"select * from {table}").pl(),
                "duckdb": plain_duckdb.sql(
                    f"select * from read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
                ).pl(),
                "polars": pl.scan_parquet(folder, hive_partitioning=True).collect(),
            }
            order = [partition_column(table), *[c for c in documented if c != partition_column(table)]]
            frames = {name: frame.select(order).sort(order[:3]) for name, frame in readers.items()}
            for name, frame in frames.items():
                assert dict(frame.schema) == {column: documented[column] for column in order}, (table, name)
                assert frame.height > 0, (table, name)
                assert frame.equals(frames["polars"]), (table, name)
    forecast = pl.scan_parquet(ml_lake.storage.table_path("sales_forecast"), hive_partitioning=True)
    assert forecast.filter(pl.col("run_date") == ml_lake.days[-1]).collect().height > 0
    assert (forecast.select(pl.col("target_date") > pl.col("run_date")).collect().to_series()).all()


def test_every_asset_reads_exactly_the_tables_it_declares(ml_lake, tiny_model_dir, monkeypatch):
    """Lineage is declared once, by the inputs: materializing each asset alone, the lake tables it
    opens are its declared upstream tables (plus, for validation, its own outputs, which its checks
    count after writing) - no undeclared read, no declared input left unread."""
    last = ml_lake.days[-1].isoformat()
    assert materialize_assets(
        ml_lake.root, ml_lake.instance, ["sales_forecast", "insights"], partition_key=last
    ).success
    opened: list[str] = []
    original = LakeStorage.partition_files

    def recording(self, table, day, *arguments):
        opened.append(table)
        return original(self, table, day, *arguments)

    monkeypatch.setattr(LakeStorage, "partition_files", recording)
    definitions = build_definitions(str(ml_lake.root))
    graph = definitions.resolve_asset_graph()
    config = {
        "review_tokenizer": {"base_model_dir": str(tiny_model_dir)},
        "sentiment_model": FAST_TRAINING,
        **{op: op_config["config"] for op, op_config in PERMISSIVE["ops"].items()},
    }
    checked: set[str] = set()
    for assets_def in {  # parents first: recommendations need the recommender's value
        definitions.get_assets_def(key).op.name: definitions.get_assets_def(key) for key in graph.toposorted_asset_keys
    }.values():
        names = sorted(key.to_user_string() for key in assets_def.keys)
        op = assets_def.op.name
        opened.clear()
        run_config = {"ops": {op: {"config": config[op]}}} if op in config else {}
        run = materialize_assets(
            ml_lake.root, ml_lake.instance, names, run_config, partition_key=last if assets_def.partitions_def else None
        )
        assert run.success, op
        declared = {parent.to_user_string() for key in assets_def.keys for parent in graph.get(key).parent_keys}
        declared = (declared & set(TABLE_LAYERS)) - set(names)
        assert declared <= set(opened), f"{op} declares {sorted(declared - set(opened))} but never reads them"
        assert set(opened) <= declared | set(names), f"{op} reads undeclared {sorted(set(opened) - declared)}"
        checked.update(names)
    assert len(checked) == len(graph.get_all_asset_keys()) == 20
