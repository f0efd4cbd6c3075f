"""Training throughput of our Accelerate loop against a bare PyTorch loop and the seed recipe.

    .venv/bin/python bench/train.py [--examples 1024] [--steps 24]

All three train the extended default model from the same weights on the same texts, in one run:
- ours: `train_classifier` (Accelerate, length-grouped batches of 32, dynamic padding);
- bare: a plain PyTorch loop over exactly the same batches (target: ours / bare >= 0.9);
- fixed: the seed documents' recipe, every text padded to 128, batches of 16 (target: ours at
  least 2x its samples/s).
`--quality` then trains both recipes to the end of the same number of epochs on more texts, with
the same optimizer settings (the asset's defaults: AdamW, learning rate 1e-4, embedding learning
rate 2e-3, warmup, clipping, class-balanced loss), and prints each one's wall time and validation
macro-F1: only padding, batch size and batch order differ.
"""

import argparse
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _ml import extended_model_dir, review_texts
from transformers import get_linear_schedule_with_warmup

from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.batching import Collator, LengthGroupedBatches
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.metrics import classification_report
from shopinsight_pipeline.ml.scorers import TextTokenizer
from shopinsight_pipeline.ml.train import (
    TokenizedSet,
    TrainSettings,
    class_weights,
    parameter_groups,
    train_classifier,
)

LABELS = ["negative", "neutral", "positive"]


def fresh_model(directory: Path):
    torch.manual_seed(0)
    return model_io.load_model(directory, num_labels=3)


def plain_loop(model, batches: list[dict], learning_rate: float = 5e-5) -> float:
    """Seconds for one pass over `batches` with AdamW, warmup schedule and clipping, no Accelerate."""
    optimizer = torch.optim.AdamW(parameter_groups(model, 0.01), lr=learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, 1, len(batches))
    model.train()
    started = time.perf_counter()
    for batch in batches:
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return time.perf_counter() - started


def fixed_batches(tokenizer, texts: list[str], labels: list[int], size: int = 16) -> list[dict]:
    batches = []
    for start in range(0, len(texts), size):
        batch = tokenizer(
            texts[start : start + size], padding="max_length", truncation=True, max_length=128, return_tensors="pt"
        )
        batches.append({**batch, "labels": torch.tensor(labels[start : start + size])})
    return batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps of batch 32 for ours and bare")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each recipe (best one counts)")
    parser.add_argument("--quality", action="store_true", help="also compare validation macro-F1 of both recipes")
    parser.add_argument("--quality-examples", type=int, default=2048)
    parser.add_argument("--quality-epochs", type=int, default=2)
    args = parser.parse_args()

    texts, labels = review_texts(args.examples + 512)
    train_texts, train_labels = texts[: args.examples], labels[: args.examples]
    directory = extended_model_dir()
    tokenizer = model_io.load_tokenizer(directory)
    encode = TextTokenizer(tokenizer, 128)
    ids, _ = encode(train_texts)
    train = TokenizedSet(ids, train_labels)
    validation_ids, _ = encode(texts[args.examples :])
    validation = TokenizedSet(validation_ids, labels[args.examples :])

    settings = TrainSettings(
        batch_size=32,
        max_epochs=100,
        max_steps=args.steps,
        eval_every_steps=10**6,
        checkpoint_every_steps=10**6,
        cpu_max_steps=0,
    )

    def ours() -> float:
        outcome = train_classifier(
            fresh_model(directory),
            train,
            TokenizedSet(validation.input_ids[:32], validation.labels[:32]),
            LABELS,
            tokenizer.pad_token_id,
            settings,
            Path(tempfile.mkdtemp()),
            log=lambda _: None,
        )
        return outcome.examples_per_second

    sampler = LengthGroupedBatches([len(x) for x in ids], 32, settings.seed)
    collate = Collator(tokenizer.pad_token_id)
    same_batches = [collate([(ids[i], train_labels[i]) for i in batch]) for batch in list(sampler)[: args.steps]]
    fixed = fixed_batches(tokenizer, train_texts, train_labels)[: args.steps * 2]

    def rate(batches: list[dict]) -> Callable[[], float]:
        examples = sum(batch["labels"].shape[0] for batch in batches)
        return lambda: examples / plain_loop(fresh_model(directory), batches)

    # The first training in a process pays one-time costs (thread pools, allocator growth): warm up,
    # then measure each recipe `rounds` times in rotated order and keep each one's best rate.
    plain_loop(fresh_model(directory), same_batches[:4])
    recipes = {"ours": ours, "bare": rate(same_batches), "fixed": rate(fixed)}
    rates: dict[str, list[float]] = {name: [] for name in recipes}
    order = list(recipes)
    for round_number in range(args.rounds):
        for name in order[round_number % len(order) :] + order[: round_number % len(order)]:
            rates[name].append(recipes[name]())
    ours_rate, bare_rate, fixed_rate = (max(rates[name]) for name in ("ours", "bare", "fixed"))
    print("samples/s per round: " + ", ".join(f"{name} {[round(r, 1) for r in rates[name]]}" for name in rates))

    print(
        f"{args.examples:,} training texts, {args.steps} steps of 32 (fixed: {2 * args.steps} steps of 16), CPU, "
        f"best of {args.rounds} rounds"
    )
    print(f"ours (Accelerate, length-grouped, dynamic): {ours_rate:6.1f} samples/s")
    print(
        f"bare PyTorch loop, same batches:            {bare_rate:6.1f} samples/s   "
        f"ratio ours/bare {ours_rate / bare_rate:.2f} (target >= 0.9)"
    )
    print(
        f"fixed padding 128, batch 16 (seed recipe):  {fixed_rate:6.1f} samples/s   "
        f"speed-up {ours_rate / fixed_rate:.2f}x (target >= 2x)"
    )

    if args.quality:
        compare_quality(directory, tokenizer, args.quality_examples, args.quality_epochs)


