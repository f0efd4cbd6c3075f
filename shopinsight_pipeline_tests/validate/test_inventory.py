"""The stock feed (issue 28.1): the sample's inventory files go through the same bronze, silver and
quarantine machinery as orders and reviews; every planted dirty row is quarantined for its rule and
nothing else is; rows are conserved; and the sample never sells from an empty shelf."""

import csv
import itertools
import random
from collections import defaultdict
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.ingest.landing import read_inventory_csv
from shopinsight_pipeline.sample import generate_orders, make_products, write_sample
from shopinsight_pipeline.sample_stock import INVENTORY_DEFECTS, simulate_stock
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import RuleSettings
from shopinsight_pipeline.validate.split import split_day
from shopinsight_pipeline_tests.conftest import SMALL_SPEC

# What each planted defect must be quarantined for, stated here independently of the code.
EXPECTED_RULE = {
    "negative_on_hand": "on_hand_out_of_range",
    "on_order_without_arrival": "on_order_without_arrival",
    "unknown_product": "unknown_product",
    "duplicate_product": "duplicate_product",
    "product_not_in_catalogue": "unknown_product",  # its catalogue line was rejected that day
}
DAY = date(2026, 8, 3)
HEADER = "product_id,on_hand,on_order,expected_arrival,lead_time_days,unit_cost\n"


def read_table(storage: LakeStorage, table: str) -> pl.DataFrame:
    return pl.concat([storage.read_partition(table, day) for day in storage.partition_days(table)], how="vertical")


def test_every_planted_stock_defect_is_quarantined_for_its_rule_and_nothing_else_is(lake):
    storage = LakeStorage(root=str(lake.root))
    planted = lake.manifest["inventory_planted"]["defects"]
    assert (
        {entry["kind"] for entry in planted} == {*INVENTORY_DEFECTS, "product_not_in_catalogue"} == set(EXPECTED_RULE)
    )
    quarantine = read_table(storage, "quarantined_inventory")
    rules_at = {
        (row["source_file"], row["line_number"]): set(row["rejected_rules"]) for row in quarantine.iter_rows(named=True)
    }
    expected_at: dict[tuple[str, int], set[str]] = defaultdict(set)
    for entry in planted:
        expected_at[(entry["file"].split("/")[1], entry["line"])].add(EXPECTED_RULE[entry["kind"]])
    assert set(rules_at) == set(expected_at)
    for place, expected in expected_at.items():
        assert expected <= rules_at[place], (place, expected, rules_at[place])
    for day in lake.days:  # every raw row is validated or quarantined
        raw, kept, rejected = (storage.row_count(f"{k}_inventory", day) for k in ("raw", "validated", "quarantined"))
        assert raw == kept + rejected and kept > 0, day


def test_validated_stock_is_one_typed_row_per_catalogue_product_and_day(lake):
    storage = LakeStorage(root=str(lake.root))
    for day in lake.days:
        stock = storage.read_partition("validated_inventory", day)
        catalogue = set(storage.read_partition("products", day)["product_id"])
        assert stock["date"].unique().to_list() == [day]
        assert stock["product_id"].is_unique().all() and set(stock["product_id"]) <= catalogue
        assert stock["on_hand"].min() >= 0 and stock["on_order"].min() >= 0
        on_order = stock.filter(pl.col("on_order") > 0)
        assert on_order["expected_arrival"].null_count() == 0 and (on_order["expected_arrival"] > day).all()


def test_no_order_is_served_from_an_empty_shelf():
    """Receipts are what stock grew by plus what was sold: never negative (sold units come off the
    shelf, never more than it holds), and only where something was on order."""
    rng = random.Random(SMALL_SPEC.seed)
    products = make_products(rng, SMALL_SPEC.products_per_category)
    orders = generate_orders(SMALL_SPEC, products, rng)
    result = simulate_stock(orders, products, SMALL_SPEC.products_per_category)
    days = sorted(result.rows)
    checked = 0
    for before, day in itertools.pairwise(days):
        sold: dict[str, int] = defaultdict(int)
        for order in result.served[day]:
            if order["status"] != "cancelled":
                sold[order["product_id"]] += int(order["quantity"])
        earlier = {row["product_id"]: row for row in result.rows[before]}
        for row in result.rows[day]:
            received = int(row["on_hand"]) - int(earlier[row["product_id"]]["on_hand"]) + sold[row["product_id"]]
            assert received >= 0, (day, row)
            assert received == 0 or int(earlier[row["product_id"]]["on_order"]) > 0, (day, row)
            checked += 1
    assert checked == (len(days) - 1) * len(products)


