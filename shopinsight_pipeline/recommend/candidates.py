"""Recommender candidates fitted on purchases up to a day, scored for many customers in batches.

- `Popularity`: what sold lately (decayed counts), in the categories the customer buys: the
  baseline every recommender must beat.
- `RepeatPurchases`: the customer's own re-buys, frequency x recency: on real shops the strongest
  simple baseline (half of next week's purchases are re-buys on the Online Retail invoices).
- `CoOccurrence`: item to item. A product b bought by a customer within `horizon_days` after (or on
  the same day as) a product a counts for the pair (a, b), older pairs less (time decay); a
  customer's score for b sums P(b | a) over the products a it bought, recent ones more. The same
  counts of (a, a) are re-orders: a product re-bought on a cycle is recommended again when the
  customer's cycle is due. Popularity fills the lists of customers with little history. The pairs
  are counted from each basket's window of later baskets (recommend/baskets.py) into sparse
  matrices, so a real catalogue (thousands of products, customers with years of history) costs
  memory in proportion to the pairs that exist.

Both share the exclusion rules (`Exclusions`): never a product the customer bought in the last
`just_bought_days` unless it is re-bought on a cycle that is due; never a flagged product.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
from scipy import sparse

from shopinsight_pipeline.recommend.baskets import Baskets, weighted_pairs, without_diagonal
from shopinsight_pipeline.recommend.settings import K, RecommenderSettings


class NotEnoughHistory(ValueError):
    """The purchases cannot fit this candidate (a sequence model needs customers with two purchase
    days): the gate leaves it out and says why, the others still compete."""


BATCH_CELLS = 1 << 22  # 32 MB per float64 batch x products array


@dataclass(frozen=True)
class Catalogue:
    """Products with an index each (sorted ids), their categories and, where the data has them,
    their names (a `product_name` column), which reasons show beside the id."""

    product_ids: np.ndarray
    categories: np.ndarray
    index: dict[str, int] = field(repr=False)
    names: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, products: pl.DataFrame) -> "Catalogue":
        named = "product_name" in products.columns
        columns = ["product_id", "category", *(["product_name"] if named else [])]
        products = products.select(columns).unique("product_id", keep="last").sort("product_id")
        ids = products["product_id"].to_numpy()
        names = products["product_name"].to_numpy() if named else None
        return cls(ids, products["category"].to_numpy(), {product: i for i, product in enumerate(ids)}, names)

    def __len__(self) -> int:
        return len(self.product_ids)

    def label(self, product: int) -> str:
        """The product as a reason names it: its id, and its name when known."""
        name = self.names[product] if self.names is not None else None
        return f"{self.product_ids[product]} ({name})" if name else str(self.product_ids[product])


def _decay(days_ago: pl.Expr, half_life: float) -> pl.Expr:
    return pl.lit(0.5).pow(days_ago / half_life)


def _ordinal(day: date) -> int:
    """Days since 1970-01-01, as polars stores a date."""
    return (day - date(1970, 1, 1)).days


def _days_before(as_of: date, column: str = "day") -> pl.Expr:
    return (pl.lit(as_of) - pl.col(column)).dt.total_days()


def reorder_cycles(purchases: pl.DataFrame, settings: RecommenderSettings) -> pl.DataFrame:
    """Products customers buy again: the median days between a customer's consecutive purchases
    of the product, how many customers re-bought it, and whether that makes it cyclic."""
    days = purchases.select("customer_id", "product_id", "day").unique().sort("customer_id", "product_id", "day")
    gaps = days.with_columns(gap=pl.col("day").diff().dt.total_days().over("customer_id", "product_id")).filter(
        pl.col("gap").is_not_null()
    )
    buyers = days.group_by("product_id").agg(pl.col("customer_id").n_unique().alias("buyers"))
    repeats = gaps.group_by("product_id").agg(
        pl.col("gap").median().alias("cycle_days"), pl.col("customer_id").n_unique().alias("reorder_customers")
    )
    return (
        buyers.join(repeats, on="product_id", how="left")
        .with_columns(pl.col("reorder_customers").fill_null(0))
        .with_columns(
            cyclic=(pl.col("reorder_customers") >= settings.min_reorder_customers)
            & (pl.col("reorder_customers") / pl.col("buyers") >= settings.min_reorder_share)
        )
        .sort("product_id")
    )


@dataclass
class History:
    """What every candidate knows of the customers on `as_of`: their last purchase of each product,
    the re-order cycles, and so which products are excluded or due for whom."""

    as_of: date
    catalogue: Catalogue
    customer_index: dict[str, int]
    last_bought: sparse.csr_matrix  # days since the last purchase + 1 (0: never), customers x products
    cycles: np.ndarray  # median re-order cycle in days of each product; nan when not cyclic
    settings: RecommenderSettings

    @classmethod
    def of(cls, purchases: pl.DataFrame, catalogue: Catalogue, as_of: date, settings: RecommenderSettings) -> "History":
        customers = purchases["customer_id"].unique().sort().to_list()
        customer_index = {customer: i for i, customer in enumerate(customers)}
        last = purchases.group_by("customer_id", "product_id").agg(pl.col("day").max())
        rows = last["customer_id"].replace_strict(customer_index, return_dtype=pl.Int64).to_numpy()
        columns = last["product_id"].replace_strict(catalogue.index, return_dtype=pl.Int64).to_numpy()
        since = last.select(_days_before(as_of)).to_series().to_numpy().astype(np.float64) + 1
        matrix = sparse.csr_matrix((since, (rows, columns)), shape=(len(customers), len(catalogue)))
        cycles = np.full(len(catalogue), np.nan)
        for product, cycle, cyclic in (
            reorder_cycles(purchases, settings).select("product_id", "cycle_days", "cyclic").iter_rows()
        ):
            if cyclic and product in catalogue.index:
                cycles[catalogue.index[product]] = cycle
        return cls(as_of, catalogue, customer_index, matrix, cycles, settings)

    def latest_basket(self, customer: str) -> list[int]:
        """The catalogue indices of what the customer bought on their latest purchase day, in
        catalogue order (empty: a customer without history). The whole basket: one product of a
        same-day basket would be chosen by its id, not by anything the customer did."""
        row = self.customer_index.get(customer)
        if row is None:
            return []
        start, end = self.last_bought.indptr[row], self.last_bought.indptr[row + 1]
        if start == end:
            return []
        values, columns = self.last_bought.data[start:end], self.last_bought.indices[start:end]
        return sorted(int(column) for column in columns[values == values.min()])

    def since(self, customers: Sequence[str]) -> np.ndarray:
        """Days since each customer's last purchase of each product (nan: never), batch x products."""
        rows = [self.customer_index.get(customer, -1) for customer in customers]
        known = np.array([row for row in rows if row >= 0], dtype=np.int64)
        out = np.full((len(customers), len(self.catalogue)), np.nan)
        dense = self.last_bought[known].toarray() - 1 if len(known) else np.empty((0, len(self.catalogue)))
        dense[dense < 0] = np.nan
        out[[i for i, row in enumerate(rows) if row >= 0]] = dense
        return out

    def due(self, since: np.ndarray) -> np.ndarray:
        """Re-orders whose cycle ends within `due_within_days` (and half of it has passed)."""
        with np.errstate(invalid="ignore"):
            remaining = self.cycles[None, :] - since
            return (remaining <= self.settings.due_within_days) & (since >= 0.5 * self.cycles[None, :])

    def excluded(self, since: np.ndarray, flagged: np.ndarray) -> np.ndarray:
        """Just bought (and not a due re-order), or flagged."""
        with np.errstate(invalid="ignore"):
            just_bought = since < self.settings.just_bought_days
        return (just_bought & ~self.due(since)) | flagged[None, :]


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the k best finite entries of each row, best first."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)


