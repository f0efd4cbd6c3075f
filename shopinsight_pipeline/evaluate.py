"""Score a labelled review file with the promoted scorer and print the evaluation report.

    python -m shopinsight_pipeline.evaluate FILE [--text-column review_text] [--label-column label]
        [--label-map '{"1": "negative", "5": "positive"}' | --label-map @map.json]
        [--root data | --model-dir PATH] [--json]
    python -m shopinsight_pipeline.evaluate FILE --task aspects [--text-column text]
        [--aspects-column aspects] [--aspects logistics,price,...] [--taxonomy FILE] [--json]

With --task aspects each row's aspects column is a JSON object such as {"logistics": "negative",
"price": "positive"} ({} : no aspect), and the serving aspect tagger (the one aspect_tagger chose in
--root's lake, the taxonomy's lexicon until it has run; each clause's polarity by the promoted
sentiment scorer) is scored: detection precision, recall and
F1 per aspect, macro-F1 with its 95% interval ("macro_f1" in --json), and polarity accuracy and
negative recall on the aspects it found correctly. --aspects restricts both the labels and the
predictions to the aspects an outside file labels.

FILE is a regular CSV or JSON Lines file (by extension, or --format). Labels are the scorer's class names
(negative, positive) or, with --label-map (inline JSON, or @FILE for a JSON object in a file), any values
mapped onto them (e.g. star ratings). The report is the one sentiment_model records: per-class
precision/recall/F1, macro-F1, accuracy, confusion matrix and expected calibration error.

The file is streamed and only its text and label columns are kept, so memory follows those two columns (and
the longest line), not the file's width: the UTF-8 check decodes it chunk by chunk, a CSV header is scanned
field by field for the two columns' positions (a million-column header costs its bytes, not a million
strings) and each row keeps just those two fields; a JSON Lines file keeps two keys of each line. Devices,
FIFOs and directories (or symlinks to them) are refused as "not a regular file" before anything is read.
"""

import argparse
import codecs
import csv
import json
import re
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np

from shopinsight_pipeline.ml.metrics import classification_report

CHUNK_BYTES = 1 << 18  # how much of the file the UTF-8 check decodes at a time
SHOWN_COLUMNS = 20  # found column names a missing-column error lists (a header may have a million)
# One CSV header field, quoted (with "" escapes) or plain, then its comma, or the line end closing the record.
HEADER_FIELD = re.compile(r'(?:"([^"]*(?:""[^"]*)*)"|([^,\r\n]*))(,|\r?\n?\Z)')
FILE_KINDS = [
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
]


class EvaluationInputError(ValueError):
    """The labelled file cannot be evaluated; the message names the file, row or column."""


def require_regular_file(path: Path, role: str = "") -> None:
    """Refuse what is not a regular file before opening it: opening a FIFO blocks, /dev/zero never ends and a
    directory fails obscurely. Symlinks are followed, so a link to one of those is refused too; `role` prefixes
    the message (e.g. "--label-map file ")."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError) as error:
        broken = " (a symlink to a missing target)" if path.is_symlink() else ""
        raise EvaluationInputError(f"{role}{path}: no such file{broken}") from error
    except OSError as error:
        raise EvaluationInputError(f"{role}{path}: cannot read it ({error.strerror})") from error
    if not stat.S_ISREG(mode):
        kind = next((name for is_kind, name in FILE_KINDS if is_kind(mode)), "not a file")
        through = "a symlink to " if path.is_symlink() else ""
        raise EvaluationInputError(f"{role}{path} is not a regular file ({through}{kind})")


def check_utf8_and_not_blank(path: Path) -> None:
    """Decode the file chunk by chunk, never all of it at once, so that a bad byte is reported with its offset in
    the file; refuse a file of nothing but whitespace."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, blank = 0, True
    with path.open("rb") as stream:
        while True:
            chunk = stream.read(CHUNK_BYTES)
            carried = len(decoder.getstate()[0])  # bytes of a character split across the previous chunk's end
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:  # error.object is the carried bytes followed by this chunk
                raise EvaluationInputError(
                    f"{path} is not UTF-8 (invalid byte 0x{error.object[error.start]:02x} at offset "
                    f"{offset - carried + error.start}); re-save it as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)"
                ) from error
            if not chunk:
                break
            blank = blank and not chunk.strip()
            offset += len(chunk)
    if blank:
        raise EvaluationInputError(f"{path} is empty")


