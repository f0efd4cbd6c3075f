"""The sample's scale knobs (SampleSpec.products_per_category, customers_at_start,
new_customers_per_day; bench/recommend_scale.py): the default sample is byte for byte what it was
before they existed, and a bigger catalogue keeps its ids unique and sortable and its planted
behaviours on the same (category, index)."""

import hashlib
import json
import random
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from shopinsight_pipeline.sample import (
    CATEGORIES,
    FOLLOW_UPS,
    MANIFEST_NAME,
    PRODUCTS_PER_CATEGORY,
    REORDER_CYCLES,
    SampleSpec,
    _shelf,
    generate_orders,
    make_products,
    write_sample,
)

# sha256 over every file of write_sample(root, SampleSpec()) (relative path, NUL, the file's sha256),
# measured before the scale knobs were added. A deliberate change of the generator bumps
# SAMPLE_VERSION and updates this digest with it: version 3 plants the aspect causes (issue 24.7) in
# 666 review lines and changes nothing else (the orders files and the planted defects are identical);
# version 4 adds the daily catalogue files (landing/products/, broken lines on two days) and changes
# nothing else (diffed); version 5 appends a personal detail to 84 reviews (personal_data_planted)
# and changes nothing else (diffed: 82 review lines in 44 reviews files; orders, catalogues and the
# other manifest entries identical); version 6 adds the stock counts (landing/inventory/) and serves
# the orders from that stock: the orders an empty shelf could not serve leave with their reviews
# (inventory_planted.lost_units), so the defect draws after the first lost order differ (each is
# still listed in the manifest); version 7 adds the planner's sales calendar
# (landing/calendar/sales_events.csv, the two-day sale) and changes nothing else (diffed against 6).
DEFAULT_SAMPLE_DIGEST = "b0b5af1b4e9090298810f04d251ccd4caf045695b16f640a5b266d4bfabfe180"
WIDE = 150  # products per category: ids of three digits


def digest(root: Path) -> str:
    total = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        total.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()


def frame_of(spec: SampleSpec) -> tuple[list, pl.DataFrame]:
    rng = random.Random(spec.seed)
    products = make_products(rng, spec.products_per_category)
    by_day = generate_orders(spec, products, rng)
    rows = [
        {"customer_id": o["customer_id"], "product_id": o["product_id"], "day": day}
        for day, todays in by_day.items()
        for o in todays
        if o["status"] != "cancelled"
    ]
    return products, pl.DataFrame(rows)


def pid(category: str, index: int, per_category: int = WIDE) -> str:
    return f"P{list(CATEGORIES).index(category)}{index:0{max(2, len(str(per_category - 1)))}d}"


@pytest.fixture(scope="module")
def wide() -> tuple[SampleSpec, list, pl.DataFrame]:
    spec = SampleSpec(days=30, orders_per_day=1500, products_per_category=WIDE)
    products, orders = frame_of(spec)
    return spec, products, orders


def test_the_default_sample_is_byte_for_byte_what_it_was_and_records_no_knob(tmp_path):
    manifest = write_sample(tmp_path, SampleSpec())
    assert digest(tmp_path) == DEFAULT_SAMPLE_DIGEST
    assert not {"products_per_category", "customers_at_start", "new_customers_per_day"} & set(manifest["spec"])


def test_a_knob_other_than_its_default_is_recorded_and_rewrites_the_landing_zone(tmp_path):
    small = SampleSpec(days=1, orders_per_day=20, truncated_orders_day=-1, gbk_reviews_day=-1, truncated_reviews_day=-1)
    write_sample(tmp_path, small)
    wide = SampleSpec(**{**small.__dict__, "products_per_category": WIDE})
    manifest = write_sample(tmp_path, wide)
    assert manifest["spec"]["products_per_category"] == WIDE
    assert json.loads((tmp_path / "landing" / MANIFEST_NAME).read_text(encoding="utf-8")) == manifest
    orders = pl.read_csv(next((tmp_path / "landing" / "orders").glob("*.csv")), infer_schema=False)
    assert orders["product_id"].str.len_chars().unique().to_list() == [5]  # P + category + three digits


