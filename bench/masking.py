"""Masking personal data in review text (issue 27.1): quality on the hand-written set, and speed on
a review-heavy day.

    .venv/bin/python bench/masking.py [--reviews 1000000] [--share 0.004] [--repeat 3]

1. Precision and recall per kind on the two hand-written sets in shopinsight_pipeline_tests/privacy/
   (a span counts when it is exactly the one a person marked), with Wilson 95% intervals.
2. `--reviews` review texts drawn from the sample's corpus (its 17k distinct Chinese reviews), a
   `--share` of them given a personal detail as the sample plants them: reviews/s of
   `mask_column` (the validation step's masking), against a baseline measured in the same run (a
   polars pass that lower-cases every text: the cheapest whole-column string operation), and the
   peak memory of each, in its own child process.
"""

import argparse
import json
import math
import random
import resource
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

SETS = Path(__file__).resolve().parents[1] / "shopinsight_pipeline_tests" / "privacy"
# pii_cases.jsonl: written by hand, and the patterns were fixed against it (a development set);
# pii_holdout.jsonl: written apart, blind to the patterns and to the first set, measured as it came
CASES = (SETS / "pii_cases.jsonl", SETS / "pii_holdout.jsonl")


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return (float("nan"), float("nan"))
    p = successes / total
    centre, half = p + z * z / (2 * total), z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return ((centre - half) / (1 + z * z / total), (centre + half) / (1 + z * z / total))


def quality(path: Path) -> None:
    from shopinsight_pipeline.privacy.masking import KINDS, find_personal_data

    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    hits, found, marked = Counter(), Counter(), Counter()
    for case in cases:
        expected = {(e["type"], e["value"]) for e in case["entities"]}
        got = {(f.kind, case["text"][f.start : f.end]) for f in find_personal_data(case["text"])}
        found.update(kind for kind, _ in got)
        marked.update(kind for kind, _ in expected)
        hits.update(kind for kind, _ in got & expected)
    negatives = sum(1 for case in cases if not case["entities"])
    print(f"\n{path.name}: {len(cases)} lines, {negatives} with nothing personal")
    print(f"{'kind':<8}{'marked':>8}{'found':>8}{'precision (95% CI)':>28}{'recall (95% CI)':>28}")
    for kind in KINDS:
        plo, phi = wilson(hits[kind], found[kind])
        rlo, rhi = wilson(hits[kind], marked[kind])
        precision = hits[kind] / found[kind] if found[kind] else float("nan")
        recall = hits[kind] / marked[kind] if marked[kind] else float("nan")
        print(
            f"{kind:<8}{marked[kind]:>8}{found[kind]:>8}"
            f"{precision:>10.3f} ({plo:.3f}-{phi:.3f})    {recall:>10.3f} ({rlo:.3f}-{rhi:.3f})"
        )
    total_hits, total_found, total_marked = sum(hits.values()), sum(found.values()), sum(marked.values())
    print(
        f"{'all':<8}{total_marked:>8}{total_found:>8}"
        f"{total_hits / total_found:>10.3f}{'':18}{total_hits / total_marked:>10.3f}"
    )


CHILD = """
import json, resource, sys, time
import polars as pl
texts = pl.read_parquet(sys.argv[1]).get_column("review_text")
started = time.perf_counter()
if sys.argv[2] == "mask":
    from shopinsight_pipeline.privacy.masking import mask_column
    masked = mask_column(texts)
    counts = masked.counts
else:
    texts.str.to_lowercase()
    counts = {}
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "peak_mb": peak, "counts": counts}))
"""


def speed(reviews: int, share: float, repeat: int) -> None:
    import tempfile

    import polars as pl

    from shopinsight_pipeline.sample import PERSONAL_DETAILS, load_review_corpus

    rng = random.Random(7)
    corpus = [line for lines in load_review_corpus().values() for line in lines]
    details = [text for texts in PERSONAL_DETAILS.values() for text in texts]
    texts = [rng.choice(corpus) for _ in range(reviews)]
    for row in rng.sample(range(reviews), int(reviews * share)):
        texts[row] = f"{texts[row]}，{rng.choice(details)}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reviews.parquet"
        pl.DataFrame({"review_text": texts}).write_parquet(path)
        runs: dict[str, list[dict]] = {"baseline": [], "mask": []}
        for _ in range(repeat):
            for kind in runs:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path), kind], capture_output=True, text=True, check=True
                )
                runs[kind].append(json.loads(out.stdout))
    median = {kind: statistics.median(run["seconds"] for run in results) for kind, results in runs.items()}
    peak = {kind: max(run["peak_mb"] for run in results) for kind, results in runs.items()}
    with_digits = sum(1 for text in texts if any(ch.isdigit() for ch in text))
    print(f"\n{reviews:,} reviews ({with_digits:,} hold a digit), {int(reviews * share):,} given a personal detail")
    print(f"baseline (polars lower-case of every text): {median['baseline']:.2f}s  peak {peak['baseline']:.0f} MB")
    print(f"mask_column: {median['mask']:.2f}s  {reviews / median['mask']:,.0f} reviews/s  peak {peak['mask']:.0f} MB")
    print(f"ratio baseline / masking: {median['baseline'] / median['mask']:.3f}")
    print(f"replaced: {runs['mask'][0]['counts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.004)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for path in CASES:
        quality(path)
    speed(args.reviews, args.share, args.repeat)
    print(f"bench process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
