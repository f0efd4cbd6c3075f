"""The recommender core on a tiny planted world: a re-order cycle and a bought-after pair hidden
among busier best sellers. Co-occurrence must find both; popularity must not."""

import dataclasses
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.recommend.candidates import (
    Catalogue,
    CoOccurrence,
    History,
    Popularity,
    RepeatPurchases,
    reorder_cycles,
)
from shopinsight_pipeline.recommend.evaluation import (
    PURCHASE_COLUMNS,
    TimeSplit,
    new_and_returning,
    per_customer_scores,
    ranking_metrics,
    time_split,
)
from shopinsight_pipeline.recommend.gate import choose, compare_candidates
from shopinsight_pipeline.recommend.sequence import SequenceCandidate, load_sequence_model, save_sequence_model
from shopinsight_pipeline.recommend.settings import GateSettings, RecommenderSettings, SequenceSettings

FAST_SEQUENCE = SequenceSettings(epochs=30, cpu=True, threads=1)  # one thread: a tiny model, a busy machine

START, LAST_DAY = date(2026, 8, 1), date(2026, 9, 29)  # 60 days
CYCLE_DAYS = 10


def planted_world(seed: int = 7) -> pl.DataFrame:
    """1,000 shoppers buy 36 best sellers (12 per category) at random; 30 customers re-order the
    consumable A every 10 days; 40 buy the phone X and its case Y one or two days later, 10 of
    them across the evaluation cutoff. A and Y sell less than every best seller of their category."""
    rng = random.Random(seed)
    rows = []
    categories = {"beauty": "B", "electronics": "E", "home": "H"}
    for shopper in range(1000):
        for _ in range(10):
            category = rng.choice(list(categories))
            product = f"{categories[category]}{rng.randrange(12):02d}"
            rows.append((f"S{shopper:04d}", product, category, START + timedelta(days=rng.randrange(60))))
    for customer in range(30):
        first = rng.randrange(CYCLE_DAYS)
        for day in range(first, 60, CYCLE_DAYS):
            rows.append((f"A{customer:03d}", "A", "beauty", START + timedelta(days=day)))
    for customer in range(40):
        # the last ten buy the phone in the last days before the cutoff and the case after it
        bought = rng.randrange(0, 45) if customer < 30 else 52
        rows.append((f"P{customer:03d}", "X", "electronics", START + timedelta(days=bought)))
        rows.append((f"P{customer:03d}", "Y", "electronics", START + timedelta(days=bought + rng.choice((1, 2)))))
    return pl.DataFrame(rows, schema=PURCHASE_COLUMNS, orient="row")


@dataclass
class World:
    purchases: pl.DataFrame
    split: TimeSplit
    settings: RecommenderSettings
    catalogue: Catalogue
    history: History
    customers: list[str]  # those who bought in the evaluation window


@pytest.fixture(scope="module")
def world() -> World:
    purchases = planted_world()
    split = time_split(purchases, LAST_DAY)
    settings = RecommenderSettings()
    catalogue = Catalogue.of(purchases)
    history = History.of(split.train, catalogue, split.as_of, settings)
    return World(
        purchases, split, settings, catalogue, history, split.evaluation["customer_id"].unique().sort().to_list()
    )


def test_the_time_split_never_lets_an_evaluation_purchase_into_training(world):
    purchases, split = world.purchases, world.split
    assert split.cutoff == LAST_DAY - timedelta(days=7)
    assert split.train["day"].max() <= split.cutoff
    evaluated = purchases.filter(pl.col("day") > split.cutoff)
    assert evaluated["day"].min() == split.cutoff + timedelta(days=1)
    assert split.train.join(evaluated, on=["customer_id", "product_id", "day"], how="semi").height == 0
    assert split.evaluation.select("customer_id", "product_id").is_duplicated().sum() == 0
    assert split.train.height + evaluated.height == purchases.height


