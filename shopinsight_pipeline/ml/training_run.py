"""One `sentiment_model` run without Dagster: the window's examples, every candidate fitted and
evaluated on one split (`fit.fit_candidates`), the champion re-scored on today's test split, and
the champion/challenger gate. The asset (`train/assets.py`) only wires storage, config and metadata
around `train_and_gate`, so the whole run is testable with a registry folder and a trainer.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.ml.fit import (
    FitResult,
    TokenizerInfo,
    Trainer,
    TrainingDataError,
    champion_on_test,
    fit_candidates,
)
from shopinsight_pipeline.ml.refit import RefitOutcome, refit_champion
from shopinsight_pipeline.ml.registry import Candidate, Decision, ModelRegistry
from shopinsight_pipeline.ml.settings import SentimentTrainingSettings
from shopinsight_pipeline.ml.shards import check_tokenizer
from shopinsight_pipeline.ml.significance import paired_bootstrap
from shopinsight_pipeline.ml.text import LabelScheme


@dataclass
class GateOutcome:
    """What a run fitted, what it compared against and what the gate decided."""

    result: FitResult
    previous: dict | None  # the champion pointer before this run (None: a first run)
    previous_report: dict | None  # the previous champion re-scored on today's test split, if it could be
    decision: Decision
    serving: dict  # the champion pointer after the gate (and the refit)
    refit: RefitOutcome | None = None  # the champion refit on every label of the window; None: refit off


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


def train_and_gate(
    examples: pl.DataFrame,
    tokenizer: TokenizerInfo,
    scheme: LabelScheme,
    settings: SentimentTrainingSettings,
    registry: ModelRegistry,
    checkpoints: Path,
    trainer: Trainer,
    checkpoint_store=None,
    log: Callable[[str], None] = print,
) -> GateOutcome:
    """Fit the candidates on `examples`, compare the best with the champion's evaluated version on the
    same test texts, promote it when the gate says so (the registry's pointer moves only then), and
    serve the champion refit on every labelled distinct text of the window (`settings.refit`)."""
    result = fit_candidates(
        examples,
        tokenizer,
        scheme,
        settings.train,
        settings.tfidf,
        settings.split,
        registry,
        checkpoints,
        settings.min_train_examples,
        checkpoint_store=checkpoint_store,
        log=log,
        trainer=trainer,
        retrain_unchanged=settings.retrain_unchanged,
    )
    champion, previous_report = None, None
    previous = registry.champion()
    if previous is not None:
        champion, previous_report = champion_on_test(
            registry, previous, result.test_texts, result.test_labels, list(scheme.labels), result.split_fractions
        )
    decision = registry.gate(
        [
            Candidate(c.version, c.kind, c.validation_probabilities.argmax(axis=1), c.test_probabilities.argmax(axis=1))
            for c in result.candidates
        ],
        champion,
        result.validation_labels,
        result.test_labels,
        settings.gate_confidence,
        settings.bootstrap_rounds,
    )
    log(decision.reason)
    refit = None
    if settings.refit:
        refit = refit_champion(registry, examples, tokenizer, scheme, settings.split, trainer, checkpoints, log)
    return GateOutcome(result, previous, previous_report, decision, registry.require_champion(), refit)


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
