"""Run config of `sentiment_model` and the name of its gate check: what the asset, the sample runner
and the tests share, light to import (no torch). Every default comes from the pure settings
(`ml/settings.py`), so the asset and the library cannot drift apart."""

import dataclasses

from dagster import Config
from pydantic import Field

from shopinsight_pipeline.ml.settings import SentimentTrainingSettings, TfidfSettings, TrainSettings
from shopinsight_pipeline.ml.text import SplitFractions

GATE = "champion_challenger"


RUN = SentimentTrainingSettings()
TRAIN, TFIDF, SPLIT = RUN.train, RUN.tfidf, RUN.split


class TrainingConfig(Config):
    """Run config of sentiment_model. Every default comes from the pure settings (TrainSettings,
    TfidfSettings, SplitFractions), so the asset and the library cannot drift apart."""

    window_days: int = Field(
        default=RUN.window_days, description="Train on the shards of the latest N days that have them."
    )
    min_train_examples: int = Field(
        default=RUN.min_train_examples, description="Fewer deduplicated training examples is an error."
    )
    learning_rate: float = TRAIN.learning_rate
    embedding_learning_rate: float = Field(
        default=TRAIN.embedding_learning_rate,
        description="Learning rate of the input embeddings (the added hanzi start untrained); 0: same.",
    )
    weight_decay: float = TRAIN.weight_decay
    warmup_ratio: float = TRAIN.warmup_ratio
    batch_size: int = TRAIN.batch_size
    max_epochs: int = TRAIN.max_epochs
    max_steps: int = Field(default=TRAIN.max_steps, description="Cap on optimizer steps (0: max_epochs decides).")
    cpu_max_steps: int = Field(
        default=TRAIN.cpu_max_steps,
        description="Training budget on a CPU, in optimizer steps (0: none): the learning-rate schedule decays "
        "within it. A GPU ignores it and trains to the end of max_epochs.",
    )
    eval_every_steps: int = TRAIN.eval_every_steps
    patience: int = Field(
        default=TRAIN.patience, description="Evaluations without a better validation macro-F1 before stopping."
    )
    max_grad_norm: float = TRAIN.max_grad_norm
    checkpoint_every_steps: int = TRAIN.checkpoint_every_steps
    seed: int = TRAIN.seed
    mixed_precision: str = Field(
        default=TRAIN.mixed_precision, description="auto (bf16 on a GPU, fp32 on a CPU), no, fp16 or bf16."
    )
    force_cpu: bool = TRAIN.cpu
    balanced_loss: bool = Field(
        default=TRAIN.balanced_loss, description="Weight classes by inverse frequency (macro-F1 counts each)."
    )
    train_fraction: float = Field(default=SPLIT.train, description="Share of text-hash buckets to train on.")
    validation_fraction: float = Field(
        default=SPLIT.validation, description="Share to choose the challenger by; the rest is test."
    )
    gate_confidence: float = Field(
        default=RUN.gate_confidence,
        description="A challenger replaces the champion only when the paired bootstrap interval of their test "
        "macro-F1 difference, at this confidence, lies above zero.",
    )
    bootstrap_rounds: int = Field(
        default=RUN.bootstrap_rounds, description="Resamples of the test texts for every interval."
    )
    tfidf_ngram_max: int = TFIDF.ngram_max
    tfidf_c: float = TFIDF.c
    retrain_unchanged: bool = Field(
        default=RUN.retrain_unchanged,
        description="Train again even when the registry holds versions trained on the same texts, labels, "
        "tokenizer and settings (by default those are reused: CPU training is not bit-reproducible, so a "
        "retrain on unchanged data only adds noise to the scores).",
    )
    refit: bool = Field(
        default=RUN.refit,
        description="After the gate, refit the champion's recipe on every labelled distinct text of the window and "
        "serve the refit (the gate keeps comparing with the evaluated split version). False: the split version serves.",
    )
    num_processes: int = Field(
        default=1,
        description="Devices to train on. Above 1, training runs as an `accelerate launch` subprocess through "
        "Dagster Pipes (one process per GPU, or per CPU worker with force_cpu).",
    )

    def train_settings(self) -> TrainSettings:
        shared = {field.name for field in dataclasses.fields(TrainSettings)} & set(type(self).model_fields)
        return TrainSettings(**{name: getattr(self, name) for name in shared}, cpu=self.force_cpu)

    def tfidf_settings(self) -> TfidfSettings:
        return dataclasses.replace(TFIDF, ngram_max=self.tfidf_ngram_max, c=self.tfidf_c)

    def settings(self) -> SentimentTrainingSettings:
        """The pure settings of this run."""
        return SentimentTrainingSettings(
            window_days=self.window_days,
            min_train_examples=self.min_train_examples,
            train=self.train_settings(),
            tfidf=self.tfidf_settings(),
            split=SplitFractions(self.train_fraction, self.validation_fraction),
            gate_confidence=self.gate_confidence,
            bootstrap_rounds=self.bootstrap_rounds,
            retrain_unchanged=self.retrain_unchanged,
            refit=self.refit,
        )
