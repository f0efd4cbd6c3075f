"""Baselines every model must beat: the majority class, and TF-IDF character n-grams + logistic regression.

The TF-IDF model is a registered scorer like the transformer, so it is saved in plain formats
(vocabulary and settings as JSON, idf and coefficients as NPZ) and loaded without pickle.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from shopinsight_pipeline.ml.settings import TfidfSettings
from shopinsight_pipeline.ml.text import normalize_text

SETTINGS_FILE = "tfidf.json"
ARRAYS_FILE = "tfidf.npz"

DEFAULT_SETTINGS = TfidfSettings()


def majority_probabilities(train_labels: Sequence[int], count: int, num_classes: int) -> np.ndarray:
    """Always predict the most frequent training class, with certainty."""
    majority = int(np.bincount(np.asarray(train_labels), minlength=num_classes).argmax())
    probabilities = np.zeros((count, num_classes))
    probabilities[:, majority] = 1.0
    return probabilities


class TfidfClassifier:
    """Character n-gram TF-IDF features and a multinomial logistic regression."""

    def __init__(
        self, vectorizer: TfidfVectorizer, coefficients: np.ndarray, intercepts: np.ndarray, settings: TfidfSettings
    ) -> None:
        self.vectorizer = vectorizer
        self.coefficients = coefficients
        self.intercepts = intercepts
        self.settings = settings

    @staticmethod
    def _vectorizer(settings: TfidfSettings, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(settings.ngram_min, settings.ngram_max),
            min_df=1 if vocabulary is not None else settings.min_df,
            max_features=None if vocabulary is not None else settings.max_features,
            sublinear_tf=True,
            preprocessor=normalize_text,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels: Sequence[int], num_classes: int, settings: TfidfSettings = DEFAULT_SETTINGS
    ) -> "TfidfClassifier":
        vectorizer = cls._vectorizer(settings)
        features = vectorizer.fit_transform(texts)
        regression = LogisticRegression(C=settings.c, max_iter=settings.max_iter)
        regression.fit(features, labels)
        # Spread the fitted classes over all classes (a class absent from training gets -inf logits).
        coefficients = np.zeros((num_classes, features.shape[1]), dtype=np.float64)
        intercepts = np.full(num_classes, -np.inf)
        classes = list(regression.classes_)
        if len(classes) == 2:  # sklearn keeps one row for two classes: logit of class 1 vs class 0
            coefficients[classes[1]], intercepts[classes[1]] = regression.coef_[0], regression.intercept_[0]
            intercepts[classes[0]] = 0.0
        else:
            for row, cls_index in enumerate(classes):
                coefficients[cls_index], intercepts[cls_index] = regression.coef_[row], regression.intercept_[row]
        return cls(vectorizer, coefficients, intercepts, settings)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = self.vectorizer.transform(texts) @ self.coefficients.T + self.intercepts
        logits = logits - logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        vocabulary = {term: int(index) for term, index in self.vectorizer.vocabulary_.items()}
        (directory / SETTINGS_FILE).write_text(
            json.dumps({"settings": asdict(self.settings), "vocabulary": vocabulary}, ensure_ascii=False),
            encoding="utf-8",
        )
        np.savez(
            directory / ARRAYS_FILE,
            idf=self.vectorizer.idf_,
            coefficients=self.coefficients,
            intercepts=self.intercepts,
        )

    @classmethod
    def load(cls, directory: Path) -> "TfidfClassifier":
        for name in (SETTINGS_FILE, ARRAYS_FILE):
            if not (directory / name).is_file():
                raise FileNotFoundError(f"TF-IDF scorer {directory} lacks {name}")
        stored = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        settings = TfidfSettings(**stored["settings"])
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            idf, coefficients, intercepts = arrays["idf"], arrays["coefficients"], arrays["intercepts"]
        vectorizer = cls._vectorizer(settings, vocabulary=stored["vocabulary"])
        vectorizer.idf_ = idf
        return cls(vectorizer, coefficients, intercepts, settings)