def unclosed_quote_line(lines: Iterable[str]) -> int | None:
    """1-based line where a quoted CSV field opens and never closes ("" inside a field is an escaped quote and
    keeps it open), or None when every quote is closed. Takes lines (e.g. an open file) so nothing is held."""
    opened_at, inside = None, False
    for number, line in enumerate(lines, start=1):
        for _ in range(line.count('"')):
            inside = not inside
            if inside:
                opened_at = number
    return opened_at if inside else None


def unclosed_quote_error(path: Path) -> EvaluationInputError | None:
    """The error naming the line of an unmatched quote, read again from the file, or None when there is none."""
    with path.open(encoding="utf-8-sig", newline="") as lines:
        line = unclosed_quote_line(lines)
    if line is None:
        return None
    return EvaluationInputError(f'{path} line {line}: a quoted field opens here and is never closed (an unmatched ")')


def columns_found(names: list[str], total: int | None) -> str:
    """The found columns for an error: all of them when few, else the first SHOWN_COLUMNS and how many there are
    (`total` None: more than shown, count unknown)."""
    if total == len(names):
        return f"its columns are {names}"
    return f"its first {len(names)} columns are {names}" + (" and more" if total is None else f" (of {total})")


def header_record(stream: TextIO) -> tuple[str | None, int]:
    """The CSV header record with its line end (several lines when a quoted name holds a line break; leading
    blank lines skipped) and the lines it took; None when the file has no header. The quote count tells where
    the record ends, so the rest of the stream starts at the first data row."""
    record, lines, inside = "", 0, False
    while line := stream.readline():
        lines += 1
        if not record and line.isspace():  # isspace, not strip: no copy of a huge line
            continue
        record += line
        inside ^= line.count('"') % 2 == 1
        if not inside:
            return record, lines  # not stripped: a copy of a 10 MB header line is 10 MB more
    return record or None, lines


def header_positions(record: str, wanted: tuple[str, ...]) -> tuple[dict[str, int], list[str], int]:
    """Positions of the `wanted` names in a CSV header record (first occurrence), its first SHOWN_COLUMNS names
    and its column count; one field at a time, so a million-column header never becomes a million strings."""
    positions: dict[str, int] = {}
    shown: list[str] = []
    count = 0
    for match in HEADER_FIELD.finditer(record):
        quoted, plain, comma = match.groups()
        name = plain if quoted is None else quoted.replace('""', '"')
        if name in wanted:
            positions.setdefault(name, count)
        if count < SHOWN_COLUMNS:
            shown.append(name)
        count += 1
        if comma != ",":
            break
    return positions, shown, count


