"""The learned recommender: a small time-aware sequential transformer (SASRec-style), trained with
Accelerate on the GPU when there is one.

Why a sequence model and not matrix factorisation: what the shop's customers do next depends on
what they did last and how long ago (a case days after a phone, a consumable when its cycle ends),
which a factorisation of the customer x product matrix cannot express; co-occurrence expresses it
by counting, the transformer by learning. Each purchase is an item embedding plus its position and
the gap (bucketed days) since the purchase before; causal self-attention reads the sequence, and the
query at each position adds the time elapsed until the next purchase (at serving: until the middle
of the coming week). A full softmax over the catalogue predicts the next product.

Sizing: the catalogue is small (about 100 products on the sample, 5,000 in the benchmark) and a
customer has a handful to a few dozen purchases, so 2 layers of width 32 with 2 heads over the last
20 purchases (about 18k weights plus 32 per product) learn the planted structure without
memorising customers; dropout 0.2 and weight decay regularise it. Wider models did not help on the
sample (the signal is in order and timing, not in capacity).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import polars as pl
import torch
from torch import nn

from shopinsight_pipeline.recommend.candidates import Candidate, History
from shopinsight_pipeline.recommend.settings import RecommenderSettings, SequenceSettings

GAP_EDGES = (0, 1, 2, 4, 8, 15, 31)  # bucket i holds gaps in [edge i, edge i+1) days; the last is 31+


def gap_bucket(days: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(GAP_EDGES), np.maximum(days, 0), side="right") - 1


class SequenceRecommender(nn.Module):
    """Items (index 0: padding) -> next-item logits over the catalogue at every position."""

    def __init__(self, items: int, settings: SequenceSettings):
        super().__init__()
        self.items = nn.Embedding(items + 1, settings.dim, padding_idx=0)
        self.positions = nn.Embedding(settings.max_length, settings.dim)
        self.gaps = nn.Embedding(len(GAP_EDGES), settings.dim)
        self.elapsed = nn.Embedding(len(GAP_EDGES), settings.dim)
        layer = nn.TransformerEncoderLayer(
            settings.dim,
            settings.heads,
            settings.dim * 2,
            settings.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, settings.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(settings.dim)
        self.dropout = nn.Dropout(settings.dropout)
        for table in (self.items, self.positions, self.gaps, self.elapsed):  # small logits at the start
            nn.init.normal_(table.weight, std=settings.dim**-0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()
        self.causal: torch.Tensor
        mask = torch.triu(torch.full((settings.max_length, settings.max_length), float("-inf")), diagonal=1)
        self.register_buffer("causal", mask, persistent=False)

    def queries(self, items: torch.Tensor, gaps: torch.Tensor, elapsed: torch.Tensor) -> torch.Tensor:
        """The query vector at every position (B x L x dim): what the next product should look like."""
        length = items.shape[1]
        positions = torch.arange(length, device=items.device)
        hidden = self.dropout(self.items(items) + self.positions(positions)[None] + self.gaps(gaps))
        hidden = self.encoder(hidden, mask=self.causal[:length, :length], is_causal=True)
        return self.norm(hidden + self.elapsed(elapsed))

    def product_vectors(self) -> torch.Tensor:
        return self.items.weight[1:]  # products x dim (row 0 pads)

    def forward(self, items: torch.Tensor, gaps: torch.Tensor, elapsed: torch.Tensor) -> torch.Tensor:
        return self.queries(items, gaps, elapsed) @ self.product_vectors().T  # B x L x products


@dataclass
class Sequences:
    """Left-padded item indices (1-based; 0 pads), gap buckets and, per position, the bucket of the
    days until the next purchase, with the next item as the target (-100 where there is none)."""

    customers: list[str]
    items: np.ndarray
    gaps: np.ndarray
    elapsed: np.ndarray
    targets: np.ndarray


def sequences(
    purchases: pl.DataFrame, index: dict[str, int], max_length: int, as_of: date | None = None, horizon: int = 7
) -> Sequences:
    """Each customer's purchase sequence (one entry per product and day, oldest first). For
    training (`as_of` None) the inputs are all but the last purchase and the targets the next ones;
    for serving, the inputs are the latest purchases and the last position's elapsed time is the
    days from the last purchase to the middle of the coming `horizon` days."""
    rows = (
        purchases.select("customer_id", "product_id", "day")
        .unique()
        .sort("customer_id", "day", "product_id")
        .group_by("customer_id", maintain_order=True)
        .agg("product_id", "day")
    )
    count = rows.height
    items = np.zeros((count, max_length), dtype=np.int64)
    gaps = np.zeros((count, max_length), dtype=np.int64)
    elapsed = np.zeros((count, max_length), dtype=np.int64)
    targets = np.full((count, max_length), -100, dtype=np.int64)
    for row, (products, days) in enumerate(zip(rows["product_id"], rows["day"], strict=True)):
        ids = np.array([index[p] + 1 for p in products], dtype=np.int64)
        ordinals = np.array([day.toordinal() for day in days], dtype=np.int64)
        step_gaps = gap_bucket(np.diff(ordinals, prepend=ordinals[0]))
        if as_of is None:
            inputs, nexts = slice(0, len(ids) - 1), slice(1, len(ids))
            seen, following = ids[inputs][-max_length:], ids[nexts][-max_length:]
            until = gap_bucket(ordinals[nexts] - ordinals[inputs])[-max_length:]
            targets[row, max_length - len(following) :] = following - 1
        else:
            seen = ids[-max_length:]
            until = np.zeros(len(seen), dtype=np.int64)
            if len(seen):
                until[-1] = gap_bucket(np.array([as_of.toordinal() - ordinals[-1] + horizon // 2]))[0]
        n = len(seen)
        if n:
            items[row, max_length - n :] = seen
            gaps[row, max_length - n :] = step_gaps[: len(ids) if as_of is not None else len(ids) - 1][-n:]
            elapsed[row, max_length - n :] = until
    return Sequences(rows["customer_id"].to_list(), items, gaps, elapsed, targets)


@dataclass
class TrainReport:
    epochs: int
    steps: int
    examples_per_second: float
    seconds: float
    final_loss: float
    device: str
    history: list[float]

    def as_dict(self) -> dict:
        return asdict(self)


def train_sequence_model(
    purchases: pl.DataFrame,
    product_ids: Sequence[str],
    settings: SequenceSettings,
    log: Callable[[str], None] = print,
) -> tuple[SequenceRecommender, TrainReport]:
    """Fit next-item prediction on every customer with two or more purchase days."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader, TensorDataset
    from tqdm.auto import tqdm

    index = {product: i for i, product in enumerate(product_ids)}
    data = sequences(purchases, index, settings.max_length)
    keep = (data.targets != -100).any(axis=1)
    if keep.sum() < 2:
        raise ValueError(f"{int(keep.sum())} customers bought on two days or more: nothing to learn a sequence from")
    accelerator = Accelerator(cpu=settings.cpu, mixed_precision=settings.mixed_precision)
    set_seed(settings.seed)
    model = SequenceRecommender(len(product_ids), settings)
    tensors = [torch.from_numpy(array[keep]) for array in (data.items, data.gaps, data.elapsed, data.targets)]
    loader = DataLoader(TensorDataset(*tensors), batch_size=settings.batch_size, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    loss_function = nn.CrossEntropyLoss(ignore_index=-100)
    history, steps, examples = [], 0, 0
    started = time.perf_counter()
    bar = tqdm(range(settings.epochs), desc="sequence model", disable=not accelerator.is_local_main_process)
    for _ in bar:
        model.train()
        total, batches = 0.0, 0
        for items, gaps, elapsed, targets in loader:
            logits = model(items, gaps, elapsed)
            loss = loss_function(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            total, batches, steps = total + loss.item(), batches + 1, steps + 1
            examples += int((targets != -100).sum()) * accelerator.num_processes
        history.append(total / max(batches, 1))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    seconds = time.perf_counter() - started
    model = accelerator.unwrap_model(model).to("cpu").eval()
    log(f"sequence model: {steps} steps in {seconds:.1f}s on {accelerator.device}, final loss {history[-1]:.4f}")
    report = TrainReport(
        settings.epochs,
        steps,
        examples / seconds if seconds else 0.0,
        seconds,
        history[-1],
        str(accelerator.device),
        history,
    )
    return model, report


def customer_queries(
    model: SequenceRecommender,
    purchases: pl.DataFrame,
    product_ids: Sequence[str],
    customers: Sequence[str],
    as_of: date,
    settings: SequenceSettings,
    horizon: int = 7,
) -> np.ndarray:
    """Each customer's query vector on `as_of` (customers x dim, float32): what its next product
    should look like. A customer without purchases of the model's products gets a row of NaN."""
    index = {product: i for i, product in enumerate(product_ids)}
    mine = purchases.filter(pl.col("customer_id").is_in(list(customers)) & pl.col("product_id").is_in(list(index)))
    data = sequences(mine, index, settings.max_length, as_of=as_of, horizon=horizon)
    queries = np.full((len(customers), model.product_vectors().shape[1]), np.nan, dtype=np.float32)
    if data.customers:
        with torch.no_grad():
            batch = [torch.from_numpy(a) for a in (data.items, data.gaps, data.elapsed)]
            known = model.queries(*batch)[:, -1, :].float().numpy()  # only the last position is asked
        row_of = {customer: i for i, customer in enumerate(customers)}
        queries[[row_of[customer] for customer in data.customers]] = known
    return queries


def next_product_probabilities(model: SequenceRecommender, queries: np.ndarray) -> np.ndarray:
    """Softmax over the products of each query (customers x products); a customer without a query
    (NaN) gets the mean of the others' (the model has nothing of theirs to read)."""
    vectors = model.product_vectors().detach().numpy()
    missing = np.isnan(queries).any(axis=1)
    probabilities = np.zeros((len(queries), len(vectors)), dtype=np.float32)
    if (~missing).any():
        logits = queries[~missing] @ vectors.T
        logits -= logits.max(axis=1, keepdims=True)
        known = np.exp(logits)
        known /= known.sum(axis=1, keepdims=True)
        probabilities[~missing] = known
        probabilities[missing] = known.mean(axis=0)
    return probabilities


class SequenceCandidate(Candidate):
    """The sequence model as a recommender candidate: trained on `purchases` unless a trained
    `model` is given, its next-product probabilities ranked under the shared exclusions."""

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

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        queries = customer_queries(
            self.model,
            self.purchases,
            self.product_ids,
            customers,
            self.history.as_of,
            self.sequence_settings,
            self.settings.due_within_days,
        )
        return self.rank(customers, queries, k)

    def rank(self, customers: Sequence[str], queries: np.ndarray, k: int) -> pl.DataFrame:
        """The top-k table from the customers' query vectors: the model's probabilities placed in the
        history's catalogue, the exclusions, the best k, the reasons."""
        model_scores = next_product_probabilities(self.model, queries)
        scores = np.zeros((len(customers), len(self.history.catalogue)), dtype=np.float32)
        present = self.columns >= 0
        scores[:, self.columns[present]] = model_scores[:, present]
        top, top_scores = self.best(customers, scores, k)
        known = [customer in self.history.customer_index for customer in customers]
        reasons = [
            ["predicted next purchase (sequence model)" if known[i] else "predicted for new customers"] * len(row)
            for i, row in enumerate(top)
        ]
        return self.frame(customers, top, top_scores, reasons)


MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"


def save_sequence_model(
    model: SequenceRecommender, settings: SequenceSettings, product_ids: Sequence[str], folder
) -> None:
    """Weights as safetensors and the settings and catalogue as JSON, into `folder` (which the
    caller swaps into place atomically)."""
    import json

    from safetensors.torch import save_file

    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, str(folder / MODEL_FILE))
    config = {"settings": asdict(settings), "product_ids": list(product_ids)}
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
    settings = SequenceSettings(**config["settings"])
    model = SequenceRecommender(len(config["product_ids"]), settings)
    model.load_state_dict(load(files[MODEL_FILE]))
    return model.eval(), settings, config["product_ids"]
