"""Training settings with the product's defaults, in a module that imports neither torch nor
scikit-learn: the Dagster shell reads these defaults when the code location loads, and loading it
should not pay for the libraries that only training steps use."""

from dataclasses import dataclass, field

from shopinsight_pipeline.ml.text import SplitFractions


@dataclass(frozen=True)
class TrainSettings:
    """Training hyperparameters. The defaults are the product's (TrainingConfig takes them from here):
    they fit `make run` on the embedded sample on a 2-core CPU (about 35 examples/s)."""

    learning_rate: float = 1e-4
    embedding_learning_rate: float = 2e-3  # the input embeddings (added hanzi start untrained); 0: learning_rate
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    batch_size: int = 32
    eval_batch_size: int = 64
    max_epochs: int = 2
    max_steps: int = 0  # 0: no cap beyond max_epochs
    cpu_max_steps: int = 240  # a budget that applies only on a CPU (0: none); a GPU trains to the end of its epochs
    eval_every_steps: int = 80
    patience: int = 2  # evaluations without a better macro-F1 before stopping
    max_grad_norm: float = 1.0
    checkpoint_every_steps: int = 80
    seed: int = 13
    mixed_precision: str = "auto"  # auto: bf16 on a GPU that supports it, fp32 on a CPU
    cpu: bool = False  # force the CPU even when a GPU is present
    balanced_loss: bool = True  # weight classes by inverse frequency: macro-F1 counts rare classes equally


@dataclass(frozen=True)
class TfidfSettings:
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2
    max_features: int = 200_000
    c: float = 4.0  # inverse regularisation strength
    max_iter: int = 2000


@dataclass(frozen=True)
class SentimentTrainingSettings:
    """One sentiment_model run: which window trains, how each candidate trains and how sure the
    gate must be. TrainingConfig (the asset's run config) turns into this; ml/training_run.py reads it."""

    window_days: int = 61  # the shards of the latest N written days
    min_train_examples: int = 200  # fewer deduplicated training examples is an error
    train: TrainSettings = field(default_factory=TrainSettings)
    tfidf: TfidfSettings = field(default_factory=TfidfSettings)
    split: SplitFractions = field(default_factory=SplitFractions)
    gate_confidence: float = 0.95  # the paired bootstrap interval of the macro-F1 difference, at this confidence
    bootstrap_rounds: int = 2000
    retrain_unchanged: bool = False  # True: train again on the same texts, labels, tokenizer and settings
    refit: bool = True  # serve the champion refit on every labelled distinct text of the window (ml/refit.py)
