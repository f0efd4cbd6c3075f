"""The sequence model on tiny planted worlds: it learns which basket follows which and when a
customer's own product is due again, the order inside a basket and the padding of a serving batch
change nothing, and only customers with two purchase days or more train."""

import dataclasses
import random
import re
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import torch

from shopinsight_pipeline.recommend import sequence as sequence_module
from shopinsight_pipeline.recommend.candidates import Catalogue, History, Popularity
from shopinsight_pipeline.recommend.evaluation import PURCHASE_COLUMNS
from shopinsight_pipeline.recommend.sequence import (
    MODEL_INPUTS,
    SequenceCandidate,
    SequenceRecommender,
    basket_loss,
    customer_queries,
    train_sequence_model,
    training_data,
)
from shopinsight_pipeline.recommend.settings import RecommenderSettings, SequenceSettings

START = date(2026, 3, 1)
TINY = SequenceSettings(dim=16, layers=1, heads=2, dropout=0.1, batch_size=64, epochs=20, cpu=True)
SETTINGS = RecommenderSettings()
NOISE = [f"N{i:02d}" for i in range(30)]


def quiet(line: str) -> None:
    pass


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one intra-op thread is faster than several, and far faster on a busy machine
    (20 epochs of the basket world: 1 s against 5 to 25 s with two threads on two shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def purchases_of(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(customer, product, "any", START + timedelta(days=day)) for customer, product, day in rows],
        schema=PURCHASE_COLUMNS,
        orient="row",
    )


def noise_baskets(rng: random.Random, customer: str, days: list[int]) -> list[tuple[str, str, int]]:
    return [(customer, product, day) for day in days for product in rng.sample(NOISE, rng.randint(2, 4))]


def candidate(purchases: pl.DataFrame, as_of: date, model=None, products=None, settings=TINY) -> SequenceCandidate:
    history = History.of(purchases, Catalogue.of(purchases), as_of, SETTINGS)
    return SequenceCandidate(
        purchases, history, SETTINGS, sequence_settings=settings, model=model, model_products=products, log=quiet
    )


def rank_of(probabilities: np.ndarray, columns: list[int]) -> np.ndarray:
    """1-based rank of each row's product `columns[row]` among that row's probabilities."""
    own = probabilities[np.arange(len(columns)), columns]
    return (probabilities > own[:, None]).sum(axis=1) + 1


def basket_world(seed: int = 3) -> pl.DataFrame:
    """300 shoppers buy 2-4 of 30 best sellers on 6 random days; 160 customers buy, among such
    baskets, the basket {A1, A2} and three days later {B1, B2}; the last 40 of them bought {A1, A2}
    on day 57 and nothing after (the evaluation day is 60). B1 and B2 sell less than every best seller."""
    rng = random.Random(seed)
    rows = []
    for shopper in range(300):
        rows += noise_baskets(rng, f"S{shopper:03d}", rng.sample(range(58), 6))
    for customer in range(160):
        name = f"P{customer:03d}"
        day = 57 if customer >= 120 else rng.randrange(10, 50)
        rows += noise_baskets(rng, name, rng.sample(range(day), 3))
        rows += [(name, "A1", day), (name, "A2", day)]
        if customer < 120:
            rows += [(name, "B1", day + 3), (name, "B2", day + 3)]
            rows += noise_baskets(rng, name, [day + rng.randint(5, 8)])
    return purchases_of(rows)


def test_a_basket_that_always_follows_another_is_learned_where_popularity_sees_nothing():
    purchases = basket_world()
    as_of = START + timedelta(days=60)
    fitted = candidate(purchases, as_of)
    waiting = [f"P{customer:03d}" for customer in range(120, 160)]  # last basket {A1, A2}
    lists = fitted.recommend(waiting, 3)
    got = lists.group_by("customer_id").agg(pl.col("product_id"))
    both = sum({"B1", "B2"} <= set(products) for products in got["product_id"])
    assert both >= 0.9 * len(waiting), lists
    popular = Popularity(purchases, fitted.history, SETTINGS).recommend(waiting, 10)
    assert popular.filter(pl.col("product_id").is_in(["B1", "B2"])).height == 0
    # conditional on the last basket, not a popularity of B: shoppers whose last basket is noise
    shoppers = [f"S{shopper:03d}" for shopper in range(300)]
    elsewhere = fitted.recommend(shoppers, 3).filter(pl.col("product_id").is_in(["B1", "B2"]))
    assert elsewhere.height <= 0.05 * len(shoppers), elsewhere
    report = fitted.report
    assert report is not None and report.history[-1] < report.history[0]
    assert report.customers == 460 and report.target_baskets > 0


