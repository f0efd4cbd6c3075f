"""Training throughput of the sequence recommender: our Accelerate loop against a bare PyTorch loop.

    .venv/bin/python bench/recommend_train.py [--customers 8000] [--products 2000] [--epochs 2] [--rounds 3]

Both train `SequenceRecommender` from the same initial weights on the same sequences of synthetic
purchases (customers buying 5-30 products over 120 days), with the same batches, optimizer and
loss: ours is `train_sequence_model` (Accelerate: device placement, mixed precision, gradient
handling); bare is a plain loop over the same DataLoader. Rounds alternate bare and ours; the
medians of their target baskets per second are compared (target: ours / bare >= 0.9).
"""

import argparse
import statistics
import time
from datetime import date, timedelta

import numpy as np
import polars as pl
import torch
from torch.utils.data import DataLoader

from shopinsight_pipeline.recommend.sequence import (
    MODEL_INPUTS,
    SequenceRecommender,
    basket_loss,
    train_sequence_model,
    training_data,
)
from shopinsight_pipeline.recommend.settings import SequenceSettings


def synthetic_purchases(customers: int, products: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, 31, customers)
    customer = np.repeat(np.arange(customers), counts)
    popularity = 1.0 / rng.permutation(np.arange(1, products + 1))  # a long tail: product k ~ 1/k
    product = rng.choice(products, size=customer.size, p=popularity / popularity.sum())
    day = rng.integers(0, 120, customer.size)
    start = date(2026, 6, 1)
    return pl.DataFrame(
        {
            "customer_id": [f"C{c:06d}" for c in customer],
            "product_id": [f"P{p:05d}" for p in product],
            "category": ["any"] * customer.size,
            "day": [start + timedelta(days=int(d)) for d in day],
        }
    )


def bare_loop(purchases: pl.DataFrame, product_ids: list[str], settings: SequenceSettings) -> float:
    """Target baskets per second of a plain PyTorch loop over the same data, batches and loss."""
    torch.manual_seed(settings.seed)
    data = training_data(purchases, product_ids, settings)
    loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True, collate_fn=data.collate)
    device = torch.device("cuda" if torch.cuda.is_available() and not settings.cpu else "cpu")
    model = SequenceRecommender(len(product_ids), settings).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    examples, started = 0, time.perf_counter()
    for _ in range(settings.epochs):
        model.train()
        for batch in loader:
            batch = {name: tensor.to(device) for name, tensor in batch.items()}
            loss = basket_loss(model, model(*(batch[name] for name in MODEL_INPUTS)), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            examples += int(batch["valid"].sum())
    return examples / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    purchases = synthetic_purchases(args.customers, args.products)
    product_ids = sorted(purchases["product_id"].unique())
    settings = SequenceSettings(epochs=args.epochs)  # both on the GPU when there is one
    print(
        f"{purchases.height} purchases, {args.customers} customers, {len(product_ids)} products, {args.epochs} epochs"
    )
    ours, bare = [], []
    for _ in range(args.rounds):
        bare.append(bare_loop(purchases, product_ids, settings))
        _, report = train_sequence_model(purchases, product_ids, settings, log=lambda _: None)
        ours.append(report.examples_per_second)
        print(f"  bare {bare[-1]:,.0f}/s   ours {ours[-1]:,.0f}/s", flush=True)
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"median target baskets per second: ours {statistics.median(ours):,.0f}, bare {statistics.median(bare):,.0f}")
    print(f"ratio ours / bare: {ratio:.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
