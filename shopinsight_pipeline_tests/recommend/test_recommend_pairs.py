"""Pair counting at a real shop's scale (recommend/baskets.py): the sparse counts equal a
brute-force count, co-occurrence recommends what the self-join version did, and a history whose
self-join would need gigabytes is counted in a few hundred MB."""

import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.recommend.baskets import Baskets, customers_following, weighted_pairs
from shopinsight_pipeline.recommend.candidates import Catalogue, CoOccurrence, History
from shopinsight_pipeline.recommend.evaluation import PURCHASE_COLUMNS, time_split
from shopinsight_pipeline.recommend.events import cross_sell_pairs
from shopinsight_pipeline.recommend.settings import RecommenderSettings
from shopinsight_pipeline_tests.recommend.test_recommend import LAST_DAY, planted_world

D0 = date(2026, 3, 1)
HORIZON = 5


def hand_made_history() -> pl.DataFrame:
    """Two customers. c1: a and b on day 0 (a twice: one basket), c on day 5 (just inside the
    horizon), d on day 6 (just outside), a again on day 5 (a re-order). c2: b then a the next day,
    and a lone e on day 20. c3 buys c only."""
    rows = [
        ("c1", "a", 0),
        ("c1", "a", 0),
        ("c1", "b", 0),
        ("c1", "c", 5),
        ("c1", "a", 5),
        ("c1", "d", 6),
        ("c2", "b", 0),
        ("c2", "a", 1),
        ("c2", "e", 20),
        ("c3", "c", 3),
    ]
    return pl.DataFrame(
        [(customer, product, "x", D0 + timedelta(days=day)) for customer, product, day in rows],
        schema=PURCHASE_COLUMNS,
        orient="row",
    )


def brute_force(purchases: pl.DataFrame, horizon: int, weight_of) -> tuple[dict, dict]:
    """Every (customer, product, day) against every other of the same customer, in Python."""
    rows = purchases.select("customer_id", "product_id", "day").unique().rows()
    together: dict = defaultdict(float)
    same_day: dict = defaultdict(float)
    for customer, a, first_day in rows:
        for other, b, then in rows:
            gap = (then - first_day).days
            if other != customer or not 0 <= gap <= horizon or (a == b and gap == 0):
                continue
            together[a, b] += weight_of(then)
            if gap == 0:
                same_day[a, b] += weight_of(then)
    return together, same_day


def as_dict(matrix, products: list[str]) -> dict:
    coo = matrix.tocoo()
    return {(products[a], products[b]): value for a, b, value in zip(coo.row, coo.col, coo.data, strict=True)}


def test_pair_weights_equal_a_brute_force_count_inside_the_horizon_only():
    purchases = hand_made_history()
    products = sorted(purchases["product_id"].unique())
    baskets = Baskets.of(purchases, {p: i for i, p in enumerate(products)})
    assert len(baskets) == 7  # one basket per customer and day
    as_of = D0 + timedelta(days=30)
    weights = 0.5 ** (((as_of - date(1970, 1, 1)).days - baskets.day) / 10.0)

    def weight_of(day: date) -> float:
        return 0.5 ** ((as_of - day).days / 10.0)

    together, same_day = weighted_pairs(baskets, HORIZON, weights)
    expected_together, expected_same_day = brute_force(purchases, HORIZON, weight_of)
    assert as_dict(together, products) == pytest.approx(dict(expected_together))
    assert as_dict(same_day, products) == pytest.approx(dict(expected_same_day))
    # the cases the history plants, spelled out
    got = as_dict(together, products)
    assert ("a", "c") in got and ("b", "c") in got  # 5 days later: inside
    assert ("b", "d") not in got  # 6 days later: outside
    assert got["a", "d"] == pytest.approx(weight_of(D0 + timedelta(days=6)))  # from day 5's a only, not day 0's
    assert got["a", "a"] == pytest.approx(weight_of(D0 + timedelta(days=5)))  # the re-order, counted once
    assert got["a", "b"] == pytest.approx(weight_of(D0))  # the duplicate line of a does not count twice
    assert ("e", "e") not in got and ("c", "a") in got  # c and a of day 5: bought together


