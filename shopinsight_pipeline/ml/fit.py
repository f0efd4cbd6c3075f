"""Train and evaluate every candidate scorer on one leak-free split, and save each as a registry version.

Pure of Dagster: the `sentiment_model` asset calls `fit_candidates`, then the gate in
`registry.choose` decides which version serves.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
from upath import UPath

from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.baseline import TfidfClassifier, TfidfSettings, majority_probabilities
from shopinsight_pipeline.ml.checkpoints import CheckpointMirror
from shopinsight_pipeline.ml.inference import mean_loss, predict_proba
from shopinsight_pipeline.ml.metrics import classification_report
from shopinsight_pipeline.ml.registry import Champion, ModelRegistry
from shopinsight_pipeline.ml.scorers import (
    CANDIDATE_FILE,
    ENSEMBLE,
    PREDICTIONS_FILE,
    TFIDF,
    TRANSFORMER,
    mix_probabilities,
    read_candidate,
)
from shopinsight_pipeline.ml.significance import bootstrap_macro_f1, macro_f1
from shopinsight_pipeline.ml.text import DedupReport, LabelScheme, SplitFractions, assign_splits
from shopinsight_pipeline.ml.train import TokenizedSet, TrainOutcome, TrainSettings, train_classifier

# Columns `fit_candidates` needs: the shards' columns joined with the review text.
EXAMPLE_COLUMNS = ("review_id", "text_key", "label", "input_ids", "review_text")
CANDIDATE_KINDS = (TFIDF, TRANSFORMER, ENSEMBLE)  # simplest first: a later one must beat the pick beyond noise
ENSEMBLE_WEIGHTS = tuple(step / 20 for step in range(21))  # transformer share tried on validation


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
    test: dict  # classification_report on the test split, with the bootstrap interval of macro-F1
    validation_macro_f1: float
    validation_probabilities: np.ndarray
    test_probabilities: np.ndarray


@dataclass
class FitResult:
    candidates: list[CandidateReport]  # simplest first: baseline, transformer, ensemble
    majority: dict
    dedup: DedupReport
    split_sizes: dict[str, int]
    outcome: TrainOutcome
    test_texts: list[str]
    test_labels: list[int]
    validation_labels: list[int]
    split_fractions: SplitFractions
    reused: bool = False  # True: an earlier run trained this exact job; its versions were taken as they are

    def candidate(self, kind: str) -> CandidateReport:
        return next(candidate for candidate in self.candidates if candidate.kind == kind)

    @property
    def transformer(self) -> CandidateReport:
        return self.candidate(TRANSFORMER)

    @property
    def baseline(self) -> CandidateReport:
        return self.candidate(TFIDF)


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
        checkpoints: CheckpointMirror,
        log: Callable[[str], None],
        on_step: Callable[[int], None] | None,
    ) -> tuple[Any, TrainOutcome]: ...  # (a transformers model, its training outcome)


class InProcessTrainer:
    """One device (a GPU or the CPU): train in this process."""

    def __call__(self, model_dir, train, validation, labels, pad_token_id, settings, checkpoints, log, on_step):
        model = model_io.load_model(model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)))
        outcome = train_classifier(
            model, train, validation, labels, pad_token_id, settings, checkpoints.local, log, on_step, checkpoints.push
        )
        return model, outcome


def fingerprint(train: pl.DataFrame, tokenizer: TokenizerInfo, settings: TrainSettings, scheme: LabelScheme) -> str:
    """Identity of a training job: same data, tokenizer and settings resume the same checkpoints."""
    digest = hashlib.sha256()
    for key, label in zip(train.get_column("text_key").to_list(), train.get_column("label").to_list(), strict=True):
        digest.update(f"{key}:{label};".encode())
    # The base folder's name identifies its weights too (the embedding init of the added rows).
    identity = [tokenizer.hash, tokenizer.directory.name, asdict(settings), list(scheme.labels)]
    digest.update(json.dumps(identity, sort_keys=True).encode())
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
    """The transformer, baseline and ensemble candidate files an earlier run wrote for this exact job
    and evaluation split, if all are still registered with their predictions. Training again on the
    same window, tokenizer and settings buys nothing but run-to-run noise (CPU training is not
    bit-reproducible), and costs minutes."""
    found: dict[str, dict] = {}
    for directory in sorted(registry.versions_path.glob("*"), reverse=True):  # newest first
        if directory.name.startswith(".") or not (directory / CANDIDATE_FILE).is_file():
            continue  # a staging folder, or not a version
        payload = read_candidate(directory)
        kind = str(payload.get("kind"))
        if payload.get("job") != job or payload.get("evaluation") != evaluation or kind in found:
            continue
        if kind == TFIDF and payload.get("training") != asdict(tfidf_settings):
            continue
        if not (directory / PREDICTIONS_FILE).is_file():
            continue  # written before predictions were kept: train again
        found[kind] = {**payload, "path": str(directory)}
    if set(found) != set(CANDIDATE_KINDS):
        return None
    parts = {part["version"] for part in found[ENSEMBLE].get("parts", [])}
    return found if parts == {found[TRANSFORMER]["version"], found[TFIDF]["version"]} else None


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
    per_class = table(
        ["class", "precision", "recall", "F1", "support"],
        (
            (label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"])
            for label, v in test["per_class"].items()
        ),
    )
    return (
        f"# Sentiment scorer {version}\n\n"
        f"Kind: {kind}. Classes: {', '.join(payload['labels'])} (from star ratings: {payload['rating_to_label']}).\n\n"
        f"Trained on {payload['split_sizes']['train']} deduplicated reviews; evaluated on {test['examples']} held-out "
        f"texts split by a hash of the normalised text (no text is on both sides).\n\n"
        f"Test macro-F1 {test['macro_f1']:.4f} (95% bootstrap interval {test['macro_f1_ci95'][0]:.4f}-"
        f"{test['macro_f1_ci95'][1]:.4f}), accuracy {test['accuracy']:.4f}, ECE {test['ece']:.4f}.\n\n"
        f"{per_class}\n\n"
        "Intended use: ranking and aggregating sentiment of Chinese shopping reviews. Not for decisions about "
        "single customers. Ratings the label scheme leaves out (3 stars by default) were neither trained nor "
        "evaluated on; the scorer still gives them probabilities.\n"
    )


def held_out_report(labels: list[int], probabilities: np.ndarray, label_names: list[str]) -> dict:
    """classification_report plus the 95% bootstrap interval of macro-F1 over the test texts."""
    report = classification_report(labels, probabilities, label_names)
    interval = bootstrap_macro_f1(labels, np.asarray(probabilities).argmax(axis=1))
    return {**report, "macro_f1_ci95": [interval.low, interval.high]}


def choose_ensemble_weight(
    validation_labels: list[int], transformer: np.ndarray, baseline: np.ndarray
) -> tuple[float, np.ndarray]:
    """The transformer's share in the mix with the best validation macro-F1 (ties: lower validation
    loss), and the mixed validation probabilities."""
    best: tuple[float, float, float] | None = None
    for weight in ENSEMBLE_WEIGHTS:
        mixed = mix_probabilities([(transformer, weight), (baseline, 1 - weight)])
        score = macro_f1(validation_labels, mixed.argmax(axis=1))
        key = (score, -mean_loss(mixed, validation_labels), weight)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None, "ENSEMBLE_WEIGHTS is not empty"
    weight = best[2]
    return weight, mix_probabilities([(transformer, weight), (baseline, 1 - weight)])


def save_predictions(directory: Path, validation: np.ndarray, test: np.ndarray) -> None:
    """Exactly the probabilities the metrics were computed from: rounding a near-even mix to float32
    can flip its argmax, and a reused version must score as it did."""
    np.savez(
        directory / PREDICTIONS_FILE, validation=np.asarray(validation, np.float64), test=np.asarray(test, np.float64)
    )


def load_predictions(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(directory / PREDICTIONS_FILE, allow_pickle=False) as arrays:
        return arrays["validation"], arrays["test"]


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
    checkpoint_store: UPath | None = None,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    trainer: "Trainer | None" = None,
    retrain_unchanged: bool = False,
) -> FitResult:
    """Split, train the transformer (in process, or through `trainer`), fit the baseline, mix the two
    into an ensemble, evaluate all on the test split and save each as a registry version. When the
    registry already holds the versions of this exact job (same training texts, labels, tokenizer and
    settings), they are taken as they are unless `retrain_unchanged`."""
    splits, dedup = assign_splits(examples, fractions)
    check_window(splits, scheme, min_train_examples)
    sizes = {name: frame.height for name, frame in splits.items()}
    log(
        f"split by text hash: {sizes}; {dedup.duplicate_rows} duplicate rows, "
        f"{dedup.conflicting_texts} conflicting texts, {dedup.unlabelled_rows} unlabelled rows left out"
    )

    def tokenized(name: str) -> TokenizedSet:
        frame = splits[name]
        return TokenizedSet(frame.get_column("input_ids").to_list(), frame.get_column("label").to_list())

    train_set, validation_set, test_set = tokenized("train"), tokenized("validation"), tokenized("test")
    labels = list(scheme.labels)
    job = fingerprint(splits["train"], tokenizer, settings, scheme)
    checkpoints = CheckpointMirror(checkpoint_root / job, None if checkpoint_store is None else checkpoint_store / job)
    test_texts = splits["test"].get_column("review_text").to_list()
    validation_texts = splits["validation"].get_column("review_text").to_list()
    majority = held_out_report(
        test_set.labels, majority_probabilities(train_set.labels, len(test_set.labels), len(labels)), labels
    )
    evaluation = evaluation_fingerprint(splits)
    result = FitResult(
        candidates=[],
        majority=majority,
        dedup=dedup,
        split_sizes=sizes,
        outcome=None,  # type: ignore[arg-type]  # set below
        test_texts=test_texts,
        test_labels=test_set.labels,
        validation_labels=validation_set.labels,
        split_fractions=fractions,
    )

    def report(version: str, kind: str, path: Path, validation: np.ndarray, test: np.ndarray) -> CandidateReport:
        validation_f1 = macro_f1(validation_set.labels, np.asarray(validation).argmax(axis=1))
        return CandidateReport(
            version, kind, path, held_out_report(test_set.labels, test, labels), validation_f1, validation, test
        )

    earlier = None if retrain_unchanged else earlier_fit(registry, job, evaluation, tfidf_settings)
    if earlier is not None:
        log(
            f"training job {job} (same texts, labels, tokenizer and settings) was trained before: reusing "
            + ", ".join(earlier[kind]["version"] for kind in CANDIDATE_KINDS)
            + " (retrain_unchanged=true trains again)"
        )
        for kind in CANDIDATE_KINDS:
            path = Path(earlier[kind]["path"])
            result.candidates.append(report(earlier[kind]["version"], kind, path, *load_predictions(path)))
        result.outcome, result.reused = _outcome_from(earlier[TRANSFORMER]), True
        return result

    base_tokenizer = model_io.load_tokenizer(tokenizer.directory)
    pulled = checkpoints.pull()
    if pulled is not None:
        log(f"copied checkpoint {pulled} of training job {job} from {checkpoints.remote}")
    trainer = trainer or InProcessTrainer()
    model, outcome = trainer(
        tokenizer.directory,
        train_set,
        validation_set,
        labels,
        base_tokenizer.pad_token_id,
        settings,
        checkpoints,
        log,
        on_step,
    )
    result.outcome = outcome

    def predict(data: TokenizedSet) -> np.ndarray:
        return predict_proba(model, data.input_ids, base_tokenizer.pad_token_id, settings.eval_batch_size)

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

    def publish(kind: str, staging: Path, payload: dict, validation: np.ndarray, test: np.ndarray) -> None:
        version = registry.new_version(kind, job)
        candidate = report(version, kind, Path(), validation, test)
        payload = {**common, **payload, "kind": kind, "version": version}
        payload["metrics"] = {"test": candidate.test, "validation_macro_f1": candidate.validation_macro_f1}
        save_predictions(staging, validation, test)
        write_candidate_file(staging, payload)
        (staging / "MODEL_CARD.md").write_text(model_card(kind, version, payload), encoding="utf-8")
        candidate.path = registry.publish(staging, version)
        result.candidates.append(candidate)
        interval = candidate.test["macro_f1_ci95"]
        log(
            f"{kind} {version}: validation macro-F1 {candidate.validation_macro_f1:.4f}, test macro-F1 "
            f"{candidate.test['macro_f1']:.4f} (95% CI {interval[0]:.4f}-{interval[1]:.4f})"
        )

    train_texts = splits["train"].get_column("review_text").to_list()
    baseline = TfidfClassifier.fit(train_texts, train_set.labels, len(labels), tfidf_settings)
    baseline_validation, baseline_test = baseline.predict_proba(validation_texts), baseline.predict_proba(test_texts)
    staging = registry.staging_path()
    baseline.save(staging)
    publish(TFIDF, staging, {"training": asdict(tfidf_settings)}, baseline_validation, baseline_test)

    transformer_validation, transformer_test = predict(validation_set), predict(test_set)
    staging = registry.staging_path()
    model.save_pretrained(str(staging), safe_serialization=True)
    base_tokenizer.save_pretrained(str(staging))
    training = {**asdict(settings), **{k: v for k, v in asdict(outcome).items() if k != "history"}}
    payload = {"max_length": tokenizer.max_length, "training": training, "history": outcome.history}
    publish(TRANSFORMER, staging, payload, transformer_validation, transformer_test)
    checkpoints.discard()  # finished: a later run starts afresh

    weight, ensemble_validation = choose_ensemble_weight(
        validation_set.labels, transformer_validation, baseline_validation
    )
    ensemble_test = mix_probabilities([(transformer_test, weight), (baseline_test, 1 - weight)])
    parts = [
        {"version": result.transformer.version, "kind": TRANSFORMER, "weight": weight},
        {"version": result.baseline.version, "kind": TFIDF, "weight": 1 - weight},
    ]
    staging = registry.staging_path()
    publish(
        ENSEMBLE,
        staging,
        {"parts": parts, "training": {"weight_grid": list(ENSEMBLE_WEIGHTS)}},
        ensemble_validation,
        ensemble_test,
    )
    return result


def champion_on_test(
    registry: ModelRegistry,
    pointer: dict,
    texts: list[str],
    labels: list[int],
    label_names: list[str],
    fractions: SplitFractions,
) -> tuple[Champion, dict | None]:
    """The serving scorer re-scored on today's test split (and its report), or why that comparison
    would be unfair or impossible: another label scheme, a missing or unreadable version, or a
    training split that may hold today's test texts (unknown or other split fractions)."""
    from shopinsight_pipeline.ml.scorers import load_scorer

    version, kind = pointer["version"], pointer["kind"]
    directory = registry.version_path(version)

    def unavailable(why: str) -> tuple[Champion, None]:
        return Champion(version, kind, None, why), None

    try:
        candidate = read_candidate(directory)
        if list(candidate.get("labels", [])) != label_names:
            return unavailable(f"it predicts {candidate.get('labels')}, the label scheme is now {label_names}")
        if candidate.get("split_fractions") != asdict(fractions):
            return unavailable(
                f"it was trained on a split with fractions {candidate.get('split_fractions')}, not "
                f"{asdict(fractions)}, so today's test texts may be among its training texts"
            )
        probabilities = np.asarray(load_scorer(directory).predict_proba(texts))
    except (model_io.ModelDirectoryError, OSError, ValueError, KeyError) as error:
        return unavailable(f"it cannot be loaded: {error}")
    return Champion(version, kind, probabilities.argmax(axis=1)), held_out_report(labels, probabilities, label_names)