def reorder_world(seed: int = 5) -> pl.DataFrame:
    """60 customers each re-buy their own product (R00-R19, three customers each) every 10 days,
    on days 0 to 50, among noise baskets of best sellers on other days (the last on days 51-56);
    300 shoppers buy best sellers only."""
    rng = random.Random(seed)
    rows = []
    for shopper in range(300):
        rows += noise_baskets(rng, f"S{shopper:03d}", rng.sample(range(57), 6))
    for customer in range(60):
        name, own = f"C{customer:02d}", f"R{customer % 20:02d}"
        rows += [(name, own, day) for day in range(0, 51, 10)]
        others = [day for day in range(57) if day % 10]
        rows += noise_baskets(rng, name, [*rng.sample(others[:-6], 4), rng.randint(51, 56)])
    return purchases_of(rows)


def test_a_customer_s_own_product_re_bought_on_a_cycle_ranks_high_when_due():
    purchases = reorder_world()
    cyclic = [f"C{customer:02d}" for customer in range(60)]
    own = [f"R{customer % 20:02d}" for customer in range(60)]
    trained = candidate(purchases, START + timedelta(days=57))
    columns = [trained.product_ids.index(product) for product in own]
    # due: the middle of the coming week (day 60) is 10 days after the last purchase of their product
    due = trained.probabilities(cyclic, trained.queries(cyclic))
    due_rank = rank_of(due, columns)
    assert (due_rank <= 3).mean() >= 0.8, due_rank
    # the same model on day 51, the day after the purchase: not due, ranked lower
    just_bought = candidate(purchases.filter(pl.col("day") <= START + timedelta(days=50)), START + timedelta(days=51))
    early = SequenceCandidate(
        just_bought.purchases,
        just_bought.history,
        SETTINGS,
        sequence_settings=TINY,
        model=trained.model,
        model_products=trained.product_ids,
    )
    not_due = early.probabilities(cyclic, early.queries(cyclic))
    assert (not_due[np.arange(60), columns] < due[np.arange(60), columns]).mean() >= 0.8
    assert np.median(rank_of(not_due, columns)) > np.median(due_rank)
    popular = Popularity(purchases, trained.history, SETTINGS).recommend(cyclic, 10)
    assert popular.filter(pl.col("product_id").str.starts_with("R")).height == 0


def renamed(purchases: pl.DataFrame, mapping: dict[str, str], seed: int) -> pl.DataFrame:
    shuffled = purchases.with_columns(pl.col("product_id").replace_strict(mapping))
    return shuffled.sample(fraction=1.0, shuffle=True, seed=seed)


def test_the_order_of_products_inside_a_basket_changes_nothing():
    """Products renamed so that their id order inside every basket reverses, and the rows shuffled:
    the same training, the same scores per product."""
    purchases = basket_world()
    products = sorted(purchases["product_id"].unique())
    mapping = {product: f"X{len(products) - i:03d}" for i, product in enumerate(products)}  # reversed
    settings = SequenceSettings(dim=16, layers=1, heads=2, batch_size=64, epochs=3, cpu=True)
    as_of = START + timedelta(days=60)
    first = candidate(purchases, as_of, settings=settings)
    other_world = renamed(purchases, mapping, seed=1)
    model, _ = train_sequence_model(other_world, [mapping[p] for p in products], settings, log=quiet)
    second = candidate(other_world, as_of, model=model, products=[mapping[p] for p in products], settings=settings)
    for name, tensor in first.model.state_dict().items():
        torch.testing.assert_close(tensor, model.state_dict()[name], msg=name)
    customers = sorted(purchases["customer_id"].unique())
    ours = first.probabilities(customers, first.queries(customers))
    theirs = second.probabilities(customers, second.queries(customers))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)  # column i: the same product in both
    lists = first.recommend(customers, 5).with_columns(pl.col("product_id").replace_strict(mapping))
    renamed_lists = second.recommend(customers, 5)
    assert lists.drop("score", "reason").equals(renamed_lists.drop("score", "reason"))
    # the reasons cite the same latest baskets, by their names in each world (the same size; the
    # same products where the whole basket is shown)
    cited = dict(lists.select("customer_id", "reason").iter_rows())
    for customer, reason in renamed_lists.select("customer_id", "reason").iter_rows():
        (ours, our_more), (theirs, their_more) = cited_products(cited[customer]), cited_products(reason)
        assert len(ours) + our_more == len(theirs) + their_more
        if not our_more:
            assert {mapping[product] for product in ours} == theirs