def test_reorder_cycles_find_the_planted_consumable_and_its_cycle(world):
    split, settings = world.split, world.settings
    cycles = reorder_cycles(split.train, settings)
    cyclic = cycles.filter(pl.col("cyclic"))
    assert cyclic["product_id"].to_list() == ["A"]
    assert cyclic["cycle_days"].item() == CYCLE_DAYS


def test_cooccurrence_beats_popularity_on_the_planted_world(world):
    split, settings, catalogue, history, customers = (
        world.split,
        world.settings,
        world.catalogue,
        world.history,
        world.customers,
    )
    popularity = Popularity(split.train, history, settings).recommend(customers)
    cooccurrence = CoOccurrence(split.train, history, settings).recommend(customers)
    planted = split.evaluation.filter(pl.col("product_id").is_in(["A", "Y"]))
    assert planted.height >= 30
    pop = ranking_metrics(popularity, planted, len(catalogue))
    cooc = ranking_metrics(cooccurrence, planted, len(catalogue))
    assert cooc.recall.point >= 0.9, cooc
    assert pop.recall.point <= 0.1, pop  # A and Y sell less than ten best sellers of their category
    assert cooc.recall.low > pop.recall.high and cooc.ndcg.low > pop.ndcg.high
    reasons = cooccurrence.join(planted, on=["customer_id", "product_id"]).select("product_id", "reason").unique()
    assert {(p, r.split(" (")[0]) for p, r in reasons.iter_rows()} == {
        ("A", "re-order cycle due"),
        ("Y", "bought after X"),
    }


def test_no_list_holds_a_product_just_bought_unless_its_cycle_is_due_nor_a_flagged_one(world):
    split = world.split
    settings = dataclasses.replace(world.settings, just_bought_days=14)
    history = History.of(split.train, world.catalogue, split.as_of, settings)
    flagged = ["B00", "E03"]
    everyone = split.train["customer_id"].unique().sort().to_list()
    for candidate in (Popularity, RepeatPurchases, CoOccurrence):
        recommended = candidate(split.train, history, settings, flagged=flagged).recommend(everyone)
        assert recommended.filter(pl.col("product_id").is_in(flagged)).height == 0
        last = split.train.group_by("customer_id", "product_id").agg(pl.col("day").max().alias("last"))
        recent = recommended.join(last, on=["customer_id", "product_id"]).filter(
            (pl.lit(split.as_of) - pl.col("last")).dt.total_days() < settings.just_bought_days
        )
        assert set(recent["product_id"].unique()) <= {"A"}, candidate.name  # only the cyclic consumable
        if candidate is CoOccurrence:
            assert recent.height > 0 and recent["reason"].str.starts_with("re-order cycle due").all()
        ranks = recommended.group_by("customer_id").agg(pl.col("rank").sort())
        assert all(row == list(range(1, len(row) + 1)) for row in ranks["rank"].to_list())


def test_a_new_customer_a_one_order_customer_and_a_never_bought_product_are_handled(world):
    split, settings = world.split, world.settings
    one_order = split.train.filter(pl.col("customer_id") == "P000").head(1)
    train = pl.concat([split.train.filter(pl.col("customer_id") != "P000"), one_order])
    products = pl.concat(
        [train.select("product_id", "category"), pl.DataFrame({"product_id": ["Z99"], "category": ["home"]})]
    )
    catalogue = Catalogue.of(products)
    history = History.of(train, catalogue, split.as_of, settings)
    model = CoOccurrence(train, history, settings)
    lists = model.recommend(["P000", "NEWCOMER"])
    assert lists.group_by("customer_id").len().sort("customer_id")["len"].to_list() == [10, 10]
    newcomer = lists.filter(pl.col("customer_id") == "NEWCOMER")
    assert newcomer["reason"].str.starts_with("popular").all()
    assert "Z99" not in newcomer["product_id"].to_list()  # never sold: nothing speaks for it
    [only_order] = one_order["product_id"].to_list()
    assert only_order == "X"
    assert lists.filter(pl.col("customer_id") == "P000").row(0, named=True) | {"score": None} == {
        "customer_id": "P000",
        "product_id": "Y",
        "score": None,
        "rank": 1,
        "candidate": "cooccurrence",
        "reason": "bought after X",
    }


