"""The work of one `sentiment_model` materialization: fit every candidate, gate, and describe it.

Kept apart from `train/assets.py`, which only declares the asset, so that loading the code location
does not import torch, transformers or scikit-learn: this module is imported by the step itself.
"""

import dataclasses
import shutil
import sys
import uuid
from pathlib import Path

import polars as pl
import pyarrow as pa
import torch
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
)

from shopinsight_pipeline import charts
from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.fit import (
    FitResult,
    InProcessTrainer,
    TokenizerInfo,
    Trainer,
    TrainingDataError,
    champion_on_test,
    fit_candidates,
)
from shopinsight_pipeline.ml.launch import MODEL_FOLDER, read_outcome, write_job
from shopinsight_pipeline.ml.metrics import confusion_markdown
from shopinsight_pipeline.ml.registry import Candidate, Decision, ModelRegistry
from shopinsight_pipeline.ml.scorers import ENSEMBLE, TRANSFORMER, read_candidate
from shopinsight_pipeline.ml.shards import check_tokenizer
from shopinsight_pipeline.ml.significance import paired_bootstrap
from shopinsight_pipeline.ml.text import LabelScheme, SplitFractions
from shopinsight_pipeline.ml.train import resolve_precision
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.train.assets import GATE, TrainingConfig


class PipesTrainer:
    """Several devices: run `accelerate launch -m shopinsight_pipeline.ml.launch` through Dagster Pipes."""

    def __init__(
        self, context: AssetExecutionContext, client: PipesSubprocessClient, processes: int, cpu: bool, work: Path
    ):
        self.context, self.client, self.processes, self.cpu, self.work = context, client, processes, cpu, work

    def __call__(self, model_dir, train, validation, labels, pad_token_id, settings, checkpoints, log, on_step):
        job_dir = self.work / uuid.uuid4().hex
        # `accelerate launch --cpu` starts a single process; --multi_gpu starts torchrun workers, and the
        # Accelerator inside each makes them CPU workers (gloo) when the settings say cpu.
        settings = dataclasses.replace(settings, cpu=settings.cpu or self.cpu)
        write_job(job_dir, model_dir, train, validation, labels, pad_token_id, settings, checkpoints)
        launcher = Path(sys.executable).parent / "accelerate"
        command = [str(launcher), "launch", "--multi_gpu", "--num_processes", str(self.processes)]
        command += ["--num_machines", "1", "--dynamo_backend", "no"]
        command += ["--mixed_precision", "no" if settings.cpu else resolve_precision(settings)]
        command += ["-m", "shopinsight_pipeline.ml.launch", str(job_dir)]
        log(f"training on {self.processes} processes: {' '.join(command)}")
        try:
            self.client.run(context=self.context, command=command)
            return model_io.load_model(job_dir / MODEL_FOLDER), read_outcome(job_dir)
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)


def choose_trainer(context: AssetExecutionContext, config: "TrainingConfig", client, work: Path) -> Trainer:
    if config.num_processes <= 1:
        return InProcessTrainer()
    cpu = config.force_cpu or not torch.cuda.is_available()
    return PipesTrainer(context, client, config.num_processes, cpu, work)


def training_examples(
    shards: dict[str, pa.Table],
    reviews: dict[str, pl.LazyFrame],
    window_days: int,
    tokenizer_hash: str,
    scheme: LabelScheme,
) -> pl.DataFrame:
    """Shards of the latest `window_days` written days joined with their review text; refuses shards
    of another tokenizer."""
    days = sorted(shards)[-window_days:]
    if not days:
        raise TrainingDataError("no review_token_shards partitions: materialize review_token_shards first")
    for day in days:
        check_tokenizer(shards[day].schema.metadata, tokenizer_hash, f"review_token_shards for {day}")
    tokens = pl.concat([pl.DataFrame(shards[day]) for day in days])
    texts = pl.concat([reviews[day].select("review_id", "review_text") for day in days if day in reviews]).collect()
    return tokens.with_columns(scheme.label_ids(tokens.get_column("rating"))).join(texts, on="review_id", how="inner")


