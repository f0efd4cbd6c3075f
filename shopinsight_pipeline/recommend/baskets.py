"""Pairs of products a customer bought on one day or a few days apart, counted without ever listing
a customer's history against itself.

A customer's purchases are baskets (one per customer and day) in a sparse baskets x products matrix.
The baskets a basket "sees" are the same customer's baskets of the same day up to `horizon` days
later: in baskets sorted by (customer, day) they are one contiguous run, found with a binary
search, so the basket pairs that exist are listed directly (never a customer's whole history
squared, as a self-join on the customer does before it filters on the gap). Product pairs are then
sparse products: `baskets[first].T @ (weights * window @ baskets)`, in chunks whose work is bounded,
summed into a products x products CSR matrix. Memory grows with the pairs that exist.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from scipy import sparse

CHUNK_PAIRS = 8_000_000  # product pairs (before summing) one chunk may produce: ~100 MB of work


def ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, stop) for each pair, without a Python loop."""
    lengths = np.maximum(stops - starts, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths).astype(np.int64) + np.arange(total, dtype=np.int64) - offsets


@dataclass(frozen=True)
class Baskets:
    """Distinct (customer, day) baskets sorted by customer then day, and their products: what
    co-occurrence counts pairs from and the sequence model reads as steps."""

    customers: list[str]  # sorted ids; a basket's `customer` is its position here
    customer: np.ndarray  # customer rank of each basket (0..customers-1)
    day: np.ndarray  # day ordinal of each basket (days since 1970-01-01)
    items: sparse.csr_matrix  # baskets x products, 1 where the basket holds the product (ascending in a row)
    firsts: sparse.csr_matrix  # baskets x products, 1 where it is the customer's first purchase of it

    @classmethod
    def of(cls, purchases: pl.DataFrame, product_index: dict[str, int]) -> "Baskets":
        """From rows of customer_id, product_id, day; `product_index` numbers the products (rows of
        other products are left out)."""
        rows = (
            purchases.select(pl.col("customer_id").cast(pl.String), pl.col("product_id").cast(pl.String), "day")
            .filter(pl.col("product_id").is_in(list(product_index)))
            .unique()
            .with_columns(
                item=pl.col("product_id").replace_strict(product_index, return_dtype=pl.Int64),
                customer=pl.col("customer_id").rank("dense").cast(pl.Int64) - 1,
                ordinal=pl.col("day").cast(pl.Int64),  # days since 1970-01-01
            )
            .sort("customer", "ordinal", "item")
        )
        starts = rows.select(pl.struct("customer", "ordinal").is_first_distinct()).to_series().to_numpy()
        basket_of_row = np.cumsum(starts) - 1
        baskets = rows.filter(pl.Series(starts))
        item = rows["item"].to_numpy()
        shape = (baskets.height, len(product_index))
        items = sparse.csr_matrix((np.ones(rows.height), (basket_of_row, item)), shape=shape)
        first = rows.select(pl.struct("customer", "item").is_first_distinct()).to_series().to_numpy()
        firsts = sparse.csr_matrix((np.ones(int(first.sum())), (basket_of_row[first], item[first])), shape=shape)
        items.sort_indices()
        customers = baskets["customer_id"].unique(maintain_order=True).to_list()
        return cls(customers, baskets["customer"].to_numpy(), baskets["ordinal"].to_numpy(), items, firsts)

    def __len__(self) -> int:
        return len(self.day)

    @cached_property
    def first(self) -> np.ndarray:
        """Customer c's baskets are first[c]:first[c + 1]."""
        return np.searchsorted(self.customer, np.arange(len(self.customers) + 1)).astype(np.int64)

    @property
    def starts(self) -> np.ndarray:
        """Basket b's products are flat_items[starts[b]:starts[b + 1]]."""
        return self.items.indptr.astype(np.int64)

    @property
    def flat_items(self) -> np.ndarray:
        """Every basket's products (indices), basket after basket, ascending within one."""
        return self.items.indices.astype(np.int64)

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.diff(self.items.indptr).astype(np.int64)

    def products(self, baskets: np.ndarray) -> np.ndarray:
        """The products of the given baskets, concatenated in their order."""
        return self.items.indices[ranges(self.items.indptr[baskets], self.items.indptr[baskets + 1])].astype(np.int64)

    def window_ends(self, horizon: int) -> np.ndarray:
        """For each basket, one past the last basket of the same customer at most `horizon` days later."""
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        offset = self.day - self.day.min()
        span = int(offset.max()) + horizon + 1
        keys = self.customer.astype(np.int64) * span + offset
        return np.searchsorted(keys, keys + horizon, side="right")

    def windows(
        self, horizon: int, same_day: bool, budget: int = CHUNK_PAIRS
    ) -> Iterator[tuple[slice, sparse.csr_matrix]]:
        """Chunks of first baskets and their windows: (rows, chunk x baskets matrix with 1 where the
        column basket is the row basket's customer's, 1 (0 when `same_day`) to `horizon` days
        later). A chunk's product pairs (first basket's products x window's products) stay near
        `budget`, so one chunk's work is bounded however long the histories are."""
        ends = self.window_ends(horizon)
        firsts = np.arange(len(self)) + (0 if same_day else 1)
        sizes = np.asarray(self.items.sum(axis=1)).ravel()
        later = np.concatenate([[0], np.cumsum(sizes)])
        total = np.cumsum(sizes * (later[ends] - later[firsts]))  # product pairs up to each first basket
        start = 0
        while start < len(self):
            done = total[start - 1] if start else 0
            stop = max(int(np.searchsorted(total, done + budget, side="right")), start + 1)
            lengths = ends[start:stop] - firsts[start:stop]
            rows = np.repeat(np.arange(stop - start), lengths)
            columns = ranges(firsts[start:stop], ends[start:stop])
            window = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(stop - start, len(self)))
            yield slice(start, stop), window
            start = stop


def weighted_pairs(baskets: Baskets, horizon: int, weights: np.ndarray) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(together, same_day), products x products: for a pair (a, b), the sum over customers' basket
    pairs (a in the first, b in one the same day or up to `horizon` days later) of the later
    basket's weight; `same_day` counts only baskets of one day. A product with itself counts only
    across days (a re-order), never within its own basket."""
    n = baskets.items.shape[1]
    weighted = (sparse.diags(weights) @ baskets.items).tocsr()  # each basket's products carry its weight
    later = sparse.csr_matrix((n, n))
    for rows, window in baskets.windows(horizon, same_day=False):
        later = later + baskets.items[rows].T @ (window @ weighted)
    same_day = without_diagonal(baskets.items.T @ weighted)
    return (later + same_day).tocsr(), same_day


def customers_following(baskets: Baskets, firsts: sparse.csr_matrix, days: int) -> sparse.csr_matrix:
    """products x products: for (a, b), the customers who bought b on the day of their first purchase of
    a or within `days` after (`firsts`: baskets x products, 1 where the basket is the customer's first
    purchase of the product). The diagonal (a with itself) is left out."""
    n = baskets.items.shape[1]
    counts = sparse.csr_matrix((n, n))
    for rows, window in baskets.windows(days, same_day=True):
        seen = (window @ baskets.items).tocsr()
        seen.data[:] = 1.0  # bought at least once in the window, however often
        counts = counts + firsts[rows].T @ seen
    return without_diagonal(counts)


def without_diagonal(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    """The matrix with its diagonal entries removed (not stored as zeros)."""
    coo = matrix.tocoo()
    off = coo.row != coo.col
    return sparse.csr_matrix((coo.data[off], (coo.row[off], coo.col[off])), shape=coo.shape)
