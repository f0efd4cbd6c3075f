"""`sentiment_model`: fine-tune, evaluate every candidate on one split, and gate the promotion.

The asset wires storage, config and metadata around `ml.training_run.train_and_gate`; torch,
transformers and scikit-learn are imported inside the step, not when the code location loads.
"""

import polars as pl
import pyarrow as pa
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    Failure,
    MaterializeResult,
    PipesSubprocessClient,
    asset,
)

from shopinsight_pipeline.partitions import ALLOW_MISSING
from shopinsight_pipeline.resources import SentimentLabels
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.train.config import GATE, TrainingConfig


@asset(
    ins={
        "review_tokenizer": AssetIn(),
        # every written day; window_days picks the latest of them
        "review_token_shards": AssetIn(metadata=ALLOW_MISSING),
        "validated_reviews": AssetIn(metadata=ALLOW_MISSING),
    },
    group_name="train",
    kinds={"pytorch", "accelerate"},
    check_specs=[
        AssetCheckSpec(
            GATE,
            asset="sentiment_model",
            # not blocking: a challenger refused as worse leaves the champion serving, so nothing downstream
            # should stop; it fails as a warning and alert_on_refused_challenger tells on-call (issue 26)
            blocking=False,
            description="The best new candidate is promoted only if it is not worse than the champion "
            "on the same test split (a warning when it is significantly worse; the champion keeps serving).",
        )
    ],
    description="Fine-tunes the transformer, fits the TF-IDF baseline, evaluates all on one leak-free split and "
    "promotes the best. Its value is the champion pointer review_scores reads.",
)
def sentiment_model(
    context: AssetExecutionContext,
    config: TrainingConfig,
    storage: LakeStorage,
    sentiment_labels: SentimentLabels,
    pipes_client: PipesSubprocessClient,
    review_tokenizer: dict,
    review_token_shards: dict[str, pa.Table],
    validated_reviews: dict[str, pl.LazyFrame],
) -> MaterializeResult:
    from shopinsight_pipeline.ml.fit import TokenizerInfo, TrainingDataError
    from shopinsight_pipeline.ml.registry import ModelRegistry
    from shopinsight_pipeline.ml.training_run import train_and_gate, training_examples
    from shopinsight_pipeline.train.metadata import gate_check, model_metadata
    from shopinsight_pipeline.train.pipes import choose_trainer

    settings, scheme = config.settings(), sentiment_labels.scheme()
    tokenizer_dir = storage.pull_folder(storage.path(review_tokenizer["directory"]))
    tokenizer = TokenizerInfo(
        tokenizer_dir, review_tokenizer["name"], review_tokenizer["hash"], review_tokenizer["max_length"]
    )
    registry = ModelRegistry(storage.sentiment_registry_path)
    registry.pull(storage.sentiment_registry_store)  # an object store's registry, into the local cache
    trainer = choose_trainer(
        context, config.num_processes, config.force_cpu, pipes_client, storage.local_models_path / "jobs"
    )
    try:
        examples = training_examples(
            review_token_shards, validated_reviews, settings.window_days, tokenizer.hash, scheme
        )
        outcome = train_and_gate(
            examples,
            tokenizer,
            scheme,
            settings,
            registry,
            storage.local_models_path / "checkpoints",
            trainer,
            checkpoint_store=storage.checkpoint_store,
            log=context.log.info,
        )
    except TrainingDataError as error:
        raise Failure(str(error)) from error
    registry.push(storage.sentiment_registry_store)  # new versions, then the pointer
    return MaterializeResult(
        metadata=model_metadata(outcome, settings.bootstrap_rounds), check_results=[gate_check(outcome)]
    )