def read_csv_columns(path: Path, text_column: str, label_column: str) -> tuple[list[str | None], list[str | None]]:
    """The text and label fields of every data row (empty -> None; blank lines skipped). The header is read
    alone first and a missing column is reported before any row is parsed."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        record, header_lines = header_record(stream)
        if record is None:
            raise EvaluationInputError(f"{path} is empty")
        if record.count('"') % 2:  # a quote in the header never closes: it took the whole file
            raise unclosed_quote_error(path) or EvaluationInputError(f"{path}: cannot parse the header")
        positions, shown, width = header_positions(record, (text_column, label_column))
        missing = [column for column in (text_column, label_column) if column not in positions]
        if missing:
            raise EvaluationInputError(f"{path} has no column {missing}; {columns_found(shown, width)}")
        text_at, label_at = positions[text_column], positions[label_column]
        texts: list[str | None] = []
        labels: list[str | None] = []
        reader = csv.reader(stream, strict=True)
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) > width:
                    raise EvaluationInputError(
                        f"{path} line {header_lines + reader.line_num}: cannot parse as csv: "
                        f"{len(row)} fields, but the header names {width}"
                    )
                texts.append((row[text_at] or None) if text_at < len(row) else None)
                labels.append((row[label_at].strip() or None) if label_at < len(row) else None)
        except csv.Error as error:
            unclosed = unclosed_quote_error(path)
            if unclosed is not None:
                raise unclosed from error
            raise EvaluationInputError(
                f"{path} line {header_lines + reader.line_num}: cannot parse as csv: {error}"
            ) from error
    if not texts:
        raise EvaluationInputError(f"{path} has a header but no rows")
    return texts, labels


def read_jsonl_columns(path: Path, text_column: str, label_column: str) -> tuple[list[str | None], list[str | None]]:
    """The text and label values of every line (absent or null -> None; blank lines skipped); a column is missing
    when no line has that key."""
    texts: list[str | None] = []
    labels: list[str | None] = []
    found: dict[str, None] = {}  # keys in order of first sight, up to one past SHOWN_COLUMNS
    present: set[str] = set()
    with path.open(encoding="utf-8-sig") as stream:
        for number, line in enumerate(stream, start=1):
            if line.isspace():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise EvaluationInputError(
                    f"{path} line {number}: cannot parse as jsonl: {error.msg} (column {error.colno})"
                ) from error
            if not isinstance(record, dict):
                raise EvaluationInputError(f"{path} line {number}: cannot parse as jsonl: not a JSON object")
            for key in record:
                if len(found) > SHOWN_COLUMNS:
                    break
                found.setdefault(key, None)
            present.update(column for column in (text_column, label_column) if column in record)
            text, label = record.get(text_column), record.get(label_column)
            texts.append(text if text is None or isinstance(text, str) else json.dumps(text, ensure_ascii=False))
            if label is not None:  # an object or list (the aspects task's labels) stays JSON
                label = json.dumps(label, ensure_ascii=False) if isinstance(label, dict | list) else str(label).strip()
            labels.append(label)
    if not texts:
        raise EvaluationInputError(f"{path} is empty")
    missing = [column for column in (text_column, label_column) if column not in present]
    if missing:
        names = list(found)
        total = len(names) if len(names) <= SHOWN_COLUMNS else None
        raise EvaluationInputError(f"{path} has no column {missing}; {columns_found(names[:SHOWN_COLUMNS], total)}")
    return texts, labels


def read_labelled_columns(
    path: Path, text_column: str, label_column: str, file_format: str | None = None
) -> tuple[list[str | None], list[str | None]]:
    """The text and label columns of a labelled file, streamed: it must be a regular UTF-8 file with rows; every
    problem raises EvaluationInputError naming the file and the line, row or column."""
    require_regular_file(path)
    check_utf8_and_not_blank(path)
    kind = file_format or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    try:
        if kind == "jsonl":
            return read_jsonl_columns(path, text_column, label_column)
        return read_csv_columns(path, text_column, label_column)
    except OSError as error:  # e.g. permission denied: stat succeeded but open did not
        raise EvaluationInputError(f"{path}: cannot read it ({error.strerror})") from error


def labelled_examples(
    texts: list[str | None],
    raw_labels: list[str | None],
    path: Path,
    text_column: str,
    label_column: str,
    labels: list[str],
    label_map: dict[str, str] | None = None,
) -> tuple[list[str], list[int]]:
    """Texts and class indices; every problem names the file, the row (1-based data row) and the value."""
    mapping = label_map or {label: label for label in labels}
    unknown_targets = sorted(set(mapping.values()) - set(labels))
    if unknown_targets:
        raise EvaluationInputError(f"--label-map maps to {unknown_targets}, which are not classes {labels}")
    kept_texts, label_ids = [], []
    for row, (text, value) in enumerate(zip(texts, raw_labels, strict=True), start=1):
        if text is None or not text.strip():
            raise EvaluationInputError(f"{path} row {row}: empty {text_column!r}")
        if value not in mapping:
            raise EvaluationInputError(
                f"{path} row {row}: unknown label {value!r} in {label_column!r}; expected one of {sorted(mapping)}"
                + ("" if label_map else " (use --label-map to map other values onto them)")
            )
        kept_texts.append(text)
        label_ids.append(labels.index(mapping[value]))
    return kept_texts, label_ids


def read_label_map(argument: str | None) -> dict[str, str] | None:
    """--label-map as a dict: inline JSON, or '@FILE' for a JSON object kept in a file (long maps, shared between
    runs). A missing, unreadable or invalid file is named in the error."""
    if not argument:
        return None
    if argument.startswith("@"):
        source = Path(argument[1:])
        where = f"--label-map file {source}"
        if not argument[1:]:
            raise EvaluationInputError("--label-map @ needs a file name after the @")
        require_regular_file(source, role="--label-map file ")
        try:
            text = source.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise EvaluationInputError(f"{where} is not UTF-8") from error
        except OSError as error:
            raise EvaluationInputError(f"{where}: cannot read it ({error.strerror})") from error
    else:
        where, text = "--label-map", argument
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise EvaluationInputError(f"{where} is not valid JSON ({error})") from error
    if not isinstance(mapping, dict):
        raise EvaluationInputError(f"{where} must be a JSON object")
    not_names = [value for value in mapping.values() if not isinstance(value, str)]
    if not_names:
        raise EvaluationInputError(f"{where} must map onto class names (strings), not {not_names[:5]}")
    return {str(key): value for key, value in mapping.items()}


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
    raw_texts, raw_labels = read_labelled_columns(path, text_column, label_column, file_format)
    texts, truth = labelled_examples(raw_texts, raw_labels, path, text_column, label_column, labels, label_map)
    probabilities = np.asarray(scorer.predict_proba(texts))
    report = classification_report(truth, probabilities, labels)
    interval = bootstrap_macro_f1(truth, probabilities.argmax(axis=1))
    report["macro_f1_ci95"] = [interval.low, interval.high]
    report["scorer"] = {"path": str(model_dir), "kind": scorer.kind}
    return report


def evaluate_aspects_file(
    model_dir: Path,
    path: Path,
    text_column: str = "text",
    aspects_column: str = "aspects",
    restrict: list[str] | None = None,
    file_format: str | None = None,
    taxonomy_file: str | None = None,
    root: str | None = None,
) -> dict:
    """The serving aspect tagger's report on a file labelled with aspects and their polarity: the one
    aspect_tagger chose in `root`'s lake (the lexicon when there is none or it chose the lexicon)."""
    from datetime import date

    import polars as pl

    from shopinsight_pipeline.aspects.evaluation import aspect_report, aspects_by_review, parse_aspect_labels
    from shopinsight_pipeline.aspects.lexicon import LexiconTagger
    from shopinsight_pipeline.aspects.serving import serving_tagger
    from shopinsight_pipeline.aspects.tagging import tag_reviews
    from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
    from shopinsight_pipeline.ml.scorers import load_scorer
    from shopinsight_pipeline.storage import LakeStorage

    taxonomy = load_taxonomy(taxonomy_file)
    unknown = sorted(set(restrict or []) - set(taxonomy.keys))
    if unknown:
        raise EvaluationInputError(f"--aspects names {unknown}, which are not aspects {list(taxonomy.keys)}")
    aspects = [key for key in taxonomy.keys if not restrict or key in restrict]
    texts, raw_labels = read_labelled_columns(path, text_column, aspects_column, file_format)
    try:
        gold = parse_aspect_labels(raw_labels, taxonomy.keys)
    except ValueError as error:
        raise EvaluationInputError(f"{path} {error}") from error
    ids = [str(row) for row in range(len(texts))]
    reviews = pl.DataFrame(
        {
            "review_id": ids,
            "product_id": [""] * len(ids),
            "review_date": [date(2000, 1, 1)] * len(ids),
            "review_text": pl.Series([text or "" for text in texts], dtype=pl.String),
        }
    )
    lexicon = LexiconTagger(taxonomy)
    tagger = lexicon if root is None else serving_tagger(LakeStorage(root=root), taxonomy)
    tagged = tag_reviews(reviews, tagger, load_scorer(model_dir), model_dir.name, masker=lexicon)
    predicted = aspects_by_review(tagged, ids)
    keep = set(aspects)
    report = aspect_report(
        [{k: v for k, v in row.items() if k in keep} for row in gold],
        [{k: v for k, v in row.items() if k in keep} for row in predicted],
        aspects,
    )
    report["tagger"] = {"kind": tagger.kind, "version": tagger.version, "taxonomy": taxonomy.source}
    report["scorer"] = {"path": str(model_dir)}
    return report


