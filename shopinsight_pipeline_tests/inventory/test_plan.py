"""inventory_plan: the numbers a planner orders from, on products built so the answer is known, and
the asset on the small lake (the stock count it used, a missing one refused with its path)."""

import shutil
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.inventory.plan import PlanSettings, latest_counts, plan_inventory, uncounted_products
from shopinsight_pipeline.inventory.policy import fixed_rule, plan_rule, replay
from shopinsight_pipeline.query import open_lake
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets

RUN_DATE = date(2026, 9, 2)
HORIZON = 28


def forecast(product: str, mean: float, low: float, high: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "product_id": [product] * HORIZON,
            "horizon_day": list(range(1, HORIZON + 1)),
            "mean": [mean] * HORIZON,
            "p10": [low] * HORIZON,
            "p90": [high] * HORIZON,
            "method": ["sba"] * HORIZON,
        },
        schema_overrides={"horizon_day": pl.Int32},
    )


def stock(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "product_id": pl.String,
            "on_hand": pl.Int32,
            "on_order": pl.Int32,
            "expected_arrival": pl.Date,
            "lead_time_days": pl.Int32,
            "unit_cost": pl.Float64,
        },
        orient="row",
    )


@pytest.fixture
def plan() -> pl.DataFrame:
    counts = stock(
        [
            ("SHORT", 5, 0, None, 3, 10.0),  # 5 on the shelf, 10 a day wanted, 3 days to a delivery
            ("COVERED", 5, 100, RUN_DATE + timedelta(days=2), 3, 10.0),  # the same, 100 arriving in 2 days
            ("HEAVY", 1000, 0, None, 3, 2.5),  # 1,000 on the shelf, 1 a day wanted
            ("NEW", 7, 0, None, 3, 4.0),  # no forecast
        ]
    )
    forecasts = pl.concat([forecast("SHORT", 10, 6, 14), forecast("COVERED", 10, 6, 14), forecast("HEAVY", 1, 0, 2)])
    return plan_inventory(counts, forecasts, RUN_DATE, PlanSettings())


def row(plan: pl.DataFrame, product: str) -> dict:
    return plan.filter(pl.col("product_id") == product).row(0, named=True)


def test_a_product_that_runs_out_before_a_delivery_can_arrive_is_ordered(plan):
    short = row(plan, "SHORT")
    assert short["stockout_probability"] > 0.99  # 5 units against about 30 wanted over the lead time
    assert short["lead_time_demand"] == pytest.approx(30)
    assert short["days_of_cover"] == pytest.approx(0.5)
    assert 30 <= short["reorder_point"] <= short["order_up_to"]
    assert short["order_up_to"] >= 100  # lead time + a week of demand, at 95%
    assert short["suggested_order"] == short["order_up_to"] - 5


def test_stock_arriving_within_the_lead_time_counts_as_supply_and_nothing_more_is_ordered(plan):
    covered = row(plan, "COVERED")
    assert covered["stockout_probability"] < 0.01
    assert covered["suggested_order"] == 0  # on hand + on order (105) is above the reorder point


def test_stock_far_above_its_demand_is_overstock_with_the_cash_it_ties_up(plan):
    heavy = row(plan, "HEAVY")
    assert heavy["overstock"] and heavy["suggested_order"] == 0
    assert 1000 - 60 < heavy["excess_units"] < 1000 - 28  # above the p90 of 28 days (mean 28)
    assert heavy["overstock_value"] == pytest.approx(heavy["excess_units"] * 2.5)
    assert not row(plan, "SHORT")["overstock"]


def test_a_product_without_a_forecast_keeps_its_stock_and_says_why_it_has_no_plan(plan):
    new = row(plan, "NEW")
    assert new["on_hand"] == 7 and new["suggested_order"] is None and new["stockout_probability"] is None
    assert "no demand forecast" in new["note"]


def test_a_product_missing_from_the_days_count_keeps_its_latest_count_with_its_date():
    yesterday, today = RUN_DATE - timedelta(days=1), RUN_DATE
    counts = {
        yesterday: stock([("A", 9, 0, None, 3, 1.0), ("B", 4, 0, None, 3, 1.0)]),
        today: stock([("A", 7, 0, None, 3, 1.0)]),  # B's row of today was quarantined
    }
    latest = {row["product_id"]: row for row in latest_counts(counts).iter_rows(named=True)}
    assert (latest["A"]["on_hand"], latest["A"]["stock_date"]) == (7, today)
    assert (latest["B"]["on_hand"], latest["B"]["stock_date"]) == (4, yesterday)


