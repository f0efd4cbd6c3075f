"""Dynamic padding and length-grouped batches."""

import torch

from shopinsight_pipeline.ml.batching import Collator, LengthGroupedBatches, length_sorted_batches, pad_batch


def test_collator_pads_to_the_longest_in_the_batch_only():
    batch = Collator(pad_token_id=0)([([101, 7, 102], 2), ([101, 102], 0)])
    assert batch["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [2, 0]
    assert batch["input_ids"].dtype == torch.long


def test_pad_batch_uses_the_given_pad_id():
    assert pad_batch([[5], [5, 6, 7]], pad_token_id=9)["input_ids"].tolist() == [[5, 9, 9], [5, 6, 7]]


def test_length_grouped_batches_cover_every_example_once_and_pad_little():
    lengths = [(n * 37) % 120 + 3 for n in range(1000)]
    sampler = LengthGroupedBatches(lengths, batch_size=16, seed=1, window_batches=10)
    batches = list(sampler)
    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(1000))
    assert len(batches) == len(sampler) == 63
    grouped_padding = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)
    random_batches = [list(range(start, min(start + 16, 1000))) for start in range(0, 1000, 16)]
    random_padding = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in random_batches)
    assert grouped_padding < random_padding / 5


def test_order_is_seeded_per_epoch():
    lengths = list(range(200))
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=3)
    first = list(sampler)
    assert list(sampler) == first  # same epoch, same order (what resume relies on)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_inference_batches_are_length_sorted():
    batches = length_sorted_batches([5, 50, 10, 40], batch_size=2)
    assert batches == [[1, 3], [2, 0]]