def test_customers_following_count_each_customer_once_from_the_first_purchase():
    rows = [
        ("c1", "a", 0),
        ("c1", "b", 2),
        ("c1", "b", 4),  # b twice in the window: still one customer
        ("c1", "a", 10),
        ("c1", "c", 12),  # after the second a, but more than 5 days after the first: not counted
        ("c2", "a", 0),
        ("c2", "b", 0),  # the same day counts
        ("c3", "b", 0),
        ("c3", "a", 5),  # a after b, within the days
    ]
    purchases = pl.DataFrame(
        [(c, p, "x", D0 + timedelta(days=d)) for c, p, d in rows], schema=PURCHASE_COLUMNS, orient="row"
    )
    products = ["a", "b", "c"]
    baskets = Baskets.of(purchases, {p: i for i, p in enumerate(products)})
    got = as_dict(customers_following(baskets, baskets.firsts, 5), products)
    assert got == {("a", "b"): 2.0, ("b", "a"): 2.0}


def self_join_cross_sell(purchases: pl.DataFrame, days: int) -> pl.DataFrame:
    """The earlier implementation: every customer's first purchases joined with all its purchases."""
    bought = purchases.select("customer_id", "product_id", "day").unique()
    first_purchase = bought.group_by("customer_id", "product_id").agg(pl.col("day").min())
    return (
        first_purchase.join(bought, on="customer_id", suffix="_second")
        .filter(
            (pl.col("product_id") != pl.col("product_id_second"))
            & ((pl.col("day_second") - pl.col("day")).dt.total_days().is_between(0, days))
        )
        .group_by(pl.col("product_id").alias("first"), pl.col("product_id_second").alias("second"))
        .agg(pl.col("customer_id").n_unique().cast(pl.Int64).alias("customers"))
        .sort("first", "second")
    )


def test_cross_sell_pairs_count_what_the_self_join_counted():
    purchases = planted_world()
    counted = cross_sell_pairs(purchases, 30).select("first", "second", "customers").sort("first", "second")
    assert counted.equals(self_join_cross_sell(purchases, 30))
    frequent = cross_sell_pairs(purchases, 30, min_customers=10)
    assert frequent.height < counted.height and frequent["customers"].min() >= 10


def self_join_conditional(purchases: pl.DataFrame, catalogue: Catalogue, as_of: date, settings) -> np.ndarray:
    """P(b | a) as the earlier dense implementation computed it (diagonal: re-orders)."""
    days = (
        purchases.select("customer_id", "product_id", "day")
        .unique()
        .with_columns(item=pl.col("product_id").replace_strict(catalogue.index, return_dtype=pl.Int64))
    )

    def decay(column: str) -> pl.Expr:
        return pl.lit(0.5).pow((pl.lit(as_of) - pl.col(column)).dt.total_days() / settings.pair_half_life_days)

    pairs = (
        days.join(days, on="customer_id", suffix="_next")
        .with_columns(gap=(pl.col("day_next") - pl.col("day")).dt.total_days())
        .filter(
            (pl.col("gap") >= 0)
            & (pl.col("gap") <= settings.horizon_days)
            & ((pl.col("item") != pl.col("item_next")) | (pl.col("gap") > 0))
        )
        .group_by("item", "item_next")
        .agg(decay("day_next").sum().alias("weight"))
    )
    n = len(catalogue)
    bought = np.zeros(n)
    counts = days.group_by("item").agg(decay("day").sum().alias("weight"))
    bought[counts["item"].to_numpy()] = counts["weight"].to_numpy()
    together = np.zeros((n, n))
    together[pairs["item"].to_numpy(), pairs["item_next"].to_numpy()] = pairs["weight"].to_numpy()
    return together / np.maximum(bought, 1e-12)[:, None]


def planted_cooccurrence() -> tuple:
    """Co-occurrence fitted on the planted world's training days, with what it was fitted from."""
    purchases = planted_world()
    split = time_split(purchases, LAST_DAY)
    settings = RecommenderSettings()
    catalogue = Catalogue.of(purchases)
    history = History.of(split.train, catalogue, split.as_of, settings)
    return split, settings, catalogue, history, CoOccurrence(split.train, history, settings)


