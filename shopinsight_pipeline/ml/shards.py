"""Review token shards: token ids without padding, one row per review, bounded rows per file."""

import json

import polars as pl
import pyarrow as pa

from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.text import LabelScheme, text_keys
from shopinsight_pipeline.schemas import SHARD_SCHEMA

TOKENIZER_NAME_KEY = b"shopinsight.tokenizer_name"
TOKENIZER_HASH_KEY = b"shopinsight.tokenizer_hash"
LABELS_KEY = b"shopinsight.labels"


class TokenizerMismatchError(ValueError):
    """Shards were made by another tokenizer than the one training or scoring uses."""


def tokenize_reviews(
    reviews: pl.DataFrame,
    encode: TextTokenizer,
    scheme: LabelScheme,
    tokenizer_name: str,
    tokenizer_hash: str,
    shard_rows: int,
) -> tuple[list[pa.Table], int]:
    """Shards of at most `shard_rows` rows and how many texts were cut at the length limit.

    Empty texts are quarantined upstream; finding one here means the validation rules changed.
    """
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be positive, got {shard_rows}")
    empty = reviews.filter(pl.col("review_text").str.strip_chars().fill_null("") == "")
    if empty.height:
        raise ValueError(f"{empty.height} validated reviews have empty text (first: {empty.item(0, 'review_id')})")
    input_ids, truncated = encode(reviews.get_column("review_text").to_list())
    frame = pl.DataFrame(
        {
            "review_id": reviews.get_column("review_id"),
            "product_id": reviews.get_column("product_id"),
            "text_key": text_keys(reviews.get_column("review_text")),
            "rating": reviews.get_column("rating").cast(pl.Int8),
            "label": scheme.label_ids(reviews.get_column("rating")),
            "input_ids": pl.Series(input_ids, dtype=pl.List(pl.Int32)),
            "truncated": pl.Series(truncated, dtype=pl.Boolean),
        }
    ).with_columns(pl.col("input_ids").list.len().cast(pl.Int32).alias("length"))
    metadata = {
        TOKENIZER_NAME_KEY: tokenizer_name.encode(),
        TOKENIZER_HASH_KEY: tokenizer_hash.encode(),
        LABELS_KEY: json.dumps(list(scheme.labels)).encode(),
    }
    table = frame.select(SHARD_SCHEMA.names).to_arrow().cast(SHARD_SCHEMA).replace_schema_metadata(metadata)
    shards = [table.slice(start, shard_rows) for start in range(0, max(table.num_rows, 1), shard_rows)]
    return shards, sum(truncated)


def check_tokenizer(schema_metadata: dict[bytes, bytes] | None, expected_hash: str, where: str) -> None:
    """Refuse shards whose tokenizer hash differs from the one in use."""
    found = (schema_metadata or {}).get(TOKENIZER_HASH_KEY, b"<none>").decode()
    if found != expected_hash:
        name = (schema_metadata or {}).get(TOKENIZER_NAME_KEY, b"<unknown>").decode()
        raise TokenizerMismatchError(
            f"{where} was tokenized with {name} (hash {found}), expected tokenizer hash {expected_hash}. "
            "Re-materialize review_token_shards for those days with the current review_tokenizer."
        )
