"""The causes the sample plants in its reviews (_planted.json's aspect_causes) are found by the
aspect chain on their days, with the right aspect, and nothing is reported before them: the
lexicon tags the generated reviews, the corpus-fitted TF-IDF scorer judges each clause, and the
insights' aspect_surges compares the last 7 days with the 28 before."""

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.tagging import tag_reviews
from shopinsight_pipeline.aspects.taxonomy import load_taxonomy
from shopinsight_pipeline.reports.causes import CauseSettings, aspect_surges
from shopinsight_pipeline.sample import write_sample


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from shopinsight_pipeline.devtools.scorers import register_corpus_scorer
    from shopinsight_pipeline.ml.registry import ModelRegistry
    from shopinsight_pipeline.ml.scorers import load_scorer

    root = tmp_path_factory.mktemp("sample")
    manifest = write_sample(root)
    reviews = []
    for path in sorted((root / "landing/reviews").glob("*.jsonl")):
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
                reviews.append((row["review_id"], row["product_id"], row["review_ts"][:10], row["review_text"]))
            except (ValueError, KeyError, TypeError):
                continue  # the planted defects; validation quarantines them
    frame = pl.DataFrame(reviews, schema=["review_id", "product_id", "day", "review_text"], orient="row")
    frame = (
        frame.filter(pl.col("review_text").is_not_null())
        .with_columns(review_date=pl.col("day").str.to_date(strict=False))
        .drop_nulls("review_date")
        .unique("review_id")
    )
    categories = {}
    for path in sorted((root / "landing/orders").glob("*.csv")):
        for row in csv.DictReader(path.read_text(encoding="utf-8", errors="replace").splitlines()):
            categories[row.get("product_id")] = row.get("category")
    scorer = load_scorer(register_corpus_scorer(ModelRegistry(Path(tmp_path_factory.mktemp("registry"))), 4000, "t"))
    lexicon = LexiconTagger(load_taxonomy())
    mentions = tag_reviews(frame, lexicon, scorer, "corpus", masker=lexicon)
    counts = frame.group_by(pl.col("review_date").alias("date"), "product_id").agg(pl.len().alias("reviews"))
    category_frame = pl.DataFrame({"product_id": list(categories), "category": list(categories.values())}).filter(
        pl.col("product_id").is_not_null() & pl.col("category").is_not_null()
    )
    return manifest["aspect_causes"], mentions, counts, category_frame


def surges(planted, run_date: date) -> set[tuple[str, str, str]]:
    _, mentions, counts, categories = planted
    rows = aspect_surges(mentions, counts, categories, run_date, {}, CauseSettings(), "en")
    return {
        (row["entity_type"], row["entity"], row["sentence"].split(" of ")[0].removeprefix("Complaints about "))
        for row in rows
    }


def cause(planted, kind: str) -> dict:
    return next(entry for entry in planted[0] if entry["kind"] == kind)


def test_the_courier_disruption_is_a_logistics_surge_across_categories_on_its_days_only(planted):
    disruption = cause(planted, "courier_disruption")
    last = date.fromisoformat(disruption["last_day"])
    during = {
        entity for level, entity, aspect in surges(planted, last) if level == "category" and aspect == "logistics"
    }
    assert len(during) >= 4, during  # of the six categories
    before = date.fromisoformat(disruption["first_day"]) - timedelta(days=1)
    assert not [s for s in surges(planted, before) if s[2] == "logistics" and s[0] == "category"]


def test_the_packaging_onset_is_found_for_its_product_from_its_first_week(planted):
    onset = cause(planted, "packaging_onset")
    first = date.fromisoformat(onset["first_day"])
    assert ("product", onset["product_id"], "packaging") in surges(planted, first + timedelta(days=6))
    assert ("product", onset["product_id"], "packaging") not in surges(planted, first - timedelta(days=1))


def test_the_fake_complaints_are_found_for_their_product(planted):
    fakes = cause(planted, "fake_complaints")
    first = date.fromisoformat(fakes["first_day"])
    found = set().union(*(surges(planted, first + timedelta(days=offset)) for offset in range(6, 14)))
    assert ("product", fakes["product_id"], "authenticity") in found
    assert ("product", fakes["product_id"], "authenticity") not in surges(planted, first - timedelta(days=1))
