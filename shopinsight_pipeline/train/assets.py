"""`sentiment_model`: fine-tune, evaluate every candidate on one split, and gate the promotion."""

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
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    asset,
)
from pydantic import Field

from shopinsight_pipeline import charts
from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.baseline import TfidfSettings
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
from shopinsight_pipeline.ml.train import TrainSettings, resolve_precision
from shopinsight_pipeline.partitions import ALLOW_MISSING
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.storage import LakeStorage

GATE = "champion_challenger"


TRAIN = TrainSettings()
TFIDF = TfidfSettings()
SPLIT = SplitFractions()


class TrainingConfig(Config):
    """Run config of sentiment_model. Every default comes from the pure settings (TrainSettings,
    TfidfSettings, SplitFractions), so the asset and the library cannot drift apart."""

    window_days: int = Field(default=61, description="Train on the shards of the latest N days that have them.")
    min_train_examples: int = Field(default=200, description="Fewer deduplicated training examples is an error.")
    learning_rate: float = TRAIN.learning_rate
    embedding_learning_rate: float = Field(
        default=TRAIN.embedding_learning_rate,
        description="Learning rate of the input embeddings (the added hanzi start untrained); 0: same.",
    )
    weight_decay: float = TRAIN.weight_decay
    warmup_ratio: float = TRAIN.warmup_ratio
    batch_size: int = TRAIN.batch_size
    max_epochs: int = TRAIN.max_epochs
    max_steps: int = Field(default=TRAIN.max_steps, description="Cap on optimizer steps (0: max_epochs decides).")
    cpu_max_steps: int = Field(
        default=TRAIN.cpu_max_steps,
        description="Training budget on a CPU, in optimizer steps (0: none): the learning-rate schedule decays "
        "within it. A GPU ignores it and trains to the end of max_epochs.",
    )
    eval_every_steps: int = TRAIN.eval_every_steps
    patience: int = Field(
        default=TRAIN.patience, description="Evaluations without a better validation macro-F1 before stopping."
    )
    max_grad_norm: float = TRAIN.max_grad_norm
    checkpoint_every_steps: int = TRAIN.checkpoint_every_steps
    seed: int = TRAIN.seed
    mixed_precision: str = Field(
        default=TRAIN.mixed_precision, description="auto (bf16 on a GPU, fp32 on a CPU), no, fp16 or bf16."
    )
    force_cpu: bool = TRAIN.cpu
    balanced_loss: bool = Field(
        default=TRAIN.balanced_loss, description="Weight classes by inverse frequency (macro-F1 counts each)."
    )
    train_fraction: float = Field(default=SPLIT.train, description="Share of text-hash buckets to train on.")
    validation_fraction: float = Field(
        default=SPLIT.validation, description="Share to choose the challenger by; the rest is test."
    )
    gate_confidence: float = Field(
        default=0.95,
        description="A challenger replaces the champion only when the paired bootstrap interval of their test "
        "macro-F1 difference, at this confidence, lies above zero.",
    )
    bootstrap_rounds: int = Field(default=2000, description="Resamples of the test texts for every interval.")
    tfidf_ngram_max: int = TFIDF.ngram_max
    tfidf_c: float = TFIDF.c
    retrain_unchanged: bool = Field(
        default=False,
        description="Train again even when the registry holds versions trained on the same texts, labels, "
        "tokenizer and settings (by default those are reused: CPU training is not bit-reproducible, so a "
        "retrain on unchanged data only adds noise to the scores).",
    )
    num_processes: int = Field(
        default=1,
        description="Devices to train on. Above 1, training runs as an `accelerate launch` subprocess through "
        "Dagster Pipes (one process per GPU, or per CPU worker with force_cpu).",
    )

    def train_settings(self) -> TrainSettings:
        shared = {field.name for field in dataclasses.fields(TrainSettings)} & set(type(self).model_fields)
        return TrainSettings(**{name: getattr(self, name) for name in shared}, cpu=self.force_cpu)

    def tfidf_settings(self) -> TfidfSettings:
        return dataclasses.replace(TFIDF, ngram_max=self.tfidf_ngram_max, c=self.tfidf_c)


class PipesTrainer:
    """Several devices: run `accelerate launch -m shopinsight_pipeline.ml.launch` through Dagster Pipes."""

    def __init__(
        self, context: AssetExecutionContext, client: PipesSubprocessClient, processes: int, cpu: bool, work: Path
    ):
        self.context, self.client, self.processes, self.cpu, self.work = context, client, processes, cpu, work

    def __call__(self, model_dir, train, validation, labels, pad_token_id, settings, checkpoint_dir, log, on_step):
        job_dir = self.work / uuid.uuid4().hex
        # `accelerate launch --cpu` starts a single process; --multi_gpu starts torchrun workers, and the
        # Accelerator inside each makes them CPU workers (gloo) when the settings say cpu.
        settings = dataclasses.replace(settings, cpu=settings.cpu or self.cpu)
        write_job(job_dir, model_dir, train, validation, labels, pad_token_id, settings, checkpoint_dir)
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


@asset(
    ins={
        "review_tokenizer": AssetIn(),
        # every written day; window_days picks the latest of them
        "review_token_shards": AssetIn(metadata=ALLOW_MISSING),
        "validated_reviews": AssetIn(metadata=ALLOW_MISSING),
    },
    group_name="train",
    kinds={"pytorch", "accelerate"},
    check_specs=[
        AssetCheckSpec(
            GATE,
            asset="sentiment_model",
            blocking=True,
            description="The best new candidate is promoted only if it is not worse than the champion "
            "on the same test split.",
        )
    ],
    description="Fine-tunes the transformer, fits the TF-IDF baseline, evaluates all on one leak-free split and "
    "promotes the best. Its value is the champion pointer review_scores reads.",
)
def sentiment_model(
    context: AssetExecutionContext,
    config: TrainingConfig,
    storage: LakeStorage,
    sentiment_labels: SentimentLabels,
    pipes_client: PipesSubprocessClient,
    review_tokenizer: dict,
    review_token_shards: dict[str, pa.Table],
    validated_reviews: dict[str, pl.LazyFrame],
) -> MaterializeResult:
    scheme = sentiment_labels.scheme()
    manifest = review_tokenizer
    tokenizer = TokenizerInfo(Path(manifest["directory"]), manifest["name"], manifest["hash"], manifest["max_length"])
    registry = ModelRegistry(storage.sentiment_registry_path)
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
            Path(str(storage.models_path / "checkpoints")),
            config.min_train_examples,
            log=context.log.info,
            trainer=choose_trainer(context, config, pipes_client, Path(str(storage.models_path / "jobs"))),
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