def test_a_product_that_sells_but_was_not_counted_is_named_not_planned_in_silence():
    counts = stock([("SHORT", 5, 0, None, 3, 10.0)])
    forecasts = pl.concat([forecast("SHORT", 10, 6, 14), forecast("MISSED", 2, 0, 4), forecast("ALSO", 1, 0, 2)])
    assert plan_inventory(counts, forecasts, RUN_DATE, PlanSettings())["product_id"].to_list() == ["SHORT"]
    assert uncounted_products(counts, forecasts) == ["ALSO", "MISSED"]


def test_a_lead_time_longer_than_the_forecast_sums_demand_over_all_of_it():
    """A 40-day supplier against a 28-day forecast: the days after it repeat its last week, so the
    lead time's demand is 40 days' (400), not 28 days' (280), and the order covers 47 days."""
    counts = stock([("FAR", 0, 0, None, 40, 1.0)])
    far = row(plan_inventory(counts, forecast("FAR", 10, 6, 14), RUN_DATE, PlanSettings()), "FAR")
    assert far["lead_time_demand"] == pytest.approx(400)
    assert far["order_up_to"] >= 470 and far["suggested_order"] == far["order_up_to"]


def test_a_higher_service_level_raises_the_reorder_point():
    counts = stock([("SHORT", 5, 0, None, 3, 10.0)])
    points = [
        plan_inventory(counts, forecast("SHORT", 10, 6, 14), RUN_DATE, PlanSettings(service_level=level))[
            "reorder_point"
        ].item()
        for level in (0.8, 0.95, 0.99)
    ]
    assert points[0] < points[1] < points[2]


def test_a_replay_serves_from_stock_and_orders_arrive_after_their_lead_time():
    demand = np.array([5, 5, 5, 5], dtype=float)
    never = replay(demand, np.ones(4, dtype=int), start_on_hand=8, unit_cost=2.0, rule=lambda *_: 0.0)
    assert (never.served, never.stockout_days, never.fill_rate) == (8, 3, 0.4)  # 5, 3, 0, 0 served
    assert never.stock_value == pytest.approx((3 + 0 + 0 + 0) * 2.0)
    # up to 10 whenever on hand + on order is at or below 5: day 0 ends with 3 and orders 7, there the next
    # morning, and so on: every customer served
    ordering = replay(demand, np.ones(4, dtype=int), 8, 2.0, plan_rule(np.full(4, 5.0), np.full(4, 10.0)))
    assert (ordering.served, ordering.stockout_days) == (20, 0)
    # 10 when on hand + on order is at or below 2: day 1 runs short (3 of 5), orders, is full again on day 2
    fixed = replay(demand, np.ones(4, dtype=int), 8, 1.0, fixed_rule(2.0, reorder_days=1, order_days=5))
    assert (fixed.served, fixed.stockout_days) == (18, 1)


def plan_metadata(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "inventory_plan"]
    return {key: getattr(value, "value", value) for key, value in event.materialization.metadata.items()}


