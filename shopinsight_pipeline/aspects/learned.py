"""A learned aspect tagger: TF-IDF character n-grams and one logistic regression per aspect,
trained on clauses the lexicon labelled (weak supervision), added to the lexicon's own findings.

Trained on the lexicon's labels as they are, a classifier would learn the seed words and nothing
else: the lexicon again, with more mistakes. So in every training clause the seed words are masked
(replaced by one placeholder character) before the features are made, and the classifier must learn
the words around them: "太慢了，等了一周" teaches logistics only once "物流" is hidden. At serving the
clause is read whole; the lexicon's findings stay (it is precise on its seeds) and the classifier
adds the aspects it finds with a probability of at least `threshold`.

Clauses the lexicon leaves unlabelled are the negatives, though some of them do talk about an
aspect (in words the lexicon lacks): the classifier learns to be cautious, and `threshold` (chosen
on the hand-labelled dev half) decides how much it may add. Whether it may serve at all is the
gate's decision on the hand-labelled test half (evaluation.paired_macro_f1).
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from upath import UPath

from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.taxonomy import Taxonomy

TFIDF_OVR = "tfidf_ovr"
MASK = "\u25a1"  # □: where a seed word stood
SETTINGS_FILE, ARRAYS_FILE = "aspect_tagger.json", "aspect_tagger.npz"


@dataclass(frozen=True)
class LearnedTaggerSettings:
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2
    max_features: int = 100_000
    c: float = 1.0  # inverse regularisation strength
    threshold: float = 0.5  # a probability at least this adds the aspect to the lexicon's
    min_positive_clauses: int = 20  # an aspect with fewer weakly labelled clauses gets no classifier
    seed: int = 0


@dataclass(frozen=True)
class TaggerGateSettings:
    """aspects/gate.py's: which thresholds the dev half tries and how sure the test half must be."""

    thresholds: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    confidence: float = 0.95
    rounds: int = 2000


