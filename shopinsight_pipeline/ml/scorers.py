"""Scorers: anything that turns review texts into class probabilities, loaded from a registry version.

Three kinds are registered: a fine-tuned transformer, the TF-IDF + logistic regression baseline,
and an ensemble that mixes the probabilities of registered versions with fixed weights (its folder
holds only candidate.json naming its parts). All read texts, so the same held-out split,
`review_scores` and the evaluate command treat them alike.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.baseline import TfidfClassifier
from shopinsight_pipeline.ml.inference import predict_proba

CANDIDATE_FILE = "candidate.json"
TRANSFORMER = "transformer"
TFIDF = "tfidf_logreg"
ENSEMBLE = "ensemble"
PREDICTIONS_FILE = "predictions.npz"  # a candidate's validation and test probabilities, for reuse and the gate


class Scorer(Protocol):
    kind: str
    labels: tuple[str, ...]

    @property
    def truncated(self) -> int:
        """Texts cut at the model's length limit so far (0 for scorers without a limit)."""
        ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class TextTokenizer:
    """Tokenizes texts for a model, counting those cut at the model's length limit."""

    tokenizer: Any  # a transformers tokenizer
    max_length: int

    def __call__(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Token ids per text (at most max_length) and whether each text was cut."""
        if not texts:  # the fast tokenizer fails on an empty batch
            return [], []
        # No truncation here so cut texts can be counted; verbose=False drops the "longer than" warning.
        # Only the ids: the attention mask and token types are implied by the length and cost list building.
        encoded = self.tokenizer(
            list(texts),
            truncation=False,
            add_special_tokens=True,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        return [self.clip(ids) for ids in encoded], [len(ids) > self.max_length for ids in encoded]

    def clip(self, ids: list[int]) -> list[int]:
        """Keep the first max_length - 1 tokens and the closing special token."""
        return ids if len(ids) <= self.max_length else [*ids[: self.max_length - 1], ids[-1]]


class TransformerScorer:
    kind = TRANSFORMER

    def __init__(
        self, directory: Path, labels: Sequence[str], max_length: int, batch_size: int = 64, device: str | None = None
    ) -> None:
        self.tokenizer = model_io.load_tokenizer(directory)
        self.model = model_io.load_model(directory)
        if self.model.config.num_labels != len(labels):
            raise model_io.ModelDirectoryError(
                f"model in {directory} has {self.model.config.num_labels} classes, "
                f"its candidate file names {len(labels)}"
            )
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        self.labels = tuple(labels)
        self.batch_size = batch_size
        self.encode = TextTokenizer(self.tokenizer, max_length)
        self.truncated = 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        sequences, truncated = self.encode(texts)
        self.truncated += sum(truncated)
        return predict_proba(self.model, sequences, self.tokenizer.pad_token_id, self.batch_size, self.device)


class TfidfScorer:
    kind = TFIDF

    def __init__(self, directory: Path, labels: Sequence[str]) -> None:
        self.classifier = TfidfClassifier.load(directory)
        self.labels = tuple(labels)
        self.truncated = 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.classifier.predict_proba(texts)


def mix_probabilities(parts: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Weighted mean of class probabilities; the weights must sum to 1 so the rows stay distributions."""
    total = sum(weight for _, weight in parts)
    if not parts or abs(total - 1.0) > 1e-6 or any(weight < 0 for _, weight in parts):
        raise ValueError(f"ensemble weights must be non-negative and sum to 1, got {[w for _, w in parts]}")
    return np.sum([weight * np.asarray(probabilities, dtype=np.float64) for probabilities, weight in parts], axis=0)


class EnsembleScorer:
    kind = ENSEMBLE

    def __init__(self, parts: Sequence[tuple["Scorer", float]], labels: Sequence[str]) -> None:
        for scorer, _ in parts:
            if tuple(scorer.labels) != tuple(labels):
                raise model_io.ModelDirectoryError(
                    f"ensemble part {scorer.kind} predicts {list(scorer.labels)}, the ensemble {list(labels)}"
                )
        self.parts = list(parts)
        self.labels = tuple(labels)

    @property
    def truncated(self) -> int:
        return max((getattr(scorer, "truncated", 0) for scorer, _ in self.parts), default=0)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return mix_probabilities([(scorer.predict_proba(texts), weight) for scorer, weight in self.parts])


def read_candidate(directory: Path) -> dict:
    path = directory / CANDIDATE_FILE
    if not path.is_file():
        raise model_io.ModelDirectoryError(
            f"{directory} is not a registered model version: {CANDIDATE_FILE} is missing"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_scorer(directory: Path, batch_size: int = 64, device: str | None = None) -> Scorer:
    """The scorer saved in a registry version directory, whatever its kind."""
    candidate = read_candidate(directory)
    if candidate["kind"] == TRANSFORMER:
        return TransformerScorer(directory, candidate["labels"], candidate["max_length"], batch_size, device)
    if candidate["kind"] == TFIDF:
        return TfidfScorer(directory, candidate["labels"])
    if candidate["kind"] == ENSEMBLE:
        parts = []
        for part in candidate["parts"]:  # sibling versions of the same registry
            part_dir = directory.parent / part["version"]
            if not part_dir.is_dir():
                raise model_io.ModelDirectoryError(f"ensemble {directory} needs version {part_dir}, which is missing")
            parts.append((load_scorer(part_dir, batch_size, device), float(part["weight"])))
        return EnsembleScorer(parts, candidate["labels"])
    raise model_io.ModelDirectoryError(f"{directory}: unknown scorer kind {candidate['kind']!r}")