def test_the_metadata_replays_the_plans_rule_against_a_fixed_one_once_forecasts_are_stored(lake, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(lake.root, root)
    instance = DagsterInstance.ephemeral()
    for day in lake.days:  # a forecast stored every night, as the nightly job does
        assert materialize_assets(root, instance, ["product_demand_forecast"], partition_key=day.isoformat()).success
    result = materialize_assets(root, instance, ["inventory_plan"], partition_key=lake.days[-1].isoformat())
    assert result.success
    metadata = plan_metadata(result)
    assert "policy_replay" in metadata, metadata.get("policy_replay_note")
    replay = metadata["policy_replay"]
    assert replay["days"] == len(lake.days) - 1  # every day with a forecast and the stock of the day before
    assert 0 < replay["suggested_fill_rate"] <= 1 and 0 < replay["fixed_fill_rate"] <= 1
    assert replay["suggested_avg_stock_value"] > 0 and replay["products"] > 0


def test_the_asset_plans_every_counted_product_and_names_the_stock_count_it_used(lake, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(lake.root, root)
    storage = LakeStorage(root=str(root))
    day = lake.days[-1]
    names = ["product_demand_forecast", "inventory_plan"]
    first_run = materialize_assets(root, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert first_run.success
    assert "policy_replay_note" in plan_metadata(first_run)  # one day of forecasts: too few to replay
    plan = storage.read_partition("inventory_plan", day)
    counted = storage.read_partition("validated_inventory", day)
    dated = dict(plan.select("product_id", "stock_date").iter_rows())
    assert all(dated[product] == day for product in counted["product_id"])  # the day's count where it has a row
    # the test lake is dirty on purpose: a product whose row of the day was quarantined keeps an older count
    quarantined = set(dated) - set(counted["product_id"])
    assert quarantined and all(dated[product] < day for product in quarantined)
    assert plan_metadata(first_run)["older_counts"].startswith(f"{len(quarantined)} product(s) missing")
    assert plan.filter(pl.col("suggested_order").is_not_null()).height > 0
    ordered = plan.filter(pl.col("suggested_order") > 0)
    expected_value = sum(units * cost for units, cost in ordered.select("suggested_order", "unit_cost").iter_rows())
    assert plan_metadata(first_run)["order_value"] == pytest.approx(expected_value)  # the cash today's orders ask
    with open_lake(storage, layers=frozenset({"gold"})) as (connection, views):  # what an analyst queries
        assert {"inventory_plan", "product_demand_forecast"} <= set(views)
        served = connection.execute("select count(*) from inventory_plan where run_date = ?", [day]).fetchone()[0]
        assert served == plan.height

    assert plan_metadata(first_run)["not_counted"] == 0
    assert plan_metadata(first_run)["reorder_chart"].startswith(
        "![stock against reorder levels](data:image/png;base64,"
    )

    storage.delete_partition("validated_inventory", day)  # the day's count is missing: the day before serves
    missed = sorted(counted["product_id"])[0]  # and one product that sells is in no count of the week: named
    for earlier in storage.partition_days("validated_inventory"):
        count = storage.read_partition("validated_inventory", earlier)
        storage.write_partition("validated_inventory", earlier, count.filter(pl.col("product_id") != missed))
    result = materialize_assets(root, DagsterInstance.ephemeral(), ["inventory_plan"], partition_key=day.isoformat())
    assert result.success
    replanned = storage.read_partition("inventory_plan", day)
    assert replanned["stock_date"].max() == day - timedelta(days=1) and missed not in replanned["product_id"]
    assert plan_metadata(result)["stock_date"] == (day - timedelta(days=1)).isoformat()
    assert plan_metadata(result)["not_counted"] == 1 and missed in plan_metadata(result)["not_counted_products"]

    for earlier in storage.partition_days("validated_inventory"):
        storage.delete_partition("validated_inventory", earlier)
    failed = materialize_assets(root, DagsterInstance.ephemeral(), ["inventory_plan"], partition_key=day.isoformat())
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert str(storage.landing_file("inventory", day)) in str(failure.event_specific_data.error)


def test_a_slow_movers_risk_comes_from_its_sd_even_where_its_quantiles_or_mean_are_zero():
    """p10 = p90 = 0 (it sells on fewer than one day in ten) and, for seasonal naive after a week
    without an order, a mean of 0: the sd the forecast carries still sets a reorder point."""
    days = 7
    base = {
        "horizon_day": list(range(1, days + 1)),
        "method": ["sba"] * days,
        "p10": [0.0] * days,
        "p90": [0.0] * days,
        "sd": [2.9] * days,
        "day_correlation": [0.0] * days,
    }
    stock = pl.DataFrame(
        {"product_id": ["P1"], "on_hand": [0], "on_order": [0], "expected_arrival": [None], "lead_time_days": [days]},
        schema_overrides={
            "on_hand": pl.Int32,
            "on_order": pl.Int32,
            "expected_arrival": pl.Date,
            "lead_time_days": pl.Int32,
        },
    ).with_columns(pl.lit(1.0).alias("unit_cost"))
    for daily_mean in (0.8, 0.0):
        forecast = pl.DataFrame({"product_id": ["P1"] * days, "mean": [daily_mean] * days, **base})
        [plan] = plan_inventory(stock, forecast, RUN_DATE, PlanSettings()).iter_rows(named=True)
        # independent days: sd over the week 2.9 * sqrt(7) = 7.7; the 95% quantile lies well above the mean
        assert plan["reorder_point"] >= daily_mean * days + 1.645 * 2.9 * np.sqrt(days) - 1
        assert plan["stockout_probability"] > 0.05
