"""Score a labelled review file with the promoted scorer and print the evaluation report.

    python -m shopinsight_pipeline.evaluate FILE [--text-column review_text] [--label-column label]
        [--label-map '{"1": "negative", "5": "positive"}'] [--root data | --model-dir PATH] [--json]

FILE is CSV or JSON Lines (by extension, or --format). Labels are the scorer's class names (negative,
positive) or, with --label-map, any values mapped onto them (e.g. star ratings). The report is
the one sentiment_model records: per-class precision/recall/F1, macro-F1, accuracy, confusion
matrix and expected calibration error.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

from shopinsight_pipeline.ml.metrics import classification_report


class EvaluationInputError(ValueError):
    """The labelled file cannot be evaluated; the message names the file, row or column."""


def read_labelled_file(path: Path, file_format: str | None = None) -> pl.DataFrame:
    if not path.is_file():
        raise EvaluationInputError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EvaluationInputError(
            f"{path} is not UTF-8 (invalid byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "re-save it as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)"
        ) from error
    if not raw.strip():
        raise EvaluationInputError(f"{path} is empty")
    kind = file_format or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    try:
        if kind == "jsonl":
            frame = pl.read_ndjson(raw, infer_schema_length=None)
        else:
            frame = pl.read_csv(raw, infer_schema=False)
    except (pl.exceptions.ComputeError, ValueError) as error:
        line = unclosed_quote_line(raw.decode("utf-8")) if kind == "csv" else None
        if line is not None:
            raise EvaluationInputError(
                f'{path} line {line}: a quoted field opens here and is never closed (an unmatched ")'
            ) from error
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EvaluationInputError(f"{path}: cannot parse as {kind}: {first}") from error
    if frame.height == 0:
        raise EvaluationInputError(f"{path} has a header but no rows")
    return frame


def unclosed_quote_line(text: str) -> int | None:
    """1-based line where a quoted CSV field opens and never closes ("" inside a field is an
    escaped quote and keeps it open), or None when every quote is closed."""
    opened_at, inside = None, False
    for number, line in enumerate(text.splitlines(), start=1):
        for character in line:
            if character == '"':
                inside = not inside
                if inside:
                    opened_at = number
    return opened_at if inside else None


def labelled_examples(
    frame: pl.DataFrame,
    path: Path,
    text_column: str,
    label_column: str,
    labels: list[str],
    label_map: dict[str, str] | None = None,
) -> tuple[list[str], list[int]]:
    """Texts and class indices; every problem names the file, the row (1-based data row) and the value."""
    missing = [column for column in (text_column, label_column) if column not in frame.columns]
    if missing:
        raise EvaluationInputError(f"{path} has no column {missing}; its columns are {frame.columns}")
    texts = frame.get_column(text_column).cast(pl.String).to_list()
    raw_labels = [None if value is None else str(value).strip() for value in frame.get_column(label_column).to_list()]
    mapping = label_map or {label: label for label in labels}
    unknown_targets = sorted(set(mapping.values()) - set(labels))
    if unknown_targets:
        raise EvaluationInputError(f"--label-map maps to {unknown_targets}, which are not classes {labels}")
    label_ids = []
    for row, (text, value) in enumerate(zip(texts, raw_labels, strict=True), start=1):
        if text is None or not text.strip():
            raise EvaluationInputError(f"{path} row {row}: empty {text_column!r}")
        if value not in mapping:
            raise EvaluationInputError(
                f"{path} row {row}: unknown label {value!r} in {label_column!r}; expected one of {sorted(mapping)}"
                + ("" if label_map else " (use --label-map to map other values onto them)")
            )
        label_ids.append(labels.index(mapping[value]))
    return texts, label_ids


def format_report(report: dict) -> str:
    labels = report["labels"]
    lines = [
        f"examples {report['examples']}   accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}"
        + (" (95% CI {:.4f}-{:.4f})".format(*report["macro_f1_ci95"]) if "macro_f1_ci95" in report else "")
        + f"   ECE {report['ece']:.4f}",
        "",
        f"{'class':<12}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}",
    ]
    for label in labels:
        values = report["per_class"][label]
        lines.append(
            f"{label:<12}{values['precision']:>10.4f}{values['recall']:>10.4f}{values['f1']:>10.4f}{values['support']:>10}"
        )
    lines += ["", "confusion matrix (rows: true, columns: predicted)", " " * 12 + "".join(f"{x:>10}" for x in labels)]
    for label, counts in zip(labels, report["confusion_matrix"], strict=True):
        lines.append(f"{label:<12}" + "".join(f"{count:>10}" for count in counts))
    return "\n".join(lines)


def resolve_model_dir(root: str, model_dir: str | None) -> Path:
    if model_dir:
        return Path(model_dir)
    from shopinsight_pipeline.ml.registry import ModelRegistry
    from shopinsight_pipeline.storage import LakeStorage

    storage = LakeStorage(root=root)
    registry = ModelRegistry(storage.sentiment_registry_path)
    registry.pull_champion(storage.sentiment_registry_store)
    return Path(registry.require_champion()["path"])


def evaluate_file(
    model_dir: Path,
    path: Path,
    text_column: str = "review_text",
    label_column: str = "label",
    label_map: dict[str, str] | None = None,
    file_format: str | None = None,
) -> dict:
    """The report of the scorer in `model_dir` on a labelled file, with the 95% bootstrap interval of
    its macro-F1; raises EvaluationInputError naming the file, row or column of bad input."""
    from shopinsight_pipeline.ml.scorers import load_scorer
    from shopinsight_pipeline.ml.significance import bootstrap_macro_f1

    scorer = load_scorer(model_dir)
    labels = list(scorer.labels)
    frame = read_labelled_file(path, file_format)
    texts, truth = labelled_examples(frame, path, text_column, label_column, labels, label_map)
    probabilities = np.asarray(scorer.predict_proba(texts))
    report = classification_report(truth, probabilities, labels)
    interval = bootstrap_macro_f1(truth, probabilities.argmax(axis=1))
    report["macro_f1_ci95"] = [interval.low, interval.high]
    report["scorer"] = {"path": str(model_dir), "kind": scorer.kind}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shopinsight_pipeline.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--text-column", default="review_text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--label-map", help='JSON object mapping file labels to classes, e.g. \'{"1": "negative"}\'')
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    parser.add_argument("--root", default="data", help="data root whose promoted scorer to use (default: data)")
    parser.add_argument("--model-dir", help="a registry version folder to use instead of the promoted one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    try:
        label_map = json.loads(args.label_map) if args.label_map else None
        if label_map is not None and not isinstance(label_map, dict):
            raise EvaluationInputError("--label-map must be a JSON object")
        model_dir = resolve_model_dir(args.root, args.model_dir)
        report = evaluate_file(
            model_dir,
            args.file,
            args.text_column,
            args.label_column,
            {str(k): v for k, v in label_map.items()} if label_map else None,
            args.format,
        )
    except (EvaluationInputError, FileNotFoundError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"scorer: {model_dir} ({report['scorer']['kind']})\nfile: {args.file}\n")
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