def test_cooccurrence_scores_and_recommends_what_the_self_join_version_did():
    split, settings, catalogue, history, model = planted_cooccurrence()
    expected = self_join_conditional(split.train, catalogue, split.as_of, settings)
    np.testing.assert_allclose(model.reorder, np.diag(expected), rtol=1e-12, atol=1e-15)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.conditional.toarray(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.leading_to.T.toarray(), expected, rtol=1e-12, atol=1e-15)
    customers = split.evaluation["customer_id"].unique().sort().to_list()
    lists = model.recommend(customers)
    assert lists.height == 10 * len(customers)
    # the list of every customer scored from the dense P(b | a): the same products in the same order
    since = history.since(customers)
    recency = np.nan_to_num(0.5 ** (since / settings.recency_half_life_days), nan=0.0)
    _, pair_part, reorder_part, popular = model.parts(customers, since)
    np.testing.assert_allclose(pair_part, recency @ expected, rtol=1e-12, atol=1e-15)
    top, _ = model.best(customers, recency @ expected + reorder_part + popular, 10, since)
    assert lists["product_id"].to_list() == catalogue.product_ids[top].reshape(-1).tolist()


def test_batches_shrink_as_the_catalogue_grows(monkeypatch):
    """A batch's customers x products arrays stay bounded: with a budget of 2 customers' worth of
    cells, the recommendations are the same as in one batch."""
    import shopinsight_pipeline.recommend.candidates as candidates

    split, _, catalogue, _, model = planted_cooccurrence()
    customers = split.evaluation["customer_id"].unique().sort().to_list()[:50]
    whole = model.recommend(customers)
    sizes: list[int] = []
    batch = model.batch
    monkeypatch.setattr(model, "batch", lambda chunk, k: sizes.append(len(chunk)) or batch(chunk, k))
    monkeypatch.setattr(candidates, "BATCH_CELLS", 2 * len(catalogue))
    assert model.recommend(customers).equals(whole)
    assert max(sizes) == 2 and sum(sizes) == len(customers)


MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from datetime import date, timedelta
    import numpy as np, polars as pl
    from shopinsight_pipeline.recommend.baskets import Baskets, customers_following, weighted_pairs
    customers, days, per_day, products = (int(x) for x in sys.argv[1:5])
    rng = np.random.default_rng(0)
    rows = customers * days * per_day
    start = date(2026, 1, 1)
    purchases = pl.DataFrame({
        "customer_id": np.repeat(np.arange(customers), days * per_day).astype(str),
        "product_id": rng.integers(0, products, rows).astype(str),
        "day": np.tile(np.repeat(np.arange(days), per_day), customers).astype("timedelta64[D]")
        + np.datetime64(start),
    }).with_columns(pl.col("day").cast(pl.Date))
    index = {str(p): p for p in range(products)}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    baskets = Baskets.of(purchases, index)
    together, _ = weighted_pairs(baskets, 30, np.ones(len(baskets)))
    following = customers_following(baskets, baskets.firsts, 30)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    own = purchases.unique().group_by("customer_id").len()["len"].cast(pl.Int64)
    print(json.dumps({"grown_mib": (after - before) / 1024, "self_join_rows": int((own * own).sum()),
                      "pairs": int(together.nnz), "following": int(following.nnz)}))
    """
)


@pytest.mark.slow
def test_a_history_whose_self_join_needs_gigabytes_is_counted_in_a_few_hundred_mb():
    # 150 customers buying 6 products a day on 360 days: 2,160 lines each, 700M self-join rows
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, "150", "360", "6", "3000"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    measured = json.loads(result.stdout)
    # a self-join row holds at least two product ids, two days and a weight: over 24 bytes
    assert measured["self_join_rows"] * 24 > 2 * 2**30, measured
    assert measured["pairs"] > 1_000_000, measured  # real work: millions of distinct pairs
    assert measured["grown_mib"] < 400, measured
