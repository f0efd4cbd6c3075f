"""Every registered sentiment candidate of a lake on outside labelled reviews, beside its in-sample test score.

    .venv/bin/python bench/cross_domain.py [--root data] [--eval ../shared/eval/waimai_10k.csv]
        [--text-column review] [--label-column label] [--label-map '{"1": "positive", "0": "negative"}']
        [--limit 0] [--latest-job]

The outside set (takeaway-food reviews by default) is never trained on: it shows how each scorer
carries over to another domain, where the in-sample test split cannot. Each row goes through the
`evaluate` command's code path (`evaluate_file`), with 95% bootstrap intervals on both sides.
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
    for path, candidate in registered_versions(registry, args.latest_job):
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


if __name__ == "__main__":
    main()
