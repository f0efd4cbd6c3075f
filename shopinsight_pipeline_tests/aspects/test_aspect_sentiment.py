"""aspect_sentiment: counts of the day, the week and the month worked out by hand (pure), and the
asset on the ML lake adding up to review_aspects."""

from datetime import date, timedelta

import polars as pl
import pytest

from shopinsight_pipeline.aspects.summary import product_categories, summarize_aspect_sentiment
from shopinsight_pipeline.schemas import ASPECT_SENTIMENT_SCHEMA, REVIEW_ASPECTS_SCHEMA
from shopinsight_pipeline_tests.conftest import materialize_assets

DAY = date(2026, 9, 30)


def mentions(rows: list[tuple[int, str, str, str]]) -> dict[str, pl.DataFrame]:
    """(days before DAY, product, aspect, polarity) -> review_aspects partitions by day."""
    frame = pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(rows))],
            "product_id": [row[1] for row in rows],
            "review_date": [DAY - timedelta(days=row[0]) for row in rows],
            "aspect": [row[2] for row in rows],
            "span": ["..."] * len(rows),
            "polarity": [row[3] for row in rows],
            "probability": [0.9] * len(rows),
            "prob_negative": [0.5] * len(rows),
            "method": ["lexicon"] * len(rows),
            "tagger_version": ["taxonomy-v3"] * len(rows),
            "model_version": ["v1"] * len(rows),
        },
        schema=REVIEW_ASPECTS_SCHEMA,
    )
    return {key.isoformat(): part for (key,), part in frame.partition_by("review_date", as_dict=True).items()}


def test_counts_of_the_day_week_and_month_by_hand():
    days = mentions(
        [
            (0, "P1", "logistics", "negative"),
            (0, "P1", "logistics", "positive"),
            (3, "P1", "logistics", "negative"),
            (10, "P1", "logistics", "negative"),
            (27, "P1", "logistics", "positive"),
            (28, "P1", "logistics", "negative"),  # a day outside the 28: not counted
            (20, "P2", "quality", "negative"),  # mentioned this month only
        ]
    )
    categories = pl.DataFrame({"product_id": ["P1"], "category": ["beauty"]})
    table = summarize_aspect_sentiment(days, categories, DAY)
    assert dict(table.schema) == ASPECT_SENTIMENT_SCHEMA
    rows = {(row["product_id"], row["aspect"]): row for row in table.iter_rows(named=True)}
    assert set(rows) == {("P1", "logistics"), ("P2", "quality")}
    p1 = rows["P1", "logistics"]
    assert (p1["mentions"], p1["negative_mentions"], p1["negative_share"]) == (2, 1, 0.5)
    assert (p1["mentions_7d"], p1["negative_mentions_7d"]) == (3, 2)
    assert p1["negative_share_7d"] == pytest.approx(2 / 3)
    assert (p1["mentions_28d"], p1["negative_mentions_28d"], p1["negative_share_28d"]) == (5, 3, 0.6)
    assert p1["category"] == "beauty" and p1["date"] == DAY
    p2 = rows["P2", "quality"]
    assert (p2["mentions"], p2["negative_share"], p2["mentions_28d"]) == (0, None, 1)  # no share without mentions
    assert p2["category"] == "unknown"  # no order names P2


def test_no_mentions_give_an_empty_table_of_the_schema():
    table = summarize_aspect_sentiment({}, product_categories({}), DAY)
    assert table.is_empty() and dict(table.schema) == ASPECT_SENTIMENT_SCHEMA


def test_a_product_takes_the_category_of_its_latest_order():
    orders = {
        "2026-09-01": pl.select(
            product_id=pl.lit("P1"), category=pl.lit("toys"), order_ts=pl.datetime(2026, 9, 1, time_zone="UTC")
        ),
        "2026-09-02": pl.select(
            product_id=pl.lit("P1"), category=pl.lit("garden"), order_ts=pl.datetime(2026, 9, 2, time_zone="UTC")
        ),
    }
    assert product_categories(orders).rows() == [("P1", "garden")]


def test_the_asset_adds_up_to_review_aspects(ml_lake):
    day = ml_lake.days[-1]
    assert materialize_assets(
        ml_lake.root, ml_lake.instance, ["aspect_sentiment"], partition_key=day.isoformat()
    ).success
    table = ml_lake.storage.read_partition("aspect_sentiment", day)
    written = [d for d in ml_lake.days if d > day - timedelta(days=28)]
    aspects = pl.concat([ml_lake.storage.read_partition("review_aspects", d) for d in written])
    today = ml_lake.storage.read_partition("review_aspects", day)
    assert int(table.get_column("mentions").sum()) == today.height
    assert int(table.get_column("mentions_28d").sum()) == aspects.height
    assert (
        int(table.get_column("negative_mentions_28d").sum()) == aspects.filter(pl.col("polarity") == "negative").height
    )
    assert "unknown" not in set(table.get_column("category"))  # every reviewed product was ordered