def format_aspect_report(report: dict) -> str:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    low, high = report["macro_f1_ci95"]
    lines = [
        f"reviews {report['reviews']}   macro-F1 {report['macro_f1']:.4f} (95% CI {low:.4f}-{high:.4f}) over "
        f"{len(report['aspects_scored'])} aspects   polarity accuracy {number(report['polarity_accuracy'])}   "
        f"negative recall {number(report['negative_recall'])} ({report['polarity_judged']} found correctly)",
        "",
        f"{'aspect':<20}{'precision':>10}{'recall':>10}{'F1':>10}{'labelled':>10}{'found':>10}",
    ]
    for aspect, values in report["per_aspect"].items():
        lines.append(
            f"{aspect:<20}{number(values['precision']):>10}{number(values['recall']):>10}{number(values['f1']):>10}"
            f"{values['support']:>10}{values['predicted']:>10}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shopinsight_pipeline.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--task", choices=["sentiment", "aspects"], default="sentiment")
    parser.add_argument("--text-column", help="default: review_text (sentiment), text (aspects)")
    parser.add_argument("--label-column", default="label")
    parser.add_argument(
        "--label-map",
        help='JSON object mapping file labels to classes, e.g. \'{"1": "negative"}\', or @FILE to read it from a file',
    )
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file extension")
    parser.add_argument("--root", default="data", help="data root whose promoted scorer to use (default: data)")
    parser.add_argument("--model-dir", help="a registry version folder to use instead of the promoted one")
    parser.add_argument("--aspects-column", default="aspects", help="--task aspects: the JSON object column")
    parser.add_argument("--aspects", help="--task aspects: score only these aspects (comma-separated)")
    parser.add_argument("--taxonomy", help="--task aspects: a taxonomy YAML instead of the shipped one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from shopinsight_pipeline.aspects.taxonomy import TaxonomyError

    try:
        model_dir = resolve_model_dir(args.root, args.model_dir)
        if args.task == "aspects":
            restrict = [name.strip() for name in args.aspects.split(",") if name.strip()] if args.aspects else None
            report = evaluate_aspects_file(
                model_dir,
                args.file,
                args.text_column or "text",
                args.aspects_column,
                restrict,
                args.format,
                args.taxonomy,
                args.root,
            )
        else:
            label_map = read_label_map(args.label_map)
            text_column = args.text_column or "review_text"
            report = evaluate_file(model_dir, args.file, text_column, args.label_column, label_map, args.format)
    except (EvaluationInputError, FileNotFoundError, TaxonomyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.task == "aspects":
        print(f"tagger: {report['tagger']['kind']} {report['tagger']['version']}; polarity scorer: {model_dir}")
        print(f"file: {args.file}\n")
        print(format_aspect_report(report))
    else:
        print(f"scorer: {model_dir} ({report['scorer']['kind']})\nfile: {args.file}\n")
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
