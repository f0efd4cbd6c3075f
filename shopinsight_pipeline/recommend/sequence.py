"""The learned recommender: a small time-aware transformer over a customer's baskets (a next-basket
SASRec), trained with Accelerate on the GPU when there is one.

Why a sequence model and not matrix factorisation: what a customer buys next depends on what they
bought last and how long ago (a case days after a phone, a consumable when its cycle ends), which a
factorisation of the customer x product matrix cannot express; co-occurrence expresses it by
counting, the transformer by learning.

Why baskets: the products a customer buys on one day have no order (an order line's position, let
alone its product id, says nothing), so one day's purchases are one step, a basket: the mean of its
products' embeddings, plus the step's position in the window and the gap (bucketed days) since the
basket before. An earlier version ordered a day's products by id and predicted each from the one
before: on the UCI Online Retail invoices 96.5% of its targets were the next-higher id in the same
basket, it learned id order and scored below popularity. Here causal self-attention reads the
baskets, a key padding mask keeps every step from reading the left padding (a padded step reads
itself only, so no row is all masked and nothing is NaN), and the query at each step adds the time
elapsed until the next basket (at serving: until the middle of the coming `horizon` days). Each
step is trained to predict every product of the next basket (multi-label: softmax cross-entropy of
the catalogue against each of the basket's products, weighted 1/|basket|), so the order inside a
basket cannot matter, by construction.

Why a re-order term: a large share of what a shop's customers buy next they bought before (on UCI
Online Retail 48% of next-week purchases are repeats), and a product vector cannot say "this
customer buys it every ten days". A product's logit gets, when the customer bought it before, a
learned bias from how many of their baskets held it (bucketed) and the days from their last
purchase of it to the target day (bucketed): a table lookup to a scalar, plus a rank-4 term (a
product's vector times the days bucket's) so products can differ in their cycles. The model learns
"re-bought, and due" on its own.

Only customers with two purchase days or more train (a single basket has no next one); a history
longer than `max_length` baskets is cut into consecutive windows so every transition trains.

Sizing, for a shop with up to ~20,000 products and ~200,000 customers: width 32, 2 layers of 2
heads over the last 20 baskets: about 18k transformer weights plus 37 per product (embedding, bias,
rank-4 re-order vector), 0.76M in all for 20k products. On UCI Online Retail at T-7 (3,700
products, 2,700 customers with two purchase days or more) this size, 30 epochs, scored NDCG@10
0.320 (popularity 0.117, co-occurrence 0.197, the customer's own re-buys 0.303), trained in 11 s on
an H200 and 51 s on one CPU thread; width 64 overfitted (0.289), and 60 epochs, windows of 50
baskets or dropout 0.1 did no better (0.307 to 0.317). Memory does not grow with catalogue x
customers: the baskets are stored once as flat arrays (one int per product bought per day), the
re-order features once per (training step, product the customer bought up to it) pair, 6 bytes
each (1.3M pairs on UCI Online Retail), and a batch's logits (steps x catalogue) are computed in
chunks of at most 4M entries under activation checkpointing (a chunk is recomputed in the backward
pass instead of kept), about 16 MB each, so the softmax over 20k products is taken 200 steps at a
time: 2 epochs over 30k synthetic customers buying from 20k products (190k target baskets) peaked at
151 MiB of GPU memory. Serving reads each customer's last 20 baskets, SERVE_BATCH customers per
forward pass, and scores them in the candidates' batches (Candidate.recommend).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from shopinsight_pipeline.recommend.baskets import Baskets, ranges
from shopinsight_pipeline.recommend.candidates import BATCH_CELLS, Candidate, History, NotEnoughHistory
from shopinsight_pipeline.recommend.settings import RecommenderSettings, SequenceSettings

GAP_EDGES = (0, 1, 2, 4, 8, 15, 31, 61)  # bucket i holds gaps in [edge i, edge i+1) days; the last is 61+
FIRST_BASKET = len(GAP_EDGES)  # the gap bucket of a customer's first basket: nothing came before it
REPEAT_COUNT_EDGES = (1, 2, 3, 4, 6, 10, 20)  # baskets that held the product so far (bucket 0: never)
REPEAT_DAY_EDGES = (0, 3, 5, 7, 10, 14, 21, 28, 42, 60, 90, 120, 180, 270)  # days since it was last bought
REPEAT_RANK = 4  # per-product re-order cycle vectors
LOGIT_CHUNK = 1 << 22  # entries of a chunk of the training logits (steps x catalogue)
SERVE_BATCH = 4096  # customers per forward pass at serving


def bucket(values: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    """Bucket i holds values in [edge i, edge i+1); below the first edge counts as the first."""
    return np.searchsorted(np.asarray(edges), np.maximum(values, edges[0]), side="right") - 1


def gap_bucket(days: np.ndarray) -> np.ndarray:
    return bucket(days, GAP_EDGES)


def count_bucket(counts: np.ndarray) -> np.ndarray:
    """0 where the product was never bought, else 1 + its bucket in REPEAT_COUNT_EDGES."""
    return np.where(counts > 0, bucket(counts, REPEAT_COUNT_EDGES) + 1, 0)


class Block(nn.Module):
    """A pre-norm transformer block whose attention takes a boolean mask (True: may attend)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.feed = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.dropout(self.feed(self.norm2(x)))