def test_ranking_metrics_match_their_definitions_by_hand():
    recommended = pl.DataFrame(
        {"customer_id": ["c1", "c1", "c1", "c2"], "product_id": ["p1", "p2", "p3", "p5"], "rank": [1, 2, 3, 1]}
    )
    relevant = pl.DataFrame({"customer_id": ["c1", "c1", "c2", "c3"], "product_id": ["p2", "p9", "p5", "p1"]})
    scores = {row["customer_id"]: row for row in per_customer_scores(recommended, relevant).iter_rows(named=True)}
    assert scores["c1"]["recall"] == 0.5
    assert scores["c1"]["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert scores["c1"]["reciprocal_rank"] == 0.5
    assert (scores["c2"]["recall"], scores["c2"]["ndcg"], scores["c2"]["reciprocal_rank"]) == (1.0, 1.0, 1.0)
    assert (scores["c3"]["recall"], scores["c3"]["ndcg"], scores["c3"]["reciprocal_rank"]) == (0.0, 0.0, 0.0)
    metrics = ranking_metrics(recommended, relevant, catalogue_size=8)
    assert metrics.customers == 3
    assert metrics.recall.point == pytest.approx(0.5)
    assert metrics.coverage == 4 / 8
    assert metrics.recall.low <= metrics.recall.point <= metrics.recall.high


def test_new_and_returning_customers_are_told_apart_by_their_training_history(world):
    split = world.split
    groups = new_and_returning(split)
    known = set(split.train["customer_id"])
    assert groups["returning"]["customer_id"].is_in(list(known)).all()
    assert not groups["new"]["customer_id"].is_in(list(known)).any()
    assert groups["new"].height + groups["returning"].height == split.evaluation.height


def test_the_gate_promotes_cooccurrence_only_where_it_is_better_beyond_the_noise(world):
    settings = world.settings
    chosen = compare_candidates(world.purchases, settings)
    assert chosen["champion"] == "cooccurrence" and "cooccurrence serves" in chosen["reason"]
    assert chosen["cutoff"] == world.split.cutoff.isoformat()
    # on the best sellers alone there are no pairs and no cycles: co-occurrence has nothing to add
    shoppers = world.purchases.filter(pl.col("customer_id").str.starts_with("S"))
    kept = compare_candidates(shoppers, settings)
    assert kept["champion"] == "popularity" and "popularity keeps serving" in kept["reason"]
    with pytest.raises(ValueError, match="at least 8 days"):
        compare_candidates(world.purchases.filter(pl.col("day") >= LAST_DAY - timedelta(days=3)), settings)


def test_the_sequence_model_learns_the_cycle_and_the_pair_that_popularity_misses(world):
    model = SequenceCandidate(world.split.train, world.history, world.settings, sequence_settings=FAST_SEQUENCE)
    planted = world.split.evaluation.filter(pl.col("product_id").is_in(["A", "Y"]))
    learned = ranking_metrics(model.recommend(world.customers, 10), planted, len(world.catalogue))
    popular = Popularity(world.split.train, world.history, world.settings).recommend(world.customers)
    baseline = ranking_metrics(popular, planted, len(world.catalogue))
    assert learned.recall.point >= 0.6 and learned.recall.low > baseline.recall.high, (learned, baseline)
    assert model.report is not None and model.report.history[-1] < model.report.history[0]
    # each list says what the prediction follows: the customer's latest basket, every product of it
    lists = model.recommend(world.customers[:5], 3)
    for customer, reason in lists.select("customer_id", "reason").unique().iter_rows():
        latest = world.split.train.filter(pl.col("customer_id") == customer).get_column("day").max()
        bought = world.split.train.filter((pl.col("customer_id") == customer) & (pl.col("day") == latest))
        basket = sorted(bought["product_id"].unique())
        assert (
            reason
            == f"predicted next purchase after {', '.join(basket[:3])}"
            + (f" and {len(basket) - 3} more" if len(basket) > 3 else "")
            + " (sequence model)"
        )


def test_a_saved_sequence_model_scores_exactly_as_the_trained_one(world, tmp_path):
    trained = SequenceCandidate(world.split.train, world.history, world.settings, sequence_settings=FAST_SEQUENCE)
    save_sequence_model(trained.model, FAST_SEQUENCE, trained.product_ids, tmp_path)
    model, settings, products = load_sequence_model(tmp_path)
    loaded = SequenceCandidate(
        world.split.train,
        world.history,
        world.settings,
        sequence_settings=settings,
        model=model,
        model_products=products,
    )
    assert loaded.recommend(world.customers, 10).equals(trained.recommend(world.customers, 10))


def test_a_learned_model_that_does_not_beat_cooccurrence_keeps_out():
    rng = np.random.default_rng(0)
    popularity = rng.uniform(0.0, 0.3, 500)
    cooccurrence = popularity + 0.2
    gate = GateSettings()
    close_to_cooccurrence = {"popularity": popularity, "cooccurrence": cooccurrence, "sequence": cooccurrence + 0.0}
    champion, reasons = choose(close_to_cooccurrence, ["popularity", "cooccurrence", "sequence"], gate)
    assert champion == "cooccurrence"
    assert "sequence does not beat cooccurrence" in reasons[-1] and "sequence beats popularity" in reasons[-1]
    clearly_better = {**close_to_cooccurrence, "sequence": cooccurrence + 0.1}
    assert choose(clearly_better, ["popularity", "cooccurrence", "sequence"], gate)[0] == "sequence"


def test_the_repeat_candidate_recommends_a_customers_own_rebuys_with_their_count(world):
    split, settings, history = world.split, world.settings, world.history
    buyers_of_a = sorted(split.train.filter(pl.col("product_id") == "A")["customer_id"].unique())
    lists = RepeatPurchases(split.train, history, settings).recommend([*buyers_of_a, "NEWCOMER"])
    first = lists.filter(pl.col("rank") == 1)
    assert first.filter(pl.col("customer_id") != "NEWCOMER")["product_id"].to_list() == ["A"] * len(buyers_of_a)
    bought = (
        split.train.filter(pl.col("product_id") == "A")
        .group_by("customer_id")
        .agg(pl.col("day").n_unique().alias("days"), pl.col("day").max().alias("last"))
    )
    expected = {
        customer: f"bought again: on {days} days, last {(split.as_of - last).days} days ago"
        for customer, days, last in bought.iter_rows()
    }
    assert dict(first.filter(pl.col("customer_id") != "NEWCOMER").select("customer_id", "reason").iter_rows()) == (
        expected
    )
    assert lists.filter(pl.col("customer_id") == "NEWCOMER")["reason"].str.starts_with("popular").all()


def test_a_candidate_that_never_beat_popularity_does_not_block_one_that_does():
    rng = np.random.default_rng(1)
    popularity = rng.uniform(0.0, 0.3, 500)
    no_better = popularity + rng.normal(0.0, 0.05, 500)  # repeat: noise around popularity
    order = ["popularity", "repeat", "cooccurrence"]
    better = {"popularity": popularity, "repeat": no_better, "cooccurrence": popularity + 0.1}
    champion, reasons = choose(better, order, GateSettings())
    assert champion == "cooccurrence"
    assert "repeat does not beat popularity" in reasons[0] and reasons[0].endswith("popularity keeps serving")
    assert "cooccurrence beats popularity" in reasons[1] and reasons[1].endswith("cooccurrence serves")


def test_the_metrics_table_names_its_columns_by_what_they_hold():
    from shopinsight_pipeline.recommend.gate import metrics_table

    interval = {"point": 0.5, "low": 0.4, "high": 0.6}
    metrics = {
        "customers": 123,
        "recall_at_10": interval,
        "ndcg_at_10": interval,
        "mrr": interval,
        "catalogue_coverage": 0.25,
    }
    lines = metrics_table({"popularity": {"all": metrics, "new": None}}, 10).splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    row = dict(zip(header, (cell.strip() for cell in lines[2].strip("|").split("|")), strict=True))
    assert row["candidate"] == "popularity" and row["group"] == "all" and row["customers"] == "123"
    assert row["coverage"] == "25%" and len(lines) == 3  # a group without evaluated customers is left out


def test_reasons_name_the_product_where_the_data_has_names(world):
    split, settings = world.split, world.settings
    names = {"X": "Phone X", "Y": "Case for X"}
    named = split.train.with_columns(product_name=pl.col("product_id").replace_strict(names, default=None))
    catalogue = Catalogue.of(named)
    history = History.of(named, catalogue, split.as_of, settings)
    lists = CoOccurrence(named, history, settings).recommend(["P000"])
    assert lists.filter(pl.col("product_id") == "Y")["reason"].to_list() == ["bought after X (Phone X)"]
    assert catalogue.label(catalogue.index["A"]) == "A"  # no name: the id alone


def test_the_days_lists_cite_products_by_the_name_the_days_catalogue_gives(world):
    from shopinsight_pipeline.recommend.serve import recommend_for_day

    catalogue = pl.DataFrame({"product_id": ["X", "Y"], "product_name": ["Phone X", "Case for X"]})
    choice = {"champion": "cooccurrence", "settings": dataclasses.asdict(world.settings)}
    named = recommend_for_day(world.purchases, LAST_DAY, choice, [], 30, 10, catalogue)
    plain = recommend_for_day(world.purchases, LAST_DAY, choice, [], 30, 10)
    assert named.select("customer_id", "product_id", "rank").equals(plain.select("customer_id", "product_id", "rank"))
    cited = named.filter(pl.col("reason").str.contains(r"\bX\b"))["reason"].unique().to_list()
    assert cited and all("X (Phone X)" in reason for reason in cited)
    assert not plain["reason"].str.contains("Phone X").any()


def test_reason_kinds_group_reasons_by_their_words_without_ids_or_counts():
    from shopinsight_pipeline.recommend.serve import reason_kinds

    reasons = [
        "bought again: on 3 days, last 2 days ago",
        "bought again: on 1 days, last 40 days ago",
        "bought after 22195 (HEART SPOONS)",
        "bought after P400",
        "re-order cycle due (about every 14 days)",
        "popular in beauty",
    ]
    kinds = reason_kinds(pl.DataFrame({"reason": reasons}))
    expected = [("bought after", 2), ("bought again", 2), ("popular in beauty", 1), ("re-order cycle due", 1)]
    assert kinds.rows() == expected


def test_a_candidate_the_history_cannot_fit_is_left_out_with_the_reason():
    """One purchase day per customer before the cutoff: no sequence to learn, the others compete."""
    rows = [(f"C{c:03d}", f"P{c % 7}", "home", START + timedelta(days=c % 5)) for c in range(60)]
    rows += [(f"C{c:03d}", f"P{(c + 1) % 7}", "home", START + timedelta(days=12)) for c in range(0, 60, 2)]
    purchases = pl.DataFrame(rows, schema=PURCHASE_COLUMNS, orient="row")
    chosen = compare_candidates(purchases, RecommenderSettings(), sequence_settings=FAST_SEQUENCE)
    assert set(chosen["left_out"]) == {"sequence"} and "two days or more" in chosen["left_out"]["sequence"]
    assert "sequence left out: 0 of 60 customers bought on two days or more" in chosen["reason"]
    assert set(chosen["candidates"]) == {"popularity", "repeat", "cooccurrence"}
    with pytest.raises(ValueError, match="no candidate could be fitted"):
        compare_candidates(purchases, RecommenderSettings(), candidates=("sequence",))
