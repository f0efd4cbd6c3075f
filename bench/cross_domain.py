"""Every registered sentiment candidate of a lake on outside labelled reviews, beside its in-sample test score.

    .venv/bin/python bench/cross_domain.py [--root data] [--eval ../shared/eval/waimai_10k.csv]
        [--text-column review] [--label-column label] [--label-map '{"1": "positive", "0": "negative"}']
        [--limit 0] [--latest-job]

The outside set (takeaway-food reviews by default) is never trained on: it shows how each scorer
carries over to another domain, where the in-sample test split cannot. Each row goes through the
`evaluate` command's code path (`evaluate_file`), with 95% bootstrap intervals on both sides. A
refit version (issue 29: the champion's recipe fitted on every label of the window) is then compared
with the split version it was refit from, paired on the same outside texts.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from shopinsight_pipeline.evaluate import evaluate_file
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import read_candidate
from shopinsight_pipeline.storage import LakeStorage

DEFAULT_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "waimai_10k.csv"


def registered_versions(registry: ModelRegistry, latest_job: bool) -> list[tuple[Path, dict]]:
    found = [
        (path, read_candidate(path))
        for path in sorted(registry.versions_path.glob("*"))
        if not path.name.startswith(".") and (path / "candidate.json").is_file()
    ]
    if latest_job and found:
        job = found[-1][1].get("job")
        found = [(path, candidate) for path, candidate in found if candidate.get("job") == job]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data")
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--text-column", default="review")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--label-map", default='{"1": "positive", "0": "negative"}')
    parser.add_argument("--limit", type=int, default=0, help="first N rows of the outside set (0: all)")
    parser.add_argument("--latest-job", action="store_true", help="only the versions of the newest training job")
    args = parser.parse_args()

    eval_file = args.eval
    if args.limit:
        sample = pl.read_csv(eval_file, infer_schema=False).head(args.limit)
        eval_file = Path(tempfile.mkdtemp()) / eval_file.name
        sample.write_csv(eval_file)
    registry = ModelRegistry(LakeStorage(root=args.root).sentiment_registry_path)
    champion = (registry.champion() or {}).get("version")
    print(f"outside set: {args.eval} ({'first ' + str(args.limit) if args.limit else 'all'} rows)\n")
    print(
        "| version | kind | in-sample test macro-F1 (95% CI) | outside macro-F1 (95% CI) | outside accuracy | seconds |"
    )
    print("|---|---|---|---|---|---|")
    versions = registered_versions(registry, args.latest_job)
    for path, candidate in versions:
        started = time.perf_counter()
        report = evaluate_file(path, eval_file, args.text_column, args.label_column, json.loads(args.label_map))
        test = candidate.get("metrics", {}).get("test")
        inside = "n/a (no test split recorded)"
        if test and "macro_f1_ci95" in test:
            inside = "{:.4f} ({:.4f}-{:.4f})".format(test["macro_f1"], *test["macro_f1_ci95"])
        outside = "{:.4f} ({:.4f}-{:.4f})".format(report["macro_f1"], *report["macro_f1_ci95"])
        star = " (champion)" if path.name == champion else ""
        print(
            f"| {path.name}{star} | {candidate['kind']} | {inside} | {outside} | {report['accuracy']:.4f} "
            f"| {time.perf_counter() - started:.0f} |",
            flush=True,
        )
    refits = [(path, candidate) for path, candidate in versions if candidate.get("refit_of")]
    if refits:
        paired_refits(registry, refits, eval_file, args.text_column, args.label_column, json.loads(args.label_map))


def paired_refits(
    registry: ModelRegistry,
    refits: list[tuple[Path, dict]],
    eval_file: Path,
    text_column: str,
    label_column: str,
    label_map: dict[str, str],
) -> None:
    """Each refit against the split version it was refit from, paired on the same outside texts
    (issue 29): the difference of macro-F1 with its 95% bootstrap interval."""
    from shopinsight_pipeline.ml.scorers import load_scorer
    from shopinsight_pipeline.ml.significance import paired_bootstrap

    frame = pl.read_csv(eval_file, infer_schema=False).select(text_column, label_column).drop_nulls()
    frame = frame.filter(pl.col(label_column).is_in(list(label_map)))
    texts = frame.get_column(text_column).to_list()
    print("\n| refit | of (split version) | refit minus split, outside macro-F1 (95% CI) | texts |")
    print("|---|---|---|---|")
    for path, candidate in refits:
        labels = list(candidate["labels"])
        truth = [labels.index(label_map[value]) for value in frame.get_column(label_column).to_list()]
        refit = load_scorer(path).predict_proba(texts).argmax(axis=1)
        split = load_scorer(registry.version_path(candidate["refit_of"])).predict_proba(texts).argmax(axis=1)
        paired = paired_bootstrap(truth, refit, split)
        print(
            f"| {path.name} | {candidate['refit_of']} | {paired.difference:+.4f} ({paired.low:+.4f} to "
            f"{paired.high:+.4f}) | {len(texts)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