class SequenceRecommender(nn.Module):
    """Baskets (flat product indices with offsets, one bag per step; empty bags pad) -> a query
    vector per step; a product's logit is query . product vector + product bias + the re-order
    bias of the customer's own history of it."""

    def __init__(self, items: int, settings: SequenceSettings):
        super().__init__()
        dim = settings.dim
        self.items = nn.Embedding(items, dim)  # a basket's input and a product's output vector (tied)
        self.bias = nn.Parameter(torch.zeros(items))
        self.positions = nn.Embedding(settings.max_length, dim)
        self.gaps = nn.Embedding(len(GAP_EDGES) + 1, dim)  # the last: a customer's first basket
        self.elapsed = nn.Embedding(len(GAP_EDGES), dim)
        self.blocks = nn.ModuleList(Block(dim, settings.heads, settings.dropout) for _ in range(settings.layers))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(settings.dropout)
        self.repeat_table = nn.Parameter(torch.zeros(len(REPEAT_COUNT_EDGES), len(REPEAT_DAY_EDGES)))
        self.product_cycles = nn.Embedding(items, REPEAT_RANK)
        self.day_cycles = nn.Embedding(len(REPEAT_DAY_EDGES), REPEAT_RANK)
        for table in (self.items, self.positions, self.gaps, self.elapsed):  # small logits at the start
            nn.init.normal_(table.weight, std=dim**-0.5)
        for table in (self.product_cycles, self.day_cycles):
            nn.init.normal_(table.weight, std=0.1)

    def forward(
        self,
        items: torch.Tensor,
        offsets: torch.Tensor,
        gaps: torch.Tensor,
        valid: torch.Tensor,
        elapsed: torch.Tensor,
    ) -> torch.Tensor:
        """The query at every step (B x L x dim): what the next basket's products should look like.
        `valid` (B x L) marks real baskets; padding (False) is never attended to."""
        batch, length = valid.shape
        steps = F.embedding_bag(items, self.items.weight, offsets, mode="mean").view(batch, length, -1)
        positions = (valid.long().cumsum(1) - 1).clamp(min=0)  # from the window's first basket
        hidden = self.dropout(steps + self.positions(positions) + self.gaps(gaps))
        causal = torch.ones(length, length, dtype=torch.bool, device=valid.device).tril()
        itself = torch.eye(length, dtype=torch.bool, device=valid.device)
        allowed = (causal[None] & valid[:, None, :]) | itself[None]  # a padded step reads itself: no NaN
        for block in self.blocks:
            hidden = block(hidden, allowed)
        return self.norm(hidden + self.elapsed(elapsed))

    queries = forward

    def product_vectors(self) -> torch.Tensor:
        return self.items.weight  # products x dim

    def repeat_bias(self, items: torch.Tensor, counts: torch.Tensor, days: torch.Tensor) -> torch.Tensor:
        """The re-order bias of each (product, count bucket, days bucket); 0 where count is 0 (never bought)."""
        table = self.repeat_table[(counts - 1).clamp(min=0), days]
        cycle = (self.product_cycles(items) * self.day_cycles(days)).sum(-1)
        return torch.where(counts > 0, table + cycle, torch.zeros_like(table))

    def logits(
        self, queries: torch.Tensor, rows: torch.Tensor, items: torch.Tensor, counts: torch.Tensor, days: torch.Tensor
    ) -> torch.Tensor:
        """Logits over the catalogue of each query (N x products, float32), with the re-order
        biases of the (row, item) pairs the queries' customers bought before."""
        logits = (queries @ self.items.weight.T).float() + self.bias.float()
        return logits.index_put((rows, items), self.repeat_bias(items, counts, days).float(), accumulate=True)


