"""Dynamic padding and length-grouped batches: pad each batch only to its own longest example.

Reviews are 40 tokens at the median and 122 at the 90th percentile, so padding every example to
128 wastes about two thirds of the compute. Batches drawn from a window of similar lengths pad
to almost nothing while the order of batches stays shuffled.
"""

import random
from collections.abc import Iterator, Sequence

import torch


def pad_batch(sequences: Sequence[Sequence[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """input_ids and attention_mask tensors padded (on the right) to the longest sequence."""
    if not sequences:
        raise ValueError("cannot pad an empty batch")
    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


class Collator:
    """DataLoader collate_fn over (input_ids, label) pairs."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[tuple[Sequence[int], int]]) -> dict[str, torch.Tensor]:
        batch = pad_batch([ids for ids, _ in examples], self.pad_token_id)
        batch["labels"] = torch.tensor([label for _, label in examples], dtype=torch.long)
        return batch


class LengthGroupedBatches:
    """Batch sampler: shuffle, cut into windows of `batch_size * window_batches`, sort each window
    by length, batch it, then shuffle the batches. Seeded per epoch, so a resumed run replays the
    same order and can skip the batches it already did."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, window_batches: int = 50) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.window = batch_size * window_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        for start in range(0, len(order), self.window):
            window = sorted(order[start : start + self.window], key=lambda index: self.lengths[index])
            batches.extend(window[i : i + self.batch_size] for i in range(0, len(window), self.batch_size))
        rng.shuffle(batches)
        yield from batches


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Inference order: longest first (memory peaks early), each batch of similar lengths."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
