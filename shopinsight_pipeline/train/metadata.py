"""What `sentiment_model` tells the operator: the candidates, the gate's decision and evidence,
confusion matrices, reliability and learning curves, as Dagster metadata and the gate's check."""

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from shopinsight_pipeline import charts
from shopinsight_pipeline.ml.fit import FitResult
from shopinsight_pipeline.ml.metrics import confusion_markdown
from shopinsight_pipeline.ml.registry import Decision
from shopinsight_pipeline.ml.scorers import ENSEMBLE, TRANSFORMER, read_candidate
from shopinsight_pipeline.ml.training_run import GateOutcome, candidates_table, versus_baseline
from shopinsight_pipeline.train.config import GATE


def ensemble_weight(result: FitResult) -> float:
    parts = read_candidate(result.candidate(ENSEMBLE).path)["parts"]
    return next(part["weight"] for part in parts if part["kind"] == TRANSFORMER)


def gate_numbers(decision: Decision) -> dict:
    """The paired comparison's numbers as metadata (absent when there was no champion to compare)."""
    names = ("difference", "low", "high", "minimum_detectable", "examples", "share_not_better")
    return {f"gate_{name}": decision.evidence[name] for name in names if name in decision.evidence}


def gate_check(outcome: GateOutcome) -> AssetCheckResult:
    decision = outcome.decision
    return AssetCheckResult(
        check_name=GATE,
        passed=decision.passed,
        # Significantly worse than the champion: worth a look, but the champion keeps serving.
        severity=AssetCheckSeverity.WARN,
        metadata={
            "decision": MetadataValue.md(decision.reason),
            "challenger": decision.challenger,
            "serving_version": outcome.serving["served_version"],
            "evaluated_version": outcome.serving["version"],
            **gate_numbers(decision),
        },
    )


def model_metadata(outcome: GateOutcome, rounds: int) -> dict:
    result, champion, champion_report, decision, serving = (
        outcome.result,
        outcome.previous,
        outcome.previous_report,
        outcome.decision,
        outcome.serving,
    )
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
    fitted = result.outcome
    refit = outcome.refit
    return {
        "serving_version": serving["served_version"],
        "evaluated_version": serving["version"],
        "serving_kind": serving["kind"],
        "serving_path": serving["path"],
        # the challenger is significantly worse than the champion: alert_on_refused_challenger tells on-call
        "challenger_refused_as_worse": not decision.passed,
        "refit": MetadataValue.md(refit_summary(refit)),
        "reused_earlier_training": result.reused,
        "decision": MetadataValue.md(decision.reason),
        "gate_evidence": MetadataValue.json(decision.evidence),
        "candidates": MetadataValue.md(candidates_table(rows)),
        "confusion_matrices": MetadataValue.md(confusion),
        "reliability": MetadataValue.md(charts.markdown_image(reliability, "reliability")),
        "learning_curve": MetadataValue.md(
            charts.markdown_image(charts.learning_curve(fitted.history), "learning curve")
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
        "train_steps": fitted.steps,
        "best_step": fitted.best_step,
        "stopped_early": fitted.stopped_early,
        "resumed_from_step": fitted.resumed_from_step,
        "train_examples_per_second": round(fitted.examples_per_second, 2),
        "train_seconds": round(fitted.train_seconds, 1),
        "device": fitted.device,
        "mixed_precision": fitted.mixed_precision,
    }


def refit_summary(refit) -> str:
    """What serves and why: the refit on every label, or the split version and the reason."""
    if refit is None:
        return "refit off: the evaluated split version serves"
    if refit.failed:
        return f"refit of {refit.refit_of} failed ({refit.failed}): the split version {refit.refit_of} serves"
    made = "reused (this window's refit existed)" if refit.reused else f"fitted in {refit.seconds:.0f} s"
    return (
        f"{refit.version} serves: {refit.refit_of}'s recipe refit on all {refit.texts} labelled distinct texts of the "
        f"window ({refit.split_train_texts} in its training split), {made}. Its quality numbers are "
        f"{refit.refit_of}'s; the next gate compares with {refit.refit_of}."
    )