class LearnedTagger:
    kind = TFIDF_OVR

    def __init__(
        self,
        lexicon: LexiconTagger,
        vocabulary: dict[str, int],
        idf: np.ndarray,
        coefficients: np.ndarray,  # one row per aspect in `aspects`
        intercepts: np.ndarray,
        aspects: Sequence[str],
        settings: LearnedTaggerSettings,
    ) -> None:
        self.lexicon = lexicon
        self.aspects = list(aspects)
        self.settings = settings
        self.coefficients, self.intercepts = coefficients, intercepts
        self.vectorizer = _vectorizer(settings, vocabulary)
        self.vectorizer.idf_ = idf
        self.version = f"{TFIDF_OVR}-{lexicon.version}"

    @classmethod
    def fit(
        cls, clauses: Sequence[str], lexicon: LexiconTagger, settings: LearnedTaggerSettings = LearnedTaggerSettings()
    ) -> "LearnedTagger":
        """Train on distinct clauses labelled by `lexicon`, seed words masked."""
        from sklearn.linear_model import LogisticRegression

        distinct = list(dict.fromkeys(clause for clause in clauses if clause))
        labels = lexicon.tag(distinct)
        masked = [lexicon.mask_with(clause, MASK) for clause in distinct]
        vectorizer = _vectorizer(settings)
        features = vectorizer.fit_transform(masked)
        aspects, rows, intercepts = [], [], []
        for aspect in lexicon.taxonomy.keys:
            target = np.array([aspect in found for found in labels])
            if target.sum() < settings.min_positive_clauses or target.all():
                continue
            model = LogisticRegression(C=settings.c, max_iter=1000, class_weight="balanced", random_state=settings.seed)
            model.fit(features, target)
            aspects.append(aspect)
            rows.append(model.coef_[0].astype(np.float32))
            intercepts.append(float(model.intercept_[0]))
        width = features.shape[1]
        coefficients = np.vstack(rows) if rows else np.zeros((0, width), dtype=np.float32)
        return cls(
            lexicon,
            dict(vectorizer.vocabulary_),
            vectorizer.idf_.astype(np.float32),
            coefficients,
            np.asarray(intercepts, dtype=np.float32),
            aspects,
            settings,
        )

    def at_threshold(self, threshold: float) -> "LearnedTagger":
        """The same fitted tagger adding what it finds with a probability of at least `threshold`."""
        return LearnedTagger(
            self.lexicon,
            self.vectorizer.vocabulary_,
            self.vectorizer.idf_,
            self.coefficients,
            self.intercepts,
            self.aspects,
            replace(self.settings, threshold=threshold),
        )

    def probabilities(self, clauses: Sequence[str]) -> np.ndarray:
        """P(aspect) per clause (rows) and learned aspect (columns), read whole (no masking)."""
        if not clauses or not self.aspects:
            return np.zeros((len(clauses), len(self.aspects)), dtype=np.float32)
        scores = self.vectorizer.transform(list(clauses)) @ self.coefficients.T + self.intercepts
        return 1.0 / (1.0 + np.exp(-np.asarray(scores)))

    def tag(self, clauses: Sequence[str]) -> list[list[str]]:
        """The lexicon's aspects of each clause, and those the classifier adds, in taxonomy order."""
        return with_learned(self.lexicon, clauses, self.probabilities(clauses), self.aspects, self.settings.threshold)

    def save(self, directory: "Path | UPath") -> None:
        """Plain formats (JSON and NPZ), loaded without pickle; `directory` may be on an object store."""
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "kind": TFIDF_OVR,
            "aspects": self.aspects,
            "vocabulary": {term: int(index) for term, index in self.vectorizer.vocabulary_.items()},
            "settings": asdict(self.settings),
            "taxonomy_version": self.lexicon.taxonomy.version,
        }
        (directory / SETTINGS_FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        with (directory / ARRAYS_FILE).open("wb") as arrays:
            np.savez(arrays, idf=self.vectorizer.idf_, coefficients=self.coefficients, intercepts=self.intercepts)

    @classmethod
    def load(cls, directory: Path, taxonomy: Taxonomy) -> "LearnedTagger":
        payload = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        if payload["taxonomy_version"] != taxonomy.version:
            raise ValueError(
                f"{directory} was trained with taxonomy v{payload['taxonomy_version']}, the taxonomy is now "
                f"v{taxonomy.version}: train the aspect tagger again"
            )
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            idf, coefficients, intercepts = arrays["idf"], arrays["coefficients"], arrays["intercepts"]
        return cls(
            LexiconTagger(taxonomy),
            {str(key): int(value) for key, value in payload["vocabulary"].items()},
            idf,
            coefficients,
            intercepts,
            payload["aspects"],
            LearnedTaggerSettings(**payload["settings"]),
        )


def with_learned(
    lexicon: LexiconTagger, clauses: Sequence[str], probabilities: np.ndarray, aspects: Sequence[str], threshold: float
) -> list[list[str]]:
    """Each clause's aspects: the lexicon's, and every learned aspect (a column of `probabilities`)
    at `threshold` or above, in taxonomy order. Every learned tagger adds to the lexicon this way."""
    found = [set(named) for named in lexicon.tag(clauses)]
    for row, column in zip(*np.nonzero(probabilities >= threshold), strict=True):
        found[row].add(aspects[column])
    order = lexicon.taxonomy.keys
    return [[key for key in order if key in named] for named in found]


def _vectorizer(settings: LearnedTaggerSettings, vocabulary: dict[str, int] | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(settings.ngram_min, settings.ngram_max),
        min_df=1 if vocabulary is not None else settings.min_df,
        max_features=None if vocabulary is not None else settings.max_features,
        sublinear_tf=True,
        lowercase=True,
        vocabulary=vocabulary,
        dtype=np.float32,
    )
