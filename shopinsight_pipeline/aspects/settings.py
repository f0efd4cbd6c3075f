"""Settings of the transformer aspect head, apart from aspects/transformer.py so that the code
location (aspects/assets.py's run config) reads them without importing torch."""

from dataclasses import dataclass

TRANSFORMER_HEAD = "transformer_head"


@dataclass(frozen=True)
class TransformerTaggerSettings:
    max_steps: int = 300  # the CPU budget: about a minute of the default model on two cores
    batch_size: int = 32
    learning_rate: float = 5e-5  # the encoder's
    head_learning_rate: float = 1e-3  # the new head's: it starts from nothing
    max_length: int = 64  # tokens per clause; clauses are short
    max_clauses: int = 20_000  # a seeded sample of the distinct clauses, when there are more
    negatives_per_positive: float = 1.0
    max_positive_weight: float = 10.0  # cap of an aspect's loss weight (negatives / positives)
    min_positive_clauses: int = 20  # an aspect with fewer weakly labelled clauses gets no output
    threshold: float = 0.5
    # What replaces a seed word in a training clause: "" deletes it. A placeholder (the tokenizer's
    # mask token, "mask") marks every positive clause and no negative one, so the head can learn the
    # mark instead of the words around it, and the mark never occurs at serving.
    seed_placeholder: str = ""
    seed: int = 0