# The asset's training defaults (TrainingConfig), shared by both recipes in the quality run.
QUALITY = TrainSettings(
    learning_rate=1e-4,
    embedding_learning_rate=2e-3,
    batch_size=32,
    max_epochs=2,
    eval_every_steps=10**6,  # evaluate once, at the end: no early stopping for either recipe
    checkpoint_every_steps=10**6,
    cpu_max_steps=0,  # the whole epochs, as the quality comparison was run
)


def fixed_recipe_training(model, tokenizer, texts, labels, settings: TrainSettings, epochs: int) -> None:
    """The seed recipe (pad to 128, batches of 16 in random order) with our optimizer settings."""
    optimizer = torch.optim.AdamW(
        parameter_groups(model, settings.weight_decay, settings.embedding_learning_rate), lr=settings.learning_rate
    )
    steps = epochs * math.ceil(len(texts) / 16)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(steps * settings.warmup_ratio), steps)
    weights = class_weights(labels, len(LABELS))
    order = list(range(len(texts)))
    model.train()
    for epoch in range(epochs):
        random.Random(settings.seed + epoch).shuffle(order)
        batches = fixed_batches(tokenizer, [texts[i] for i in order], [labels[i] for i in order])
        for batch in batches:
            targets = batch.pop("labels")
            loss = torch.nn.functional.cross_entropy(model(**batch).logits, targets, weight=weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def compare_quality(directory: Path, tokenizer, examples: int, epochs: int) -> None:
    texts, labels = review_texts(examples + 1024, seed=1)
    train_texts, train_labels = texts[:examples], labels[:examples]
    encode = TextTokenizer(tokenizer, 128)
    train = TokenizedSet(encode(train_texts)[0], train_labels)
    validation = TokenizedSet(encode(texts[examples:])[0], labels[examples:])

    def macro_f1(model) -> float:
        probabilities = predict_proba(model, validation.input_ids, tokenizer.pad_token_id)
        return classification_report(validation.labels, probabilities, LABELS)["macro_f1"]

    ours = fresh_model(directory)
    started = time.perf_counter()
    settings = TrainSettings(**{**QUALITY.__dict__, "max_epochs": epochs})
    train_classifier(
        ours, train, validation, LABELS, tokenizer.pad_token_id, settings, Path(tempfile.mkdtemp()), log=lambda _: None
    )
    ours_seconds = time.perf_counter() - started

    fixed = fresh_model(directory)
    started = time.perf_counter()
    fixed_recipe_training(fixed, tokenizer, train_texts, train_labels, QUALITY, epochs)
    fixed_seconds = time.perf_counter() - started

    print(f"quality: {examples:,} training texts, {epochs} epochs, validation on {len(validation.labels):,} texts")
    print(f"  ours:         {ours_seconds:6.0f}s  validation macro-F1 {macro_f1(ours):.4f}")
    print(f"  fixed recipe: {fixed_seconds:6.0f}s  validation macro-F1 {macro_f1(fixed):.4f}")
    print(f"  wall-time speed-up {fixed_seconds / ours_seconds:.2f}x (ours includes its end-of-training evaluation)")


if __name__ == "__main__":
    main()
