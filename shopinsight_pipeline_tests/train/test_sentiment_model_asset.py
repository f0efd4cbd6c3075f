"""sentiment_model as an asset on the ML lake: versions, metrics and a champion; the gate's paired
comparison; reuse of unchanged training; resume after a kill; clear failures; Pipes workers."""

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from shopinsight_pipeline.ml.shards import TokenizerMismatchError
from shopinsight_pipeline.ml.text import LabelScheme
from shopinsight_pipeline.ml.training_run import training_examples
from shopinsight_pipeline_tests.conftest import materialize_assets
from shopinsight_pipeline_tests.ml_lake import (
    LONG_TRAINING,
    check_results,
    kill_training_after_a_checkpoint,
    markdown_rows,
    metadata,
    read_days,
    train,
)


def test_training_writes_versions_metrics_and_a_champion(ml_lake):
    versions = ml_lake.root / "lake/models/sentiment/versions"
    evaluated = [p for p in versions.iterdir() if "-refit-" not in p.name]  # the split versions the gate weighed
    transformer = next(p for p in evaluated if "-transformer-" in p.name)
    baseline = next(p for p in evaluated if "-tfidf_logreg-" in p.name)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "candidate.json", "MODEL_CARD.md"):
        assert (transformer / name).is_file(), name
    ensemble = next(p for p in evaluated if "-ensemble-" in p.name)
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
    assert info["evaluated_version"] == champion["version"]
    # the champion's recipe refit on every label of the window serves (issue 29)
    assert info["serving_version"] == champion["refit_version"] != champion["version"]
    refit = json.loads((versions / champion["refit_version"] / "candidate.json").read_text())
    assert refit["refit_of"] == champion["version"] and "serves" in info["refit"]
    assert "![reliability](data:image/png;base64," in info["reliability"]
    assert ["true \\ predicted", "negative", "positive"] in markdown_rows(info["confusion_matrices"])
    assert check_results(ml_lake.first_model_run)["champion_challenger"].passed


def test_the_challenger_is_picked_on_validation_and_scores_follow_the_pointer(ml_lake):
    info = metadata(ml_lake.first_model_run, "sentiment_model")
    decision = info["decision"]
    assert decision.startswith(f"challenger {info['serving_kind']} {info['evaluated_version']}")
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