def recommendation_frame(
    customers: Sequence[str], products: np.ndarray, scores: np.ndarray, reasons: list[list[str]], candidate: str
) -> pl.DataFrame:
    """One row per (customer, recommended product), excluded entries (-inf) dropped."""
    k = products.shape[1]
    frame = pl.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(customers, dtype=object), k).astype(str),
            "product_id": products.reshape(-1).astype(str),
            "score": scores.reshape(-1).astype(np.float64),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int32), len(customers)),
            "candidate": [candidate] * (len(customers) * k),
            "reason": [reason for row in reasons for reason in row],
        },
        schema_overrides={"customer_id": pl.String, "product_id": pl.String},
    )
    return frame.filter(pl.col("score").is_finite()).with_columns(
        pl.col("rank").rank("ordinal").over("customer_id").cast(pl.Int32)
    )


class Candidate:
    """What every candidate shares: the history it recommends from, the exclusions, and scoring in
    batches of customers (each batch: `scores` for every product, then the best k kept)."""

    name = ""

    def __init__(self, history: History, settings: RecommenderSettings, flagged: Sequence[str] = ()):
        self.history, self.settings = history, settings
        self.flagged = np.isin(history.catalogue.product_ids, list(flagged))

    def recommend(self, customers: Sequence[str], k: int = K) -> pl.DataFrame:
        # every batch x products array of a batch stays near BATCH_CELLS cells, however big the catalogue
        size = max(1, min(self.settings.batch_customers, BATCH_CELLS // max(len(self.history.catalogue), 1)))
        frames = [self.batch(customers[i : i + size], k) for i in range(0, len(customers), size)]
        return pl.concat(frames) if frames else recommendation_frame([], np.empty((0, k)), np.empty((0, k)), [], "")

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        raise NotImplementedError

    def best(
        self, customers: Sequence[str], scores: np.ndarray, k: int, since: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best products of each customer that no exclusion rule keeps out, best first
        (`since`: the customers' History.since when the caller already has it)."""
        since = self.history.since(customers) if since is None else since
        excluded = self.history.excluded(since, self.flagged)
        return _top_k(np.where(excluded, -np.inf, scores), k)

    def frame(self, customers: Sequence[str], top: np.ndarray, top_scores: np.ndarray, reasons) -> pl.DataFrame:
        return recommendation_frame(customers, self.history.catalogue.product_ids[top], top_scores, reasons, self.name)


class Popularity(Candidate):
    """Decayed recent sales of each product, weighted by the customer's share of purchases in its
    category; a customer with no history gets the overall best sellers."""

    name = "popularity"
    FLOOR = 0.01  # categories the customer never bought still fill the list

    def __init__(
        self,
        purchases: pl.DataFrame,
        history: History,
        settings: RecommenderSettings,
        flagged: Sequence[str] = (),
    ):
        super().__init__(history, settings, flagged)
        catalogue = history.catalogue
        counts = purchases.group_by("product_id").agg(
            _decay(_days_before(history.as_of), settings.popularity_half_life_days).sum().alias("weight")
        )
        self.popularity = np.zeros(len(catalogue))
        self.popularity[counts["product_id"].replace_strict(catalogue.index, return_dtype=pl.Int64).to_numpy()] = (
            counts["weight"].to_numpy()
        )
        self.popularity /= max(self.popularity.max(), 1e-12)
        self.category_names, category_of = np.unique(catalogue.categories, return_inverse=True)
        self.category_of = category_of
        shares = purchases.group_by("customer_id", "category").agg(pl.len().alias("n"))
        self.category_share = np.zeros((len(history.customer_index), len(self.category_names)))
        category_index = {name: i for i, name in enumerate(self.category_names)}
        self.category_share[
            shares["customer_id"].replace_strict(history.customer_index, return_dtype=pl.Int64).to_numpy(),
            shares["category"].replace_strict(category_index, return_dtype=pl.Int64).to_numpy(),
        ] = shares["n"].to_numpy()
        totals = self.category_share.sum(axis=1, keepdims=True)
        self.category_share /= np.maximum(totals, 1)

    def shares(self, customers: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(customers), len(self.category_names)))
        for i, customer in enumerate(customers):
            row = self.history.customer_index.get(customer)
            if row is not None:
                out[i] = self.category_share[row]
        return out

    def scores(self, customers: Sequence[str]) -> np.ndarray:
        """Popularity in the customer's categories, batch x products."""
        return self.popularity[None, :] * (self.shares(customers)[:, self.category_of] + self.FLOOR)

    def reason(self, customer_share: np.ndarray, product: int) -> str:
        category = self.category_names[self.category_of[product]]
        return f"popular in {category}" if customer_share[self.category_of[product]] > 0 else "popular overall"

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        top, top_scores = self.best(customers, self.scores(customers), k)
        shares = self.shares(customers)
        return self.frame(
            customers, top, top_scores, [[self.reason(shares[i], p) for p in row] for i, row in enumerate(top)]
        )


class RepeatPurchases(Candidate):
    """What the customer itself buys again and again: its own purchase days of each product, recent
    ones more (the personal part of TIFU-KNN, Hu et al., SIGIR 2020). On real shops a large share of
    next week's purchases are re-buys (about half on the Online Retail invoices), and frequency x
    recency is a strong baseline there that a learned model must beat. Popularity fills the lists."""

    name = "repeat"
    POPULARITY_WEIGHT = 1e-3  # below any own purchase: only fills lists

    def __init__(
        self,
        purchases: pl.DataFrame,
        history: History,
        settings: RecommenderSettings,
        flagged: Sequence[str] = (),
    ):
        super().__init__(history, settings, flagged)
        self.popularity = Popularity(purchases, history, settings, flagged)
        days = purchases.select("customer_id", "product_id", "day").unique()
        rows = days["customer_id"].replace_strict(history.customer_index, return_dtype=pl.Int64).to_numpy()
        columns = days["product_id"].replace_strict(history.catalogue.index, return_dtype=pl.Int64).to_numpy()
        weights = days.select(_decay(_days_before(history.as_of), settings.repeat_half_life_days)).to_series()
        shape = (len(history.customer_index), len(history.catalogue))
        self.frequency = sparse.csr_matrix((weights.to_numpy(), (rows, columns)), shape=shape)  # duplicates sum
        self.purchase_days = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)

    def own(self, customers: Sequence[str], matrix: sparse.csr_matrix) -> np.ndarray:
        """The customers' rows of `matrix` (zeros for a customer without history), batch x products."""
        rows = np.array([self.history.customer_index.get(customer, -1) for customer in customers])
        out = np.zeros((len(customers), matrix.shape[1]))
        out[rows >= 0] = matrix[rows[rows >= 0]].toarray()
        return out

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        since = self.history.since(customers)
        frequency = self.own(customers, self.frequency)
        popular = self.POPULARITY_WEIGHT * self.popularity.scores(customers)
        top, top_scores = self.best(customers, frequency + popular, k, since)
        purchase_days = np.take_along_axis(self.own(customers, self.purchase_days), top, axis=1)
        days_ago = np.take_along_axis(since, top, axis=1)
        shares = self.popularity.shares(customers)
        reasons = [
            [
                f"bought again: on {purchase_days[i, j]:.0f} days, last {days_ago[i, j]:.0f} days ago"
                if purchase_days[i, j] > 0
                else self.popularity.reason(shares[i], product)
                for j, product in enumerate(row)
            ]
            for i, row in enumerate(top)
        ]
        return self.frame(customers, top, top_scores, reasons)


class CoOccurrence(Candidate):
    """P(b | a) from pairs bought together or one after the other, with re-order cycles; see the
    module docstring."""

    name = "cooccurrence"
    POPULARITY_WEIGHT = 1e-3  # below any pair: only fills lists

    def __init__(
        self,
        purchases: pl.DataFrame,
        history: History,
        settings: RecommenderSettings,
        flagged: Sequence[str] = (),
    ):
        super().__init__(history, settings, flagged)
        self.popularity = Popularity(purchases, history, settings, flagged)
        baskets = Baskets.of(purchases, history.catalogue.index)
        weights = 0.5 ** ((_ordinal(history.as_of) - baskets.day) / settings.pair_half_life_days)
        self.together, self.same_day = weighted_pairs(baskets, settings.horizon_days, weights)
        bought = baskets.items.T @ weights  # decayed purchases of each product
        conditional = sparse.diags(1.0 / np.maximum(bought, 1e-12)) @ self.together  # P(b | a), decayed
        self.reorder = conditional.diagonal().copy()
        self.conditional = without_diagonal(conditional)  # row a: P(b | a) of the products b bought after
        # b's column of P(. | .) as a row: the products that lead to b, for the reasons
        self.leading_to = self.conditional.T.tocsr()

    def parts(self, customers: Sequence[str], since: np.ndarray) -> tuple[np.ndarray, ...]:
        """Recency weights of the products each customer bought, and the pair, re-order and
        popularity parts of the scores (batch x products each), from History.since."""
        recency = np.nan_to_num(0.5 ** (since / self.settings.recency_half_life_days), nan=0.0)
        # a customer bought a few of the catalogue's products: a sparse recency x sparse P(b | a)
        # (a dense one costs the whole pairs matrix per batch: 9x slower at 20k products)
        pair_part = (sparse.csr_matrix(recency) @ self.conditional).toarray()
        reorder_part = np.where(self.history.due(since), self.reorder[None, :] + 1.0, 0.0)
        popular = self.POPULARITY_WEIGHT * self.popularity.scores(customers)
        return recency, pair_part, reorder_part, popular

    def batch(self, customers: Sequence[str], k: int) -> pl.DataFrame:
        since = self.history.since(customers)  # a dense batch x products array: built once per batch
        recency, pair_part, reorder_part, popular = self.parts(customers, since)
        top, top_scores = self.best(customers, pair_part + reorder_part + popular, k, since)
        shares = self.popularity.shares(customers)
        due = np.take_along_axis(reorder_part, top, axis=1) > 0
        paired = ~due & (np.take_along_axis(pair_part, top, axis=1) > np.take_along_axis(popular, top, axis=1))
        sources = self.sources(recency, top)
        verbs = np.full(top.shape, "", dtype=object)
        if paired.any():
            first, then = sources[paired], top[paired]
            same_day = np.asarray(self.same_day[first, then]).ravel()
            together = np.asarray(self.together[first, then]).ravel()
            verbs[paired] = np.where(same_day >= 0.5 * together, "bought together with", "bought after")
        reasons = [
            [
                f"re-order cycle due (about every {self.history.cycles[product]:.0f} days)"
                if due[i, j]
                else f"{verbs[i, j]} {self.history.catalogue.label(sources[i, j])}"
                if paired[i, j]
                else self.popularity.reason(shares[i], product)
                for j, product in enumerate(row)
            ]
            for i, row in enumerate(top)
        ]
        return self.frame(customers, top, top_scores, reasons)

    def sources(self, recency: np.ndarray, top: np.ndarray) -> np.ndarray:
        """For each recommended product, the customer's product that contributes most to its pair
        score (argmax over a of recency(a) x P(b | a)), batch x k."""
        bought = sparse.csr_matrix(recency)
        out = np.zeros(top.shape, dtype=np.int64)
        for j in range(top.shape[1]):
            contributions = self.leading_to[top[:, j]].multiply(bought).tocsr()
            out[:, j] = np.asarray(contributions.argmax(axis=1)).ravel()
        return out
