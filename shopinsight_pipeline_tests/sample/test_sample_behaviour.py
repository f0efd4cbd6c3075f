"""The embedded sample's customers behave in ways a recommender can learn (data/README.md): each
planted structure is measured on the generated orders against what chance would give."""

import json
import random
from datetime import timedelta

import polars as pl
import pytest

from shopinsight_pipeline.recommend.candidates import reorder_cycles
from shopinsight_pipeline.recommend.settings import RecommenderSettings
from shopinsight_pipeline.sample import (
    FOLLOW_UPS,
    MANIFEST_NAME,
    REORDER_CYCLES,
    SAMPLE_VERSION,
    SampleSpec,
    generate_orders,
    make_products,
    write_sample,
)

SPEC = SampleSpec()


def product_id(category: str, index: int) -> str:
    from shopinsight_pipeline.sample import CATEGORIES

    return f"P{list(CATEGORIES).index(category)}{index:02d}"


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    rng = random.Random(SPEC.seed)
    products = make_products(rng)
    by_day = generate_orders(SPEC, products, rng)
    rows = [
        {**{k: v for k, v in order.items() if not k.startswith("_")}, "day": day, "bad": order["_bad"]}
        for day, todays in by_day.items()
        for order in todays
    ]
    return pl.DataFrame(rows).filter(pl.col("status") != "cancelled")


def test_only_the_consumables_are_rebought_on_a_cycle_near_theirs(orders):
    cycles = reorder_cycles(orders, RecommenderSettings()).filter(pl.col("cyclic"))
    consumables = {product_id(*key): days for key, days in REORDER_CYCLES.items()}
    assert set(cycles["product_id"]) == set(consumables)
    for product, cycle in cycles.select("product_id", "cycle_days").iter_rows():
        assert consumables[product] * 0.5 <= cycle <= consumables[product] * 1.3, (product, cycle)


def test_a_first_product_leads_to_its_follow_up_far_more_often_than_chance(orders):
    days = orders.select("customer_id", "product_id", "day").unique()
    buyers = days["customer_id"].n_unique()
    for (first, index), ((category, follow_index), _, latest, _) in FOLLOW_UPS.items():
        lead, follow = product_id(first, index), product_id(category, follow_index)
        pairs = days.filter(pl.col("product_id") == lead).join(
            days.filter(pl.col("product_id") == follow), on="customer_id", suffix="_follow"
        )
        within = pairs.filter(
            (pl.col("day_follow") >= pl.col("day")) & (pl.col("day_follow") <= pl.col("day") + timedelta(days=latest))
        )
        lead_buyers = days.filter(pl.col("product_id") == lead)["customer_id"].n_unique()
        share_after_lead = within["customer_id"].n_unique() / lead_buyers
        share_of_everyone = days.filter(pl.col("product_id") == follow)["customer_id"].n_unique() / buyers
        assert share_after_lead > 3 * share_of_everyone, (lead, follow, share_after_lead, share_of_everyone)


def test_a_bad_experience_makes_buying_the_same_consumable_again_rarer(orders):
    consumables = [product_id(*key) for key in REORDER_CYCLES]
    first = (
        orders.filter(pl.col("product_id").is_in(consumables))
        .sort("day", "order_ts")
        .group_by("customer_id", "product_id", maintain_order=True)
        .agg(pl.col("bad").first(), pl.len().alias("orders"), pl.col("day").first())
        .filter(pl.col("day") <= SPEC.start + timedelta(days=30))  # time to come back
    )
    again = first.group_by("bad").agg((pl.col("orders") > 1).mean().alias("rebought")).sort("bad")
    good, bad = again["rebought"].to_list()
    assert bad < 0.6 * good, again  # a return or a negative review: seldom re-ordered