def candidates_table(rows: list[tuple[str, str, float | None, dict]]) -> str:
    """One row per scorer: validation macro-F1 (what the challenger is chosen by) and test metrics."""
    headers = [
        "candidate",
        "kind",
        "validation macro-F1",
        "test macro-F1",
        "95% interval",
        "accuracy",
        "ECE",
        "examples",
    ]
    return table(
        headers,
        (
            (
                name,
                kind,
                "" if validation is None else f"{validation:.4f}",
                f"{report['macro_f1']:.4f}",
                "{:.4f}-{:.4f}".format(*report["macro_f1_ci95"]),
                f"{report['accuracy']:.4f}",
                f"{report['ece']:.4f}",
                report["examples"],
            )
            for name, kind, validation, report in rows
        ),
    )


def train_and_gate(
    context: AssetExecutionContext,
    config: TrainingConfig,
    storage: LakeStorage,
    scheme: LabelScheme,
    pipes_client: PipesSubprocessClient,
    review_tokenizer: dict,
    review_token_shards: dict[str, pa.Table],
    validated_reviews: dict[str, pl.LazyFrame],
) -> MaterializeResult:
    """Fit the candidates on the shards' latest window, gate the challenger, describe both."""
    manifest = review_tokenizer
    tokenizer_dir = storage.pull_folder(storage.path(manifest["directory"]))
    tokenizer = TokenizerInfo(tokenizer_dir, manifest["name"], manifest["hash"], manifest["max_length"])
    registry = ModelRegistry(storage.sentiment_registry_path)
    registry.pull(storage.sentiment_registry_store)  # an object store's registry, into the local cache
    try:
        examples = training_examples(review_token_shards, validated_reviews, config.window_days, tokenizer.hash, scheme)
        result = fit_candidates(
            examples,
            tokenizer,
            scheme,
            config.train_settings(),
            config.tfidf_settings(),
            SplitFractions(config.train_fraction, config.validation_fraction),
            registry,
            storage.local_models_path / "checkpoints",
            config.min_train_examples,
            checkpoint_store=storage.checkpoint_store,
            log=context.log.info,
            trainer=choose_trainer(context, config, pipes_client, storage.local_models_path / "jobs"),
            retrain_unchanged=config.retrain_unchanged,
        )
    except TrainingDataError as error:
        raise Failure(str(error)) from error

    champion, champion_report = None, None
    pointer = registry.champion()
    if pointer is not None:
        champion, champion_report = champion_on_test(
            registry, pointer, result.test_texts, result.test_labels, list(scheme.labels), result.split_fractions
        )
    decision = registry.gate(
        [
            Candidate(c.version, c.kind, c.validation_probabilities.argmax(axis=1), c.test_probabilities.argmax(axis=1))
            for c in result.candidates
        ],
        champion,
        result.validation_labels,
        result.test_labels,
        config.gate_confidence,
        config.bootstrap_rounds,
    )
    context.log.info(decision.reason)
    registry.push(storage.sentiment_registry_store)  # new versions, then the pointer
    serving = registry.require_champion()
    return MaterializeResult(
        metadata=model_metadata(result, pointer, champion_report, decision, serving, config.bootstrap_rounds),
        check_results=[
            AssetCheckResult(
                check_name=GATE,
                passed=decision.passed,
                # Significantly worse than the champion: worth a look, but the champion keeps serving.
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "decision": MetadataValue.md(decision.reason),
                    "challenger": decision.challenger,
                    "serving_version": serving["version"],
                    **gate_numbers(decision),
                },
            )
        ],
    )


def ensemble_weight(result: FitResult) -> float:
    parts = read_candidate(result.candidate(ENSEMBLE).path)["parts"]
    return next(part["weight"] for part in parts if part["kind"] == TRANSFORMER)


