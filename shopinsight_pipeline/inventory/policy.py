"""Replaying a replenishment policy over history (issue 28.4): each product's daily demand served
from simulated stock, orders placed by the policy arriving after the supplier's lead time. Pure.

Two policies are compared on the same demand, lead times and starting stock:
- `suggested`: each day, inventory_plan's rule from the demand forecast made that day (reorder
  point and order-up-to level for the service level);
- `fixed`: the rule of thumb it replaces: reorder when on hand + on order falls to two weeks of the
  average demand before the replay, order four weeks of it.

Fill rate (units served / units wanted), the share of product-days that end with an empty shelf
(stock-out days), and the average value of the stock on hand tell whether the suggested policy
serves as well with less cash in stock.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.inventory.plan import PlanSettings, plan_inventory

# (day index, on hand, on order) -> units to order that day, for one product
Rule = Callable[[int, float, float], float]


@dataclass
class Replay:
    wanted: float
    served: float
    stockout_days: int
    days: int
    stock_value: float  # sum over days of on hand x unit cost (average: / days)

    @property
    def fill_rate(self) -> float:
        return self.served / self.wanted if self.wanted else 1.0

    def add(self, other: "Replay") -> "Replay":
        return Replay(
            self.wanted + other.wanted,
            self.served + other.served,
            self.stockout_days + other.stockout_days,
            self.days + other.days,
            self.stock_value + other.stock_value,
        )


def replay(demand: np.ndarray, lead_times: np.ndarray, start_on_hand: float, unit_cost: float, rule: Rule) -> Replay:
    """Serve `demand` (units wanted per day) from stock, ordering by `rule` at the end of each day;
    an order placed on day t arrives at the start of day t + lead_times[t]."""
    on_hand = float(start_on_hand)
    arrivals: dict[int, float] = {}
    served = 0.0
    stockout_days = 0
    stock_value = 0.0
    for day, wanted in enumerate(demand):
        on_hand += arrivals.pop(day, 0.0)
        sold = min(float(wanted), on_hand)
        on_hand -= sold
        served += sold
        stockout_days += sold < wanted  # a day some customer found the shelf empty
        stock_value += on_hand * unit_cost
        on_order = sum(arrivals.values())
        quantity = rule(day, on_hand, on_order)
        if quantity > 0:
            due = day + int(lead_times[day])
            arrivals[due] = arrivals.get(due, 0.0) + quantity
    return Replay(float(np.sum(demand)), served, int(stockout_days), len(demand), stock_value)


def fixed_rule(average_daily: float, reorder_days: int = 14, order_days: int = 28) -> Rule:
    """Reorder when on hand + on order falls to `reorder_days` of average demand; order
    `order_days` of it."""
    point, quantity = average_daily * reorder_days, max(1.0, round(average_daily * order_days))

    def rule(day: int, on_hand: float, on_order: float) -> float:
        return quantity if on_hand + on_order <= point else 0.0

    return rule


def plan_rule(reorder_points: np.ndarray, order_up_to: np.ndarray) -> Rule:
    """inventory_plan's rule with the levels it computed for each day."""

    def rule(day: int, on_hand: float, on_order: float) -> float:
        position = on_hand + on_order
        return max(float(order_up_to[day]) - position, 0.0) if position <= reorder_points[day] else 0.0

    return rule


@dataclass
class PolicyComparison:
    """The two policies replayed over the same days, all products together."""

    days: int
    products: int
    suggested: Replay
    fixed: Replay

    def metadata(self) -> dict:
        return {
            "days": self.days,
            "products": self.products,
            **{
                f"{name}_{measure}": value
                for name, replayed in (("suggested", self.suggested), ("fixed", self.fixed))
                for measure, value in (
                    ("fill_rate", round(replayed.fill_rate, 4)),
                    ("stockout_day_share", round(replayed.stockout_days / max(replayed.days, 1), 4)),
                    ("avg_stock_value", round(replayed.stock_value / max(self.days, 1), 2)),
                )
            },
        }