def test_customers_arrive_every_day_and_some_stop(orders):
    first_seen = orders.group_by("customer_id").agg(
        pl.col("day").min().alias("first"), pl.col("day").max().alias("last")
    )
    days_with_newcomers = first_seen["first"].n_unique()
    assert days_with_newcomers == SPEC.days
    regulars = first_seen.join(
        orders.filter(pl.col("day") < SPEC.start + timedelta(days=21)).group_by("customer_id").len(), on="customer_id"
    ).filter(pl.col("len") >= 3)
    gone = regulars.filter(pl.col("last") < SPEC.start + timedelta(days=SPEC.days - 21)).height / regulars.height
    assert 0.05 < gone < 0.6, gone  # some regulars of the first three weeks stopped buying


def test_segments_concentrate_each_customer_on_few_categories(orders):
    shares = (
        orders.group_by("customer_id", "category")
        .len()
        .with_columns(share=pl.col("len") / pl.col("len").sum().over("customer_id"))
        .group_by("customer_id")
        .agg(pl.col("share").max(), pl.col("len").sum().alias("orders"))
        .filter(pl.col("orders") >= 6)
    )
    # six categories bought at their overall shares would give a top share near 0.35 at six orders
    assert shares["share"].mean() > 0.5, shares["share"].mean()


def test_a_landing_zone_of_another_generator_or_spec_is_rewritten_and_a_current_one_kept(tmp_path):
    spec = SampleSpec(days=2, orders_per_day=20)
    manifest = write_sample(tmp_path, spec)
    orders_file = tmp_path / "landing" / "orders" / f"orders_{spec.start.isoformat()}.csv"
    written = orders_file.read_bytes()
    orders_file.write_bytes(b"edited by hand\n")
    assert write_sample(tmp_path, spec) == manifest  # same version: left as it is
    assert orders_file.read_bytes() == b"edited by hand\n"
    manifest_path = tmp_path / "landing" / MANIFEST_NAME
    manifest_path.write_text(json.dumps({**manifest, "version": SAMPLE_VERSION - 1}), encoding="utf-8")
    assert write_sample(tmp_path, spec)["version"] == SAMPLE_VERSION
    assert orders_file.read_bytes() == written
    orders_file.write_bytes(b"edited by hand\n")
    reseeded = SampleSpec(days=2, orders_per_day=20, seed=spec.seed + 1)
    assert write_sample(tmp_path, reseeded)["spec"]["seed"] == spec.seed + 1  # another spec: rewritten
    assert orders_file.read_bytes() != b"edited by hand\n"


def test_no_file_of_the_default_sample_plants_more_rejects_than_validation_allows(tmp_path):
    """make run validates with the default threshold: a small day (day 2 holds only day 1's
    reviews) must not draw more planted defects than it lets through."""
    from shopinsight_pipeline.validate.assets import ValidationConfig

    manifest = write_sample(tmp_path, SPEC)
    planted: dict[str, int] = {}
    for entry in manifest["planted"]:
        if entry["line"] is not None:
            planted[entry["file"]] = planted.get(entry["file"], 0) + 1
    threshold = ValidationConfig().max_reject_rate
    for name, count in planted.items():
        text = (tmp_path / "landing" / name).read_bytes()
        rows = text.count(b"\n") + (not text.endswith(b"\n")) - name.startswith("orders/")  # orders have a header
        assert count / rows <= threshold, (name, count, rows)


def test_without_category_growth_a_long_sample_ends_as_busy_as_it_starts_and_with_growth_it_does_not():
    """bench/incremental.py compares histories of 60 and 365 days on the same new-day volume."""

    def weekly_orders(spec: SampleSpec) -> tuple[int, int]:
        rng = random.Random(spec.seed)
        by_day = list(generate_orders(spec, make_products(rng), rng).values())
        # from day 60 on: past the sales event (days 44-45) and the first customers' arrival
        return sum(map(len, by_day[60:67])), sum(map(len, by_day[-7:]))

    flat = SampleSpec(days=240, orders_per_day=40, category_growth=False)
    early, late = weekly_orders(flat)
    assert abs(late - early) < 0.25 * early, (early, late)  # Poisson and re-order noise: about 10%
    early, late = weekly_orders(SampleSpec(days=240, orders_per_day=40))
    assert late > 1.5 * early, (early, late)