def test_a_wide_catalogue_has_unique_ids_sorted_in_shelf_order_and_the_planted_products_in_place(wide):
    _, products, _ = wide
    ids = [product.product_id for product in products]
    assert len(ids) == len(set(ids)) == WIDE * len(CATEGORIES)
    assert ids == sorted(ids)
    shelf = _shelf(products)
    assert all(shelf[key].product_id == pid(*key) for key in shelf)
    for category in CATEGORIES:  # the last product of each category is the poorly reviewed one
        shares = [shelf[category, j].positive_share for j in range(WIDE)]
        assert shares[-1] == 0.25 and min(shares[:-1]) >= 0.45
    assert [p.product_id for p in products if p.drops_on_day is not None] == [pid("electronics", 0)]
    # the default ids are unchanged: two digits
    default = make_products(random.Random(0))
    assert [p.product_id for p in default[:2]] == ["P000", "P001"] and len(default) == PRODUCTS_PER_CATEGORY * 6


def test_a_wide_catalogue_keeps_its_follow_ups_and_reorder_cycles_on_the_same_indices(wide):
    _, _, orders = wide
    days = orders.select("customer_id", "product_id", "day").unique()
    buyers = days["customer_id"].n_unique()
    for (first, index), ((category, follow_index), _, latest, _) in FOLLOW_UPS.items():
        lead, follow = pid(first, index), pid(category, follow_index)
        leads = days.filter(pl.col("product_id") == lead)
        within = leads.join(days.filter(pl.col("product_id") == follow), on="customer_id", suffix="_follow").filter(
            (pl.col("day_follow") >= pl.col("day")) & (pl.col("day_follow") <= pl.col("day") + timedelta(days=latest))
        )
        share_after_lead = within["customer_id"].n_unique() / leads["customer_id"].n_unique()
        share_of_everyone = days.filter(pl.col("product_id") == follow)["customer_id"].n_unique() / buyers
        assert share_after_lead > max(0.2, 5 * share_of_everyone), (lead, follow, share_after_lead, share_of_everyone)
    gaps = (
        days.sort("customer_id", "product_id", "day")
        .with_columns(gap=pl.col("day").diff().dt.total_days().over("customer_id", "product_id"))
        .filter(pl.col("gap").is_not_null())
    )
    cycles = {pid(*key): days for key, days in REORDER_CYCLES.items() if days <= 21}  # room in 30 days
    median_gap = dict(gaps.group_by("product_id").agg(pl.col("gap").median()).iter_rows())
    for product, cycle in cycles.items():
        assert abs(median_gap[product] - cycle) <= 2, (product, median_gap.get(product), cycle)
    pairs = days.group_by("customer_id", "product_id").agg(again=pl.len() > 1)
    consumable = pl.col("product_id").is_in([pid(*key) for key in REORDER_CYCLES])
    durable_again = pairs.filter(~consumable)["again"].mean()
    cyclic_again = pairs.filter(pl.col("product_id").is_in(list(cycles)))["again"].mean()
    assert isinstance(durable_again, float) and isinstance(cyclic_again, float)
    assert durable_again < 0.02 and cyclic_again > 10 * durable_again, (durable_again, cyclic_again)


def test_the_customer_knobs_change_how_many_customers_there_are():
    def buying_customers(at_start: int, per_day: int) -> int:
        spec = SampleSpec(days=5, orders_per_day=400, customers_at_start=at_start, new_customers_per_day=per_day)
        return frame_of(spec)[1]["customer_id"].n_unique()

    few, many = buying_customers(100, 5), buying_customers(3000, 200)
    assert few <= 100 + 4 * 5 * 2  # the first cohort and four days of arrivals at most
    assert many > 5 * few, (few, many)