def _chunk_logsumexp(
    queries: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    rows: torch.Tensor,
    items: torch.Tensor,
    repeats: torch.Tensor,
) -> torch.Tensor:
    logits = (queries @ weight.T).float() + bias.float()
    return logits.index_put((rows, items), repeats.float(), accumulate=True).logsumexp(dim=1)


def basket_loss(model: SequenceRecommender, queries: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the batch's steps of the cross-entropy of the next basket: each of its products'
    log-probability, weighted 1/|basket|. Only the target entries are gathered; the softmax's
    normaliser is computed in chunks of LOGIT_CHUNK entries (checkpointed when there are several)."""
    from torch.utils.checkpoint import checkpoint

    steps = queries[batch["valid"]]  # P x dim, row-major: the rows the batch's targets and history name
    weight, bias = model.items.weight, model.bias
    rows, items = batch["history_rows"], batch["history_items"]
    repeats = model.repeat_bias(items, batch["history_counts"], batch["history_days"])
    chunk = max(1, LOGIT_CHUNK // weight.shape[0])
    if len(steps) <= chunk:
        normaliser = _chunk_logsumexp(steps, weight, bias, rows, items, repeats)
    else:
        starts = torch.arange(0, len(steps) + chunk, chunk, device=rows.device)
        bounds = torch.searchsorted(rows, starts).tolist()
        parts = []
        for i, start in enumerate(range(0, len(steps), chunk)):
            lo, hi = bounds[i], bounds[i + 1]
            part = checkpoint(
                _chunk_logsumexp,
                steps[start : start + chunk],
                weight,
                bias,
                rows[lo:hi] - start,
                items[lo:hi],
                repeats[lo:hi],
                use_reentrant=False,
            )
            parts.append(part)
        normaliser = torch.cat(parts)
    target_rows, target_items = batch["target_rows"], batch["target_items"]
    target = (
        (steps[target_rows] * weight[target_items]).sum(-1).float()
        + bias[target_items].float()
        + model.repeat_bias(target_items, batch["target_counts"], batch["target_days"]).float()
    )
    return (batch["target_weights"] * (normaliser[target_rows] - target)).sum() / max(len(steps), 1)


def gap_buckets(baskets: Baskets) -> np.ndarray:
    """The gap bucket of each basket: days since the customer's basket before (FIRST_BASKET: none)."""
    gaps = gap_bucket(np.diff(baskets.day, prepend=baskets.day[:1]))
    first = baskets.first
    gaps[first[:-1][np.diff(first) > 0]] = FIRST_BASKET
    return gaps


class TrainingData(Dataset[int]):
    """The training windows of every customer with two baskets or more, and the batches of them.

    A step (row) is a basket that has a next one; its target is that next basket. Each customer's
    steps are cut, from the latest back, into windows of at most `max_length`. The re-order
    features of a step are, for each product the customer bought in it or before, the count of
    their baskets that held it and the days from the last of those to the target basket's day."""

    def __init__(self, baskets: Baskets, products: int, max_length: int):
        self.baskets, self.products, self.max_length = baskets, products, max_length
        first, days = baskets.first, baskets.day
        counts = np.diff(first)
        trained = np.flatnonzero(counts >= 2)
        self.customers = len(trained)  # customers with two purchase days or more
        self.steps = int((counts[trained] - 1).sum())
        windows = -(-(counts[trained] - 1) // max_length)
        owner = np.repeat(trained, windows)
        back = ranges(np.zeros(len(trained), dtype=np.int64), windows)  # 0: the latest window
        self.stops = first[owner + 1] - 1 - back * max_length
        self.starts = np.maximum(first[owner], self.stops - max_length)
        self.gaps = gap_buckets(baskets)
        following = np.minimum(np.arange(len(days)) + 1, max(len(days) - 1, 0))
        self.elapsed = gap_bucket(days[following] - days)
        # re-order pairs: each purchase (basket b, product p) is the customer's latest of p for the
        # steps from b up to the next basket holding p (or the customer's last step)
        customer = baskets.customer
        basket_of_item = np.repeat(np.arange(len(days)), baskets.sizes)
        order = np.lexsort((basket_of_item, baskets.flat_items, customer[basket_of_item]))
        held, item = basket_of_item[order], baskets.flat_items[order]
        same = np.zeros(len(order), dtype=bool)
        same[:-1] = (item[1:] == item[:-1]) & (customer[held[1:]] == customer[held[:-1]])
        group_start = np.flatnonzero(np.r_[True, ~same[:-1]]) if len(order) else np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[group_start, len(order)])
        nth = np.arange(len(order)) - np.repeat(group_start, sizes) + 1  # baskets holding p so far
        last_step = first[customer[held] + 1] - 1  # exclusive: the customer's last basket is no step
        following_purchase = np.zeros_like(held)
        following_purchase[:-1] = held[1:]
        until = np.where(same, following_purchase, last_step)
        lengths = np.maximum(until - held, 0)
        pick = np.repeat(np.arange(len(order)), lengths)
        step = ranges(held, until)
        pairs = np.lexsort((item[pick], step))
        self.pair_starts = np.searchsorted(step[pairs], np.arange(len(days) + 1)).astype(np.int64)
        self.pair_items = item[pick][pairs].astype(np.int32)
        self.pair_counts = count_bucket(nth[pick][pairs]).astype(np.int8)
        since = days[step[pairs] + 1] - days[held[pick][pairs]]
        self.pair_days = bucket(since, REPEAT_DAY_EDGES).astype(np.int8)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, window: int) -> int:
        return window

    def collate(self, windows: Sequence[int]) -> dict[str, torch.Tensor]:
        """The batch of the given windows: inputs (left-padded), targets and re-order features."""
        chosen = np.asarray(windows, dtype=np.int64)
        starts, stops = self.starts[chosen], self.stops[chosen]
        batch = step_inputs(self.baskets, starts, stops, self.gaps, self.elapsed)
        steps = ranges(starts, stops)  # the valid steps, row-major as queries[valid] orders them
        baskets = self.baskets
        following = steps + 1
        sizes = baskets.sizes[following]
        target_rows = np.repeat(np.arange(len(steps)), sizes)
        target_items = baskets.products(following)
        pair_index = ranges(self.pair_starts[steps], self.pair_starts[steps + 1])
        history_rows = np.repeat(np.arange(len(steps)), self.pair_starts[steps + 1] - self.pair_starts[steps])
        history_items = self.pair_items[pair_index].astype(np.int64)
        keys = history_rows * self.products + history_items  # ascending: rows in order, items sorted
        wanted = target_rows * self.products + target_items
        position = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        found = (keys[position] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
        history_counts = self.pair_counts[pair_index].astype(np.int64)
        history_days = self.pair_days[pair_index].astype(np.int64)
        batch |= {
            "target_rows": torch.from_numpy(target_rows),
            "target_items": torch.from_numpy(target_items),
            "target_weights": torch.from_numpy(np.repeat(1.0 / sizes, sizes).astype(np.float32)),
            "target_counts": torch.from_numpy(np.where(found, history_counts[position] if len(keys) else 0, 0)),
            "target_days": torch.from_numpy(np.where(found, history_days[position] if len(keys) else 0, 0)),
            "history_rows": torch.from_numpy(history_rows),
            "history_items": torch.from_numpy(history_items),
            "history_counts": torch.from_numpy(history_counts),
            "history_days": torch.from_numpy(history_days),
        }
        return batch


def step_inputs(
    baskets: Baskets, starts: np.ndarray, stops: np.ndarray, gaps: np.ndarray, elapsed: np.ndarray
) -> dict[str, torch.Tensor]:
    """The model's inputs for windows of baskets [start, stop) each, left-padded to the longest:
    the bags' products and offsets, the gap and elapsed buckets, and which steps are real."""
    lengths = stops - starts
    length = max(int(lengths.max()) if len(lengths) else 1, 1)
    column = np.arange(length)
    pad = length - lengths
    valid = column[None, :] >= pad[:, None]
    basket = np.where(valid, starts[:, None] + column[None, :] - pad[:, None], 0)
    sizes = np.where(valid, baskets.sizes[basket], 0).reshape(-1)
    real = basket[valid]
    return {
        "items": torch.from_numpy(baskets.products(real)),
        "offsets": torch.from_numpy(np.cumsum(sizes) - sizes),
        "gaps": torch.from_numpy(np.where(valid, gaps[basket], 0)),
        "valid": torch.from_numpy(valid),
        "elapsed": torch.from_numpy(np.where(valid, elapsed[basket], 0)),
    }


MODEL_INPUTS = ("items", "offsets", "gaps", "valid", "elapsed")


@dataclass
class TrainReport:
    epochs: int
    steps: int
    examples_per_second: float  # target baskets per second
    seconds: float
    final_loss: float
    device: str
    history: list[float]
    customers: int = 0  # trained on: those with two purchase days or more
    target_baskets: int = 0  # baskets predicted from the ones before, per epoch
    stopped_by_budget: bool = False  # the CPU's time budget (SequenceSettings.cpu_max_seconds) ended it

    def as_dict(self) -> dict:
        return asdict(self)


def training_data(purchases: pl.DataFrame, product_ids: Sequence[str], settings: SequenceSettings) -> TrainingData:
    """The windows train_sequence_model trains on; raises when fewer than two customers bought on
    two days or more."""
    index = {product: i for i, product in enumerate(product_ids)}
    data = TrainingData(Baskets.of(purchases, index), len(index), settings.max_length)
    if data.customers < 2:
        raise NotEnoughHistory(
            f"{data.customers} of {len(data.baskets.customers)} customers bought on two days or more: "
            "a sequence model needs at least 2 to learn what comes next"
        )
    return data


def train_sequence_model(
    purchases: pl.DataFrame,
    product_ids: Sequence[str],
    settings: SequenceSettings,
    log: Callable[[str], None] = print,
) -> tuple[SequenceRecommender, TrainReport]:
    """Fit next-basket prediction on every customer with two or more purchase days."""
    data = training_data(purchases, product_ids, settings)
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _train(data, len(product_ids), settings, log)
    finally:
        torch.set_num_threads(threads)


def _train(
    data: TrainingData, products: int, settings: SequenceSettings, log: Callable[[str], None]
) -> tuple[SequenceRecommender, TrainReport]:
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    accelerator = Accelerator(cpu=settings.cpu, mixed_precision=settings.mixed_precision)
    set_seed(settings.seed)
    model = SequenceRecommender(products, settings)
    loader = DataLoader(data, batch_size=settings.batch_size, shuffle=True, collate_fn=data.collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    core = accelerator.unwrap_model(model)
    history, steps, examples = [], 0, 0
    planned = settings.epochs * len(loader)
    budget = settings.cpu_max_seconds if accelerator.device.type == "cpu" else 0.0
    started = time.perf_counter()
    bar = tqdm(range(settings.epochs), desc="sequence model", disable=not accelerator.is_local_main_process)
    for _ in bar:
        model.train()
        total, batches = 0.0, 0
        for batch in loader:
            queries = model(*(batch[name] for name in MODEL_INPUTS))
            with accelerator.autocast():
                loss = basket_loss(core, queries, batch)
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            total, batches, steps = total + loss.item(), batches + 1, steps + 1
            examples += int(batch["valid"].sum()) * accelerator.num_processes
            if budget and time.perf_counter() - started >= budget:
                break
        history.append(total / max(batches, 1))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if budget and time.perf_counter() - started >= budget:
            break
    seconds = time.perf_counter() - started
    stopped = steps < planned
    if stopped:
        log(
            f"sequence model: stopped by the CPU budget of {budget:g} s after {steps} of {planned} steps "
            "(cpu_max_seconds; a GPU trains every epoch)"
        )
    trained = accelerator.unwrap_model(model).to("cpu").eval()
    log(
        f"sequence model: {data.customers} customers with two purchase days or more, {data.steps} target "
        f"baskets; {steps} steps in {seconds:.1f}s on {accelerator.device}, final loss {history[-1]:.4f}"
    )
    report = TrainReport(
        settings.epochs,
        steps,
        examples / seconds if seconds else 0.0,
        seconds,
        history[-1],
        str(accelerator.device),
        history,
        data.customers,
        data.steps,
        stopped,
    )
    return trained, report


def _ordinal(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def basket_queries(
    model: SequenceRecommender,
    baskets: Baskets,
    rows: np.ndarray,
    as_of: date,
    max_length: int,
    horizon: int = 7,
) -> np.ndarray:
    """The query vectors (len(rows) x dim, float32) of the customers `rows` of `baskets` (-1: none,
    a row of NaN) on `as_of`: read at each one's last basket, with the days from it to the middle of
    the coming `horizon` days; at most `max_length` baskets back, SERVE_BATCH customers at a time."""
    queries = np.full((len(rows), model.product_vectors().shape[1]), np.nan, dtype=np.float32)
    present = np.flatnonzero(rows >= 0)
    if not len(present):
        return queries
    stops = baskets.first[rows[present] + 1]
    starts = np.maximum(baskets.first[rows[present]], stops - max_length)
    elapsed = np.zeros(len(baskets.day), dtype=np.int64)  # only the last basket's query is read
    elapsed[stops - 1] = gap_bucket(_ordinal(as_of) + horizon // 2 - baskets.day[stops - 1])
    gaps = gap_buckets(baskets)
    with torch.no_grad():
        for lo in range(0, len(present), SERVE_BATCH):
            hi = min(lo + SERVE_BATCH, len(present))
            inputs = step_inputs(baskets, starts[lo:hi], stops[lo:hi], gaps, elapsed)
            last = model.queries(*(inputs[name] for name in MODEL_INPUTS))[:, -1]
            queries[present[lo:hi]] = last.float().numpy()
    return queries


def customer_queries(
    model: SequenceRecommender,
    purchases: pl.DataFrame,
    product_ids: Sequence[str],
    customers: Sequence[str],
    as_of: date,
    settings: SequenceSettings,
    horizon: int = 7,
) -> np.ndarray:
    """Each customer's query vector on `as_of` (customers x dim, float32): what its next basket
    should look like (see basket_queries). A customer without purchases of the model's products
    gets a row of NaN."""
    index = {product: i for i, product in enumerate(product_ids)}
    baskets = Baskets.of(purchases.filter(pl.col("customer_id").is_in(list(customers))), index)
    row_of = {customer: i for i, customer in enumerate(baskets.customers)}
    rows = np.array([row_of.get(customer, -1) for customer in customers], dtype=np.int64)
    return basket_queries(model, baskets, rows, as_of, settings.max_length, horizon)


@dataclass
class RepeatHistory:
    """Each customer's products bought before (model indices), with the number of purchase days
    that held each and the last of them: the re-order features at serving."""

    rows: dict[str, int]
    starts: np.ndarray
    items: np.ndarray
    counts: np.ndarray
    last: np.ndarray  # days since 1970-01-01

    @classmethod
    def of(cls, baskets: Baskets) -> "RepeatHistory":
        customer = np.repeat(baskets.customer, baskets.sizes)
        day = np.repeat(baskets.day, baskets.sizes)
        frame = (
            pl.DataFrame({"customer": customer, "item": baskets.flat_items, "day": day})
            .group_by("customer", "item")
            .agg(pl.len().alias("count"), pl.col("day").max().alias("last"))
            .sort("customer", "item")
        )
        starts = np.searchsorted(frame["customer"].to_numpy(), np.arange(len(baskets.customers) + 1))
        return cls(
            {c: i for i, c in enumerate(baskets.customers)},
            starts.astype(np.int64),
            frame["item"].to_numpy().astype(np.int64),
            frame["count"].to_numpy().astype(np.int64),
            frame["last"].to_numpy().astype(np.int64),
        )

    def features(self, customers: Sequence[str], as_of: date, horizon: int) -> tuple[np.ndarray, ...]:
        """(row in `customers`, product, count bucket, days bucket) of every product each bought,
        the days counted to the middle of the coming `horizon` days."""
        rows = np.array([self.rows.get(customer, -1) for customer in customers], dtype=np.int64)
        present = np.flatnonzero(rows >= 0)
        lo, hi = self.starts[rows[present]], self.starts[rows[present] + 1]
        picked = ranges(lo, hi)
        return (
            np.repeat(present, hi - lo),
            self.items[picked],
            count_bucket(self.counts[picked]),
            bucket(_ordinal(as_of) + horizon // 2 - self.last[picked], REPEAT_DAY_EDGES),
        )


def next_product_probabilities(
    model: SequenceRecommender,
    queries: np.ndarray,
    repeats: tuple[np.ndarray, ...] | None = None,
    fallback: np.ndarray | None = None,
) -> np.ndarray:
    """Softmax over the products of each query (customers x products) with the re-order biases
    `repeats` (RepeatHistory.features of the same customers); a customer without a query (NaN)
    gets `fallback`, by default the mean of the others' (the model has nothing of theirs to read)."""
    missing = np.isnan(queries).any(axis=1)
    products = model.product_vectors().shape[0]
    probabilities = np.zeros((len(queries), products), dtype=np.float32)
    if (~missing).any():
        known_rows = np.flatnonzero(~missing)
        local = np.full(len(queries), -1, dtype=np.int64)
        local[known_rows] = np.arange(len(known_rows))
        rows, items, counts, days = repeats if repeats is not None else (np.zeros(0, dtype=np.int64),) * 4
        keep = local[rows] >= 0
        with torch.no_grad():
            logits = model.logits(
                torch.from_numpy(queries[known_rows]),
                torch.from_numpy(local[rows[keep]]),
                *(torch.from_numpy(np.asarray(a[keep], dtype=np.int64)) for a in (items, counts, days)),
            )
            probabilities[known_rows] = torch.softmax(logits, dim=1).numpy()
        if fallback is None:
            fallback = probabilities[known_rows].mean(axis=0)
    if missing.any() and fallback is not None:
        probabilities[missing] = fallback
    return probabilities


class SequenceCandidate(Candidate):
    """The sequence model as a recommender candidate: trained on `purchases` unless a trained
    `model` is given, its next-product probabilities (with each customer's re-order biases) ranked
    under the shared exclusions. The customers' baskets are built once, here."""

    name = "sequence"

    def __init__(
        self,
        purchases: pl.DataFrame,
        history: History,
        settings: RecommenderSettings,
        flagged: Sequence[str] = (),
        sequence_settings: SequenceSettings | None = None,
        model: SequenceRecommender | None = None,
        model_products: Sequence[str] | None = None,
        log: Callable[[str], None] = print,
    ):
        super().__init__(history, settings, flagged)
        self.purchases = purchases
        self.sequence_settings = sequence_settings or SequenceSettings()
        self.product_ids = list(model_products or history.catalogue.product_ids)  # the model's own catalogue
        self.report: TrainReport | None = None
        if model is None:
            model, self.report = train_sequence_model(purchases, self.product_ids, self.sequence_settings, log)
        self.model = model
        # where each of the model's products sits in the history's catalogue (a product the model
        # never saw scores 0; one the catalogue lacks is dropped)
        self.columns = np.array([history.catalogue.index.get(p, -1) for p in self.product_ids])
        self.baskets = Baskets.of(purchases, {product: i for i, product in enumerate(self.product_ids)})
        self.repeats = RepeatHistory.of(self.baskets)
        self._prior: np.ndarray | None = None

    def queries(self, customers: Sequence[str]) -> np.ndarray:
        """The customers' query vectors on the history's day (NaN rows: customers unknown to the model)."""
        rows = np.array([self.repeats.rows.get(customer, -1) for customer in customers], dtype=np.int64)
        return basket_queries(
            self.model,
            self.baskets,
            rows,
            self.history.as_of,
            self.sequence_settings.max_length,
            self.settings.due_within_days,
        )

    def prior(self) -> np.ndarray:
        """What a customer the model knows nothing of gets: the mean next-product probabilities of
        the (up to batch_customers) most recent buyers, the same whatever batch asks."""
        if self._prior is None:
            names = list(self.repeats.rows)  # sorted: row i is names[i]
            if names:
                last = np.maximum.reduceat(self.repeats.last, self.repeats.starts[:-1])
                recent = [names[i] for i in np.argsort(-last, kind="stable")[: self.settings.batch_customers]]
                size = max(1, BATCH_CELLS // max(len(self.product_ids), 1))
                total = np.zeros(len(self.product_ids), dtype=np.float64)
                for lo in range(0, len(recent), size):
                    chunk = recent[lo : lo + size]
                    total += self.probabilities(chunk, self.queries(chunk)).sum(axis=0)
                self._prior = (total / len(recent)).astype(np.float32)
            else:
                self._prior = np.full(len(self.product_ids), 1.0 / max(len(self.product_ids), 1), dtype=np.float32)
        return self._prior

    def probabilities(
        self, customers: Sequence[str], queries: np.ndarray, fallback: np.ndarray | None = None
    ) -> np.ndarray:
        """Next-product probabilities (customers x the model's products) from the customers' queries."""
        repeats = self.repeats.features(customers, self.history.as_of, self.settings.due_within_days)
        return next_product_probabilities(self.model, queries, repeats, fallback)

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        return self.rank(customers, self.queries(customers), k)

    def rank(self, customers: Sequence[str], queries: np.ndarray, k: int) -> pl.DataFrame:
        """The top-k table from the customers' query vectors: the model's probabilities (with each
        customer's re-order biases) placed in the history's catalogue, the exclusions, the best k,
        the reasons."""
        fallback = self.prior() if np.isnan(queries).any() else None
        model_scores = self.probabilities(customers, queries, fallback)
        scores = np.zeros((len(customers), len(self.history.catalogue)), dtype=np.float32)
        present = self.columns >= 0
        scores[:, self.columns[present]] = model_scores[:, present]
        top, top_scores = self.best(customers, scores, k)
        reasons = [[self.reason(customer)] * len(row) for customer, row in zip(customers, top, strict=True)]
        return self.frame(customers, top, top_scores, reasons)

    def reason(self, customer: str) -> str:
        """What the model's prediction follows: the customer's latest basket, named (its sequence
        ends there; the first 3 products and how many more), or that it is a new customer's."""
        basket = self.history.latest_basket(customer)
        if not basket:
            return "predicted for new customers"
        named = ", ".join(self.history.catalogue.label(product) for product in basket[:3])
        more = f" and {len(basket) - 3} more" if len(basket) > 3 else ""
        return f"predicted next purchase after {named}{more} (sequence model)"


MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"
MODEL_FORMAT = 2  # 1: the per-product model before baskets (no "format" key); its weights do not fit


def save_sequence_model(
    model: SequenceRecommender, settings: SequenceSettings, product_ids: Sequence[str], folder
) -> None:
    """Weights as safetensors and the settings and catalogue as JSON, into `folder` (which the
    caller swaps into place atomically)."""
    import json

    from safetensors.torch import save_file

    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, str(folder / MODEL_FILE))
    config = {"format": MODEL_FORMAT, "settings": asdict(settings), "product_ids": list(product_ids)}
    (folder / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")


def load_sequence_model(folder) -> tuple[SequenceRecommender, SequenceSettings, list[str]]:
    """The model saved by save_sequence_model and published by swap_folder (safetensors only:
    nothing is unpickled); on an object store only a committed folder, both files of one publish."""
    import json

    from safetensors.torch import load
    from upath import UPath

    from shopinsight_pipeline.files import read_committed

    files = read_committed(UPath(folder), [CONFIG_FILE, MODEL_FILE])  # bytes: a local or object-store folder
    config = json.loads(files[CONFIG_FILE])
    if config.get("format") != MODEL_FORMAT:
        raise ValueError(
            f"{folder} holds a sequence model of format {config.get('format', 1)}, this code reads format "
            f"{MODEL_FORMAT} (the basket model): materialize recommender_model again before the recommendations"
        )
    settings = SequenceSettings(**config["settings"])
    model = SequenceRecommender(len(config["product_ids"]), settings)
    model.load_state_dict(load(files[MODEL_FILE]))
    return model.eval(), settings, config["product_ids"]
