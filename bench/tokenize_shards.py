"""Tokens/s of review_token_shards' tokenization against calling the fast tokenizer directly.

    .venv/bin/python bench/tokenize_shards.py [--reviews 10000] [--repeat 3]

Ours: `tokenize_reviews` (tokenize, clip, text keys, labels, Arrow shards with tokenizer hash)
plus writing the shards to Parquet. Baseline: `tokenizer(texts, truncation=True, max_length=128)`
on the same texts, in the same run. Target ratio >= 0.7.
"""

import argparse
import tempfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from _ml import best_of, extended_model_dir, review_texts

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.shards import tokenize_reviews
from shopinsight_pipeline.ml.text import LabelScheme


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    texts, labels = review_texts(args.reviews)
    reviews = pl.DataFrame(
        {
            "review_id": [f"R{n}" for n in range(len(texts))],
            "product_id": ["P001"] * len(texts),
            "review_text": texts,
            "rating": [5 if label == 2 else 1 for label in labels],
        }
    )
    directory = extended_model_dir()
    tokenizer = model_io.load_tokenizer(directory)
    digest = model_io.tokenizer_hash(tokenizer)
    out = Path(tempfile.mkdtemp())

    def plain() -> None:
        tokenizer(texts, truncation=True, max_length=128)

    def ours() -> None:
        shards, _ = tokenize_reviews(reviews, TextTokenizer(tokenizer, 128), LabelScheme(), "bench", digest, 20_000)
        for number, shard in enumerate(shards):
            pq.write_table(shard, str(out / f"part-{number}.parquet"))

    tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"])
    plain_seconds = best_of(args.repeat, plain)
    ours_seconds = best_of(args.repeat, ours)
    print(f"{len(texts):,} distinct review texts, {tokens:,} tokens (max_length 128); median of {args.repeat}")
    print(f"fast tokenizer alone:          {plain_seconds:.3f}s  {tokens / plain_seconds:,.0f} tokens/s")
    print(f"review_token_shards (+write):  {ours_seconds:.3f}s  {tokens / ours_seconds:,.0f} tokens/s")
    print(f"ratio (ours / tokenizer): {plain_seconds / ours_seconds:.2f}  (target >= 0.7)")


if __name__ == "__main__":
    main()