def cited_products(reason: str) -> tuple[set[str], int]:
    """The products a sequence-model reason names (unnamed products: their ids) and how many more."""
    body = reason.removeprefix("predicted next purchase after ").removesuffix(" (sequence model)")
    more = re.search(r" and (\d+) more$", body)
    return set(re.sub(r" and \d+ more$", "", body).split(", ")), int(more.group(1)) if more else 0


def test_the_model_reads_a_basket_as_a_set():
    model = SequenceRecommender(10, TINY).eval()
    inputs = {
        "offsets": torch.tensor([0, 3]),
        "gaps": torch.tensor([[0, 1]]),
        "valid": torch.tensor([[True, True]]),
        "elapsed": torch.tensor([[1, 2]]),
    }
    with torch.no_grad():
        one = model(torch.tensor([1, 4, 7, 2, 9]), *(inputs[name] for name in MODEL_INPUTS[1:]))
        other = model(torch.tensor([7, 1, 4, 9, 2]), *(inputs[name] for name in MODEL_INPUTS[1:]))
    torch.testing.assert_close(one, other)


def test_a_customer_s_scores_do_not_depend_on_the_batch_nor_on_its_padding():
    rng = random.Random(0)
    rows = noise_baskets(rng, "SHORT", [3, 9])
    rows += noise_baskets(rng, "LONG", list(range(0, 50, 2)))  # 25 baskets: longer than max_length
    rows += noise_baskets(rng, "MIDDLE", list(range(10, 40, 3)))
    purchases = purchases_of(rows)
    products = sorted(purchases["product_id"].unique())
    torch.manual_seed(0)
    settings = SequenceSettings(dim=16, layers=2, heads=2, max_length=20, cpu=True)
    model = SequenceRecommender(len(products), settings).eval()  # random weights: every pad would show
    as_of = START + timedelta(days=60)
    alone = customer_queries(model, purchases, products, ["SHORT"], as_of, settings)
    together = customer_queries(model, purchases, products, ["LONG", "SHORT", "MIDDLE", "NOBODY"], as_of, settings)
    assert np.isfinite(alone).all() and np.isfinite(together[:3]).all() and np.isnan(together[3]).all()
    np.testing.assert_allclose(together[1], alone[0], rtol=1e-5, atol=1e-6)
    middle = customer_queries(model, purchases, products, ["MIDDLE"], as_of, settings)
    np.testing.assert_allclose(together[2], middle[0], rtol=1e-5, atol=1e-6)
    # an all-padding row (no basket) stays finite and leaves the others alone
    with torch.no_grad():
        queries = model(
            torch.tensor([1, 2, 3]),
            torch.tensor([0, 0, 0, 2]),  # row 0: two empty bags
            torch.zeros(2, 2, dtype=torch.long),
            torch.tensor([[False, False], [True, True]]),
            torch.zeros(2, 2, dtype=torch.long),
        )
        single = model(
            torch.tensor([1, 2, 3]),
            torch.tensor([0, 2]),
            torch.zeros(1, 2, dtype=torch.long),
            torch.tensor([[True, True]]),
            torch.zeros(1, 2, dtype=torch.long),
        )
    assert torch.isfinite(queries).all()
    torch.testing.assert_close(queries[1], single[0])
    # scored through the candidate, a known customer's probabilities are its own whatever the batch
    fitted = candidate(purchases, as_of, model=model, products=products, settings=settings)
    alone_scores = fitted.probabilities(["SHORT"], fitted.queries(["SHORT"]))
    batch = ["LONG", "SHORT", "NOBODY"]
    np.testing.assert_allclose(fitted.probabilities(batch, fitted.queries(batch))[1], alone_scores[0], rtol=1e-5)