def gate_numbers(decision: Decision) -> dict:
    """The paired comparison's numbers as metadata (absent when there was no champion to compare)."""
    names = ("difference", "low", "high", "minimum_detectable", "examples", "share_not_better")
    return {f"gate_{name}": decision.evidence[name] for name in names if name in decision.evidence}


def versus_baseline(result: FitResult, rounds: int) -> tuple[str, float]:
    """Each learned candidate against the TF-IDF baseline, paired on the test texts, and the
    smallest difference this test split detects (the largest of those comparisons' estimates)."""
    baseline = result.baseline.test_probabilities.argmax(axis=1)
    rows = []
    detectable = 0.0
    for candidate in result.candidates:
        if candidate is result.baseline:
            continue
        paired = paired_bootstrap(
            result.test_labels, candidate.test_probabilities.argmax(axis=1), baseline, rounds=rounds
        )
        detectable = max(detectable, paired.minimum_detectable)
        rows.append(
            (
                candidate.kind,
                f"{paired.difference:+.4f}",
                f"[{paired.low:+.4f}, {paired.high:+.4f}]",
                f"{paired.minimum_detectable:.4f}",
            )
        )
    headers = ["candidate", "minus TF-IDF baseline", "95% interval", "smallest detectable"]
    return table(headers, rows), detectable


def model_metadata(
    result: FitResult,
    champion: dict | None,
    champion_report: dict | None,
    decision: Decision,
    serving: dict,
    rounds: int,
) -> dict:
    rows: list[tuple[str, str, float | None, dict]] = [
        (f"{c.kind} {c.version}", c.kind, c.validation_macro_f1, c.test) for c in result.candidates
    ]
    rows.append(("majority class", "majority", None, result.majority))
    if champion is not None and champion_report is not None:
        rows.append(("previous champion " + champion["version"], champion["kind"], None, champion_report))
    confusion = "\n\n".join(
        f"**{name}**\n\n{confusion_markdown(report)}" for name, kind, _, report in rows if kind != "majority"
    )
    reliability = charts.reliability_chart({c.kind: c.test["reliability"] for c in result.candidates})
    comparisons, detectable = versus_baseline(result, rounds)
    outcome = result.outcome
    return {
        "serving_version": serving["version"],
        "serving_kind": serving["kind"],
        "serving_path": serving["path"],
        "reused_earlier_training": result.reused,
        "decision": MetadataValue.md(decision.reason),
        "gate_evidence": MetadataValue.json(decision.evidence),
        "candidates": MetadataValue.md(candidates_table(rows)),
        "confusion_matrices": MetadataValue.md(confusion),
        "reliability": MetadataValue.md(charts.markdown_image(reliability, "reliability")),
        "learning_curve": MetadataValue.md(
            charts.markdown_image(charts.learning_curve(outcome.history), "learning curve")
        ),
        **{f"{c.kind}_test_macro_f1": c.test["macro_f1"] for c in result.candidates},
        **{f"{c.kind}_validation_macro_f1": c.validation_macro_f1 for c in result.candidates},
        "ensemble_transformer_weight": ensemble_weight(result),
        "majority_test_macro_f1": result.majority["macro_f1"],
        "test_texts": len(result.test_labels),
        "versus_baseline": MetadataValue.md(comparisons),
        "minimum_detectable_difference": round(detectable, 4),
        "unlabelled_rows": result.dedup.unlabelled_rows,
        "split_sizes": MetadataValue.json(result.split_sizes),
        "window_rows": result.dedup.examples,
        "distinct_texts": result.dedup.distinct_texts,
        "duplicate_rows": result.dedup.duplicate_rows,
        "conflicting_label_texts": result.dedup.conflicting_texts,
        "train_steps": outcome.steps,
        "best_step": outcome.best_step,
        "stopped_early": outcome.stopped_early,
        "resumed_from_step": outcome.resumed_from_step,
        "train_examples_per_second": round(outcome.examples_per_second, 2),
        "train_seconds": round(outcome.train_seconds, 1),
        "device": outcome.device,
        "mixed_precision": outcome.mixed_precision,
    }
