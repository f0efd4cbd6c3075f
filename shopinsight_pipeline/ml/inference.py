"""Batch inference for a sequence classifier: length-sorted batches, dynamic padding, no autograd."""

from collections.abc import Sequence

import numpy as np
import torch

from shopinsight_pipeline.ml.batching import length_sorted_batches, pad_batch


def predict_proba(
    model,
    sequences: Sequence[Sequence[int]],
    pad_token_id: int,
    batch_size: int = 64,
    device: torch.device | None = None,
    multi_label: bool = False,
) -> np.ndarray:
    """Class probabilities, one row per sequence in the input order (`multi_label`: an independent
    sigmoid per output, not a softmax over them)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    num_labels = model.config.num_labels
    probabilities = np.zeros((len(sequences), num_labels), dtype=np.float32)
    with torch.inference_mode():
        for batch_indices in length_sorted_batches([len(sequence) for sequence in sequences], batch_size):
            batch = pad_batch([sequences[index] for index in batch_indices], pad_token_id)
            logits = model(**{name: tensor.to(device) for name, tensor in batch.items()}).logits
            scores = torch.sigmoid(logits.float()) if multi_label else torch.softmax(logits.float(), dim=-1)
            probabilities[batch_indices] = scores.cpu().numpy()
    model.train(was_training)
    return probabilities


def mean_loss(probabilities: np.ndarray, labels: Sequence[int]) -> float:
    """Cross-entropy of predicted probabilities (the validation loss)."""
    picked = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