def compare_policies(
    demand: np.ndarray,
    lead_times: np.ndarray,
    reorder_points: np.ndarray,
    order_up_to: np.ndarray,
    start_on_hand: np.ndarray,
    unit_costs: np.ndarray,
) -> PolicyComparison:
    """Replay every product (rows; columns are the days) under the plan's levels of each day and
    under the fixed rule (its average: the product's mean demand over the replayed days, which favours
    the fixed rule: it knows the period's demand in advance)."""
    totals = {"suggested": Replay(0, 0, 0, 0, 0), "fixed": Replay(0, 0, 0, 0, 0)}
    for row in range(demand.shape[0]):
        suggested = plan_rule(reorder_points[row], order_up_to[row])
        fixed = fixed_rule(float(demand[row].mean()))
        for name, rule in (("suggested", suggested), ("fixed", fixed)):
            totals[name] = totals[name].add(
                replay(demand[row], lead_times[row], start_on_hand[row], unit_costs[row], rule)
            )
    return PolicyComparison(demand.shape[1], demand.shape[0], totals["suggested"], totals["fixed"])


def replay_recent(
    forecasts: dict[date, pl.DataFrame],
    counts: dict[date, pl.DataFrame],
    sales: pl.DataFrame,
    run_date: date,
    settings: PlanSettings,
    max_days: int = 28,
    min_days: int = 7,
) -> PolicyComparison | str:
    """inventory_plan's rule against the fixed rule over the days before `run_date` that have a
    stored forecast (the run of consecutive days ending on it, at most `max_days`), on the demand
    recorded then: units sold, and on a day that ended with the shelf empty at least the forecast's
    daily demand (censored: the shelf, not the customers, set the sales). A note (str) instead when
    fewer than `min_days` days have both a forecast and a stock count, or no stock before them."""
    days: list[date] = []
    current = run_date
    while current in forecasts and current in counts and len(days) < max_days:
        days.insert(0, current)
        current -= timedelta(days=1)
    while days and days[0] - timedelta(days=1) not in counts:  # the stock the replay starts from
        days.pop(0)
    start = days[0] - timedelta(days=1) if days else None
    if len(days) < min_days or start not in counts:
        return (
            f"policy replay: {len(days)} consecutive days with a stored forecast and a stock count before "
            f"{run_date} (needs {min_days}, and the stock count of the day before them)"
        )
    products = sorted(set(counts[days[-1]].get_column("product_id")) & set(counts[start].get_column("product_id")))
    index = {product: row for row, product in enumerate(products)}
    shape = (len(products), len(days))
    demand, leads = np.zeros(shape), np.ones(shape, dtype=int)
    reorder, up_to = np.zeros(shape), np.zeros(shape)
    sold = (
        sales.filter(pl.col("status") != "cancelled")
        .group_by("product_id", "order_date")
        .agg(pl.col("quantity").sum().alias("units"))
    )
    for column, day in enumerate(days):
        count = counts[day].filter(pl.col("product_id").is_in(products))
        levels = plan_inventory(
            count.with_columns(pl.lit(0).cast(pl.Int32).alias("on_hand"), pl.lit(0).cast(pl.Int32).alias("on_order")),
            forecasts[day],
            day,
            settings,
        )
        rate = dict(forecasts[day].filter(pl.col("horizon_day") == 1).select("product_id", "mean").iter_rows())
        units = dict(sold.filter(pl.col("order_date") == day).select("product_id", "units").iter_rows())
        empty = set(count.filter(pl.col("on_hand") == 0).get_column("product_id"))
        for row in levels.iter_rows(named=True):
            at = index[row["product_id"]]
            wanted = float(units.get(row["product_id"], 0))
            if row["product_id"] in empty:
                wanted = max(wanted, float(rate.get(row["product_id"], 0.0)))
            demand[at, column] = wanted
            leads[at, column] = max(int(row["lead_time_days"]), 1)
            reorder[at, column] = row["reorder_point"] or 0
            up_to[at, column] = row["order_up_to"] or 0
    first = counts[start].filter(pl.col("product_id").is_in(products)).sort("product_id")
    last = counts[days[-1]].filter(pl.col("product_id").is_in(products)).sort("product_id")
    return compare_policies(
        demand,
        leads,
        reorder,
        up_to,
        first.get_column("on_hand").to_numpy().astype(float),
        last.get_column("unit_cost").to_numpy().astype(float),
    )