def test_a_late_supplier_empties_the_shelf_for_days_and_nothing_of_it_sells_meanwhile(tmp_path):
    manifest = write_sample(tmp_path)
    delay = manifest["inventory_planted"]["supplier_delay"]
    assert all(len(days) >= 5 for days in delay["days_at_zero"].values()), delay["days_at_zero"]
    planted = {(entry["file"], entry["line"]) for entry in manifest["planted"]}
    for product, days in delay["days_at_zero"].items():
        for before, day in itertools.pairwise(map(date.fromisoformat, days)):
            if day - before != timedelta(days=1):
                continue  # empty all day only when the day before ended empty too
            name = f"orders/orders_{day.isoformat()}.csv"
            with (tmp_path / "landing" / name).open(encoding="utf-8") as handle:
                lines = list(csv.DictReader(handle))
            sold = [
                number
                for number, line in enumerate(lines, start=2)
                if line["product_id"] == product and line["status"] != "cancelled" and (name, number) not in planted
            ]
            assert sold == [], (product, day)


def test_the_simulated_planner_loses_the_orders_an_empty_shelf_cannot_serve():
    class Product:
        def __init__(self, product_id: str) -> None:
            self.product_id, self.category, self.base_price = product_id, "books", 10.0  # no planted product

    days = [DAY + timedelta(days=offset) for offset in range(30)]
    orders = {
        day: [
            {"order_id": f"O{offset}-{n}", "product_id": "P000", "quantity": "1", "status": "delivered"}
            for n in range(5 if offset < 20 else 100)  # demand jumps twentyfold on day 20
        ]
        for offset, day in enumerate(days)
    }
    result = simulate_stock(orders, [Product("P000")], per_category=16)
    assert all(len(result.served[day]) == 5 for day in days[:20])  # before the jump every order was served
    assert result.lost_order_ids and all(int(order.split("-")[0][1:]) >= 20 for order in result.lost_order_ids)
    on_hand = [int(result.rows[day][0]["on_hand"]) for day in days]
    assert min(on_hand) == 0 and min(on_hand[:20]) > 0
    served = sum(len(result.served[day]) for day in days)
    assert served + len(result.lost_order_ids) == sum(len(todays) for todays in orders.values())


def test_bad_stock_lines_are_quarantined_with_the_rule_and_the_value():
    lines = [
        "P000,12,0,,3,5.50",  # clean, nothing on order
        "P001,-3,0,,3,5.50",  # negative stock
        "P002,ten,0,,3,5.50",  # not a number
        "P003,4,20,,5,5.50",  # on order without a date
        "P004,4,20,2026-02-30,5,5.50",  # a date that does not exist
        "P005,4,20,2026-08-09,900,5.50",  # a lead time of 900 days
        "P006,4,0,,3,-1",  # a negative cost is no decimal
        "P999,4,0,,3,5.50",  # not in the catalogue
        "P000,12,0,,3,5.50",  # the same product again
        "P007,4,0",  # too few fields
    ]
    read = read_inventory_csv((HEADER + "\n".join(lines) + "\n").encode(), "inventory_2026-08-03.csv")
    known = pl.Series([f"P00{n}" for n in range(8)])
    result = split_day("inventory", DAY, read.frame, pl.Series([], dtype=pl.String), RuleSettings(), known)
    assert result.validated["product_id"].to_list() == ["P000"]
    assert result.validated.row(0, named=True)["date"] == DAY
    rules = {row["line_number"]: set(row["rejected_rules"]) for row in result.quarantined.iter_rows(named=True)}
    assert rules[3] == {"on_hand_out_of_range"} and rules[4] == {"on_hand_not_an_integer"}
    assert rules[5] == {"on_order_without_arrival"} and rules[6] == {"unparseable_arrival_date"}
    assert rules[7] == {"lead_time_days_out_of_range"} and "unit_cost_not_a_number" in rules[8]
    assert rules[9] == {"unknown_product"} and rules[10] == {"duplicate_product"}
    assert "wrong_field_count" in rules[11]
    reason = result.quarantined.filter(pl.col("line_number") == 3)["reason"].item()
    assert reason.startswith("inventory_2026-08-03.csv line 3:") and "on_hand='-3'" in reason
    without_catalogue = split_day("inventory", DAY, read.frame, pl.Series([], dtype=pl.String), RuleSettings(), None)
    assert "P999" in without_catalogue.validated["product_id"].to_list()  # no catalogue: not checked
