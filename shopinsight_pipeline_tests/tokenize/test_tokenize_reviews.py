"""tokenize_reviews (ml/shards.py) without Dagster: one shard row per review, ids unpadded, labels from
the rating, the tokenizer's identity in the file metadata, and errors for input it must not get."""

import json
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.ml.shards import (
    LABELS_KEY,
    TOKENIZER_HASH_KEY,
    TOKENIZER_NAME_KEY,
    TokenizerMismatchError,
    check_tokenizer,
    tokenize_reviews,
)
from shopinsight_pipeline.ml.text import LabelScheme, text_key
from shopinsight_pipeline.schemas import SHARD_SCHEMA

MAX_TOKENS = 4


def encode(texts: list[str]) -> tuple[list[list[int]], list[bool]]:
    """One id per character (its code point), cut at MAX_TOKENS: a stand-in whose answers are known."""
    ids = [[ord(character) for character in text] for text in texts]
    return [row[:MAX_TOKENS] for row in ids], [len(row) > MAX_TOKENS for row in ids]


def reviews(texts: list[str], ratings: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(texts))],
            "product_id": [f"P{number % 2}" for number in range(len(texts))],
            "review_date": [date(2026, 8, 1)] * len(texts),
            "rating": pl.Series(ratings, dtype=pl.Int64),
            "review_text": pl.Series(texts, dtype=pl.String),
        }
    )


def test_each_review_is_one_row_with_its_ids_label_and_length():
    day = reviews(["好", "很好很好很好", "一般", "差"], [5, 4, 3, 1])
    [shard], truncated = tokenize_reviews(day, encode, LabelScheme(), "stub", "abc123", shard_rows=10)
    rows = pl.DataFrame(shard)
    assert rows.get_column("review_id").to_list() == ["R0", "R1", "R2", "R3"]
    assert rows.get_column("input_ids").to_list() == [
        [ord("好")],
        [ord(c) for c in "很好很好"],
        [ord("一"), ord("般")],
        [ord("差")],
    ]
    assert rows.get_column("length").to_list() == [1, 4, 2, 1]
    assert rows.get_column("truncated").to_list() == [False, True, False, False]
    assert truncated == 1
    # polarity: 4-5 stars positive (1), 1-2 negative (0), 3 stars no label
    assert rows.get_column("label").to_list() == [1, 1, None, 0]
    assert rows.get_column("text_key").to_list() == [text_key(text) for text in ["好", "很好很好很好", "一般", "差"]]
    assert shard.schema.remove_metadata() == SHARD_SCHEMA.remove_metadata()


def test_the_tokenizer_and_label_order_travel_in_the_file_metadata():
    [shard], _ = tokenize_reviews(reviews(["好"], [5]), encode, LabelScheme(), "stub-tokenizer", "abc123", 10)
    metadata = shard.schema.metadata
    assert metadata[TOKENIZER_NAME_KEY] == b"stub-tokenizer"
    assert metadata[TOKENIZER_HASH_KEY] == b"abc123"
    assert json.loads(metadata[LABELS_KEY]) == ["negative", "positive"]
    check_tokenizer(metadata, "abc123", "the shard")  # the same tokenizer passes
    with pytest.raises(TokenizerMismatchError, match="the shard was tokenized with stub-tokenizer \\(hash abc123\\)"):
        check_tokenizer(metadata, "fff000", "the shard")


def test_shards_hold_at_most_shard_rows_rows_in_review_order():
    day = reviews([f"好{number}" for number in range(7)], [5] * 7)
    shards, _ = tokenize_reviews(day, encode, LabelScheme(), "stub", "abc123", shard_rows=3)
    assert [shard.num_rows for shard in shards] == [3, 3, 1]
    assert [row for shard in shards for row in shard.column("review_id").to_pylist()] == [f"R{n}" for n in range(7)]


def test_a_day_without_reviews_gives_one_empty_shard_with_the_schema():
    shards, truncated = tokenize_reviews(reviews([], []), encode, LabelScheme(), "s", "h", 5)
    assert [shard.num_rows for shard in shards] == [0] and truncated == 0
    assert shards[0].schema.names == SHARD_SCHEMA.names


def test_empty_text_and_a_shard_size_below_one_are_refused():
    with pytest.raises(ValueError, match="1 validated reviews have empty text \\(first: R1\\)"):
        tokenize_reviews(reviews(["好", "  "], [5, 1]), encode, LabelScheme(), "stub", "abc123", 10)
    with pytest.raises(ValueError, match="shard_rows must be positive, got 0"):
        tokenize_reviews(reviews(["好"], [5]), encode, LabelScheme(), "stub", "abc123", 0)
