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

import numpy as np

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