def test_only_customers_with_two_purchase_days_or_more_train_and_the_error_says_so():
    rows = [("ONE_DAY", product, 5) for product in ("N00", "N01", "N02")]  # three purchases, one day
    rows += [("TWO_DAYS", "N00", 5), ("TWO_DAYS", "N03", 8)]
    rows += [("THREE_DAYS", "N01", 1), ("THREE_DAYS", "N02", 1), ("THREE_DAYS", "N04", 4), ("THREE_DAYS", "N01", 9)]
    purchases = purchases_of(rows)
    products = sorted(purchases["product_id"].unique())
    data = training_data(purchases, products, TINY)
    assert data.customers == 2 and data.steps == 1 + 2  # TWO_DAYS: 1 transition, THREE_DAYS: 2
    _, report = train_sequence_model(purchases, products, SequenceSettings(epochs=1, cpu=True), log=quiet)
    assert report.customers == 2 and report.target_baskets == 3
    one_day_each = purchases.filter(pl.col("day") == START + timedelta(days=5))  # ONE_DAY and TWO_DAYS
    with pytest.raises(ValueError, match="0 of 2 customers bought on two days or more"):
        train_sequence_model(one_day_each, products, TINY, log=quiet)
    with pytest.raises(ValueError, match="0 of 0 customers bought on two days or more"):
        training_data(purchases.clear(), products, TINY)
    with pytest.raises(ValueError, match="1 of 3 customers bought on two days or more"):
        training_data(purchases.filter(pl.col("customer_id") != "TWO_DAYS").vstack(one_day_each), products, TINY)


def test_the_chunked_loss_and_its_gradients_equal_the_dense_ones(monkeypatch):
    purchases = basket_world()
    products = sorted(purchases["product_id"].unique())
    data = training_data(purchases, products, TINY)
    batch = data.collate(list(range(40)))
    torch.manual_seed(0)
    model = SequenceRecommender(len(products), TINY).eval()

    def loss_and_gradients():
        model.zero_grad()
        loss = basket_loss(model, model(*(batch[name] for name in MODEL_INPUTS)), batch)
        loss.backward()
        return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    whole, whole_gradients = loss_and_gradients()
    monkeypatch.setattr(sequence_module, "LOGIT_CHUNK", 7 * len(products))  # 7 steps per chunk
    chunked, chunked_gradients = loss_and_gradients()
    steps = model(*(batch[name] for name in MODEL_INPUTS))[batch["valid"]]
    dense = model.logits(
        steps, batch["history_rows"], batch["history_items"], batch["history_counts"], batch["history_days"]
    ).log_softmax(dim=1)
    by_hand = -(batch["target_weights"] * dense[batch["target_rows"], batch["target_items"]]).sum() / len(steps)
    torch.testing.assert_close(whole, by_hand.detach())
    torch.testing.assert_close(chunked, whole)
    assert whole_gradients.keys() == chunked_gradients.keys()
    for name, gradient in whole_gradients.items():
        torch.testing.assert_close(chunked_gradients[name], gradient, msg=name)


def test_a_model_saved_in_the_old_format_is_refused_with_what_to_do(tmp_path):
    import json

    from shopinsight_pipeline.recommend.sequence import CONFIG_FILE, MODEL_FILE, load_sequence_model

    (tmp_path / CONFIG_FILE).write_text(json.dumps({"settings": {}, "product_ids": ["A"]}), encoding="utf-8")
    (tmp_path / MODEL_FILE).write_bytes(b"")
    with pytest.raises(ValueError, match=r"format 1.*materialize recommender_model again"):
        load_sequence_model(tmp_path)


def test_a_cpu_training_stops_at_its_time_budget_and_says_so():
    purchases = basket_world()
    products = sorted(purchases["product_id"].unique())
    batches = -(-len(training_data(purchases, products, TINY)) // TINY.batch_size)  # per epoch
    lines: list[str] = []
    hurried = dataclasses.replace(TINY, cpu_max_seconds=1e-9)  # spent after the first step
    _, report = train_sequence_model(purchases, products, hurried, lines.append)
    assert report.steps == 1 and report.stopped_by_budget and len(report.history) == 1
    assert any(f"after 1 of {TINY.epochs * batches} steps (cpu_max_seconds" in line for line in lines)
    unbounded = dataclasses.replace(TINY, epochs=2, cpu_max_seconds=0)
    _, report = train_sequence_model(purchases, products, unbounded, log=quiet)
    assert report.steps == 2 * batches and not report.stopped_by_budget
