"""The sample's stock (issue 28.1): what each product has on the shelf at the end of every day, and the
orders an empty shelf could not serve. Pure, with its own random stream: the orders are drawn first
(sample.generate_orders, unchanged), then served in time order from the stock the simulated planner
keeps; an order for more than is on hand is a lost sale and leaves the sample (its review too), so
no product sells from an empty shelf and demand is censored on stock-out days.

The planner reorders on a (s, S) rule from the demand it expects (each product's mean daily units
over the sample), with each supplier's lead time. Planted, and listed in the manifest:
- supplier_delay: products whose supplier delivers the orders placed in a stretch of days late (by
  SUPPLIER_DELAY_DAYS), so the shelf runs empty and stays empty for days while customers keep coming;
- overstock: a product stocked at many months of its demand (cash tied up, never reordered);
- lead_time_growth: a supplier whose lead time grows over the sample (the planner still assumes
  the old one at first, so its products run short more often towards the end);
- dirty rows (negative on hand, on order without an arrival date, an unknown product, a product
  twice in a file), like the other feeds.
"""

import csv
import io
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from shopinsight_pipeline.schemas import INVENTORY_FIELDS

SUPPLIERS = ("S1", "S2", "S3", "S4")
BASE_LEAD_TIME = {"S1": 3, "S2": 5, "S3": 4, "S4": 7}  # days from an order to its delivery
GROWING_SUPPLIER, GROWN_LEAD_TIME = "S3", 12  # S3's lead time grows to this by the sample's last day
REVIEW_DAYS = 14  # the planner's order cycle: S covers the lead time and this many days more
SAFETY_FACTOR = 2.0  # safety stock in standard deviations of demand over the lead time
COST_SHARE = 0.6  # unit cost as a share of the product's base price
# (category, index) of planted products: a supplier that ships nothing for a stretch, and the overstock
DELAYED = (("home", 0), ("beauty", 1), ("toys", 2))
OVERSTOCKED = ("books", 7)
OVERSTOCK_DAYS_OF_DEMAND = 400
SUPPLIER_DELAY_DAYS = 12
INVENTORY_DEFECTS = ("negative_on_hand", "on_order_without_arrival", "unknown_product", "duplicate_product")


@dataclass
class StockResult:
    """What the simulation gives the sample: the orders served, the day's inventory rows, and the
    planted behaviour for the manifest."""

    served: dict[date, list[dict]]
    lost_order_ids: set[str]
    rows: dict[date, list[dict[str, str]]]
    planted: dict[str, Any] = field(default_factory=dict)


def supplier_of(index: int) -> str:
    return SUPPLIERS[index % len(SUPPLIERS)]


def lead_time(supplier: str, offset: int, days: int) -> int:
    """The supplier's lead time on day `offset`: constant, but S3's grows linearly over the sample."""
    base = BASE_LEAD_TIME[supplier]
    if supplier != GROWING_SUPPLIER or days <= 1:
        return base
    return round(base + (GROWN_LEAD_TIME - base) * offset / (days - 1))


def delay_window(days: int) -> tuple[int, int]:
    """Day offsets [first, last) in which orders to the delayed suppliers arrive late: from the
    middle of the sample, 14 days (a third of a short sample)."""
    length = max(2, min(14, days // 3))
    first = max(1, days // 2 - length // 2)
    return first, first + length


def delay(days: int) -> int:
    """Days the delayed supplier is late: SUPPLIER_DELAY_DAYS, a third of a short sample."""
    return max(1, min(SUPPLIER_DELAY_DAYS, days // 3))


def simulate_stock(
    orders: dict[date, list[dict]],
    products: list,
    per_category: int,
) -> StockResult:
    """Serve `orders` (day -> orders sorted by time) from simulated stock; see the module docstring."""
    days = sorted(orders)
    horizon = len(days)
    positions = {product.product_id: position % per_category for position, product in enumerate(products)}
    keyed = {(product.category, positions[product.product_id]): product.product_id for product in products}
    delayed = {keyed[key] for key in DELAYED if key in keyed}
    overstocked = keyed.get(OVERSTOCKED)
    units: dict[str, list[int]] = {product.product_id: [0] * horizon for product in products}
    for offset, day in enumerate(days):
        for order in orders[day]:
            if order["status"] != "cancelled":
                units[order["product_id"]][offset] += int(order["quantity"])
    plan = {}
    on_hand: dict[str, int] = {}
    for product in products:
        daily = units[product.product_id]
        mean = sum(daily) / horizon
        spread = math.sqrt(sum((value - mean) ** 2 for value in daily) / horizon)
        supplier = supplier_of(positions[product.product_id])
        lead = BASE_LEAD_TIME[supplier]  # what the planner believes
        reorder_point = math.ceil(mean * lead + SAFETY_FACTOR * spread * math.sqrt(lead))
        order_up_to = reorder_point + max(1, math.ceil(mean * REVIEW_DAYS))
        plan[product.product_id] = (supplier, reorder_point, order_up_to)
        on_hand[product.product_id] = (
            math.ceil(mean * OVERSTOCK_DAYS_OF_DEMAND) if product.product_id == overstocked else order_up_to
        )
    arrivals: dict[str, list[tuple[int, int]]] = {product.product_id: [] for product in products}  # (offset, units)
    first, last = delay_window(horizon)
    served: dict[date, list[dict]] = {}
    lost: set[str] = set()
    lost_units: dict[str, dict[str, int]] = {}
    rows: dict[date, list[dict[str, str]]] = {}
    for offset, day in enumerate(days):
        for product_id, due in arrivals.items():  # the morning's deliveries
            arrived = [entry for entry in due if entry[0] <= offset]
            on_hand[product_id] += sum(quantity for _, quantity in arrived)
            arrivals[product_id] = [entry for entry in due if entry not in arrived]
        todays = []
        for order in orders[day]:
            quantity = int(order["quantity"])
            if order["status"] == "cancelled":
                todays.append(order)
            elif on_hand[order["product_id"]] >= quantity:
                on_hand[order["product_id"]] -= quantity
                todays.append(order)
            else:  # the shelf cannot serve it: the customer leaves without buying
                lost.add(order["order_id"])
                by_day = lost_units.setdefault(order["product_id"], {})
                by_day[day.isoformat()] = by_day.get(day.isoformat(), 0) + quantity
        served[day] = todays
        rows[day] = []
        for product in products:
            product_id = product.product_id
            supplier, reorder_point, order_up_to = plan[product_id]
            lead = lead_time(supplier, offset, horizon)
            outstanding = sum(quantity for _, quantity in arrivals[product_id])
            if product_id != overstocked and on_hand[product_id] + outstanding <= reorder_point:
                late = delay(horizon) if product_id in delayed and first <= offset < last else 0
                arrivals[product_id].append((offset + lead + late, order_up_to - on_hand[product_id] - outstanding))
                outstanding = sum(quantity for _, quantity in arrivals[product_id])
            due_offsets = [when for when, _ in arrivals[product_id]]
            expected = ""
            if due_offsets:  # the supplier's promise (a late one says when it ships again)
                expected = (days[0] + timedelta(days=max(min(due_offsets), offset + 1))).isoformat()
            rows[day].append(
                {
                    "product_id": product_id,
                    "on_hand": str(on_hand[product_id]),
                    "on_order": str(outstanding),
                    "expected_arrival": expected,
                    "lead_time_days": str(lead),
                    "unit_cost": f"{product.base_price * COST_SHARE:.2f}",
                }
            )
    zero_days = {
        product_id: [day.isoformat() for day in days if _row(rows[day], product_id)["on_hand"] == "0"]
        for product_id in sorted(delayed)
    }
    planted = {
        "supplier_delay": {
            "products": sorted(delayed),
            "orders_placed_from": days[first].isoformat() if first < horizon else None,
            "orders_placed_until": days[min(last, horizon) - 1].isoformat() if first < horizon else None,
            "days_late": delay(horizon),
            "days_at_zero": zero_days,
        },
        "overstock": {"product": overstocked, "days_of_demand": OVERSTOCK_DAYS_OF_DEMAND},
        "lead_time_growth": {
            "supplier": GROWING_SUPPLIER,
            "from_days": BASE_LEAD_TIME[GROWING_SUPPLIER],
            "to_days": GROWN_LEAD_TIME,
            "products": sorted(pid for pid, (supplier, _, _) in plan.items() if supplier == GROWING_SUPPLIER),
        },
        "lost_units": {product_id: dict(sorted(by_day.items())) for product_id, by_day in sorted(lost_units.items())},
    }
    return StockResult(served, lost, rows, planted)


def _row(rows: list[dict[str, str]], product_id: str) -> dict[str, str]:
    return next(row for row in rows if row["product_id"] == product_id)


def plant_inventory_defects(
    rows: list[dict[str, str]], name: str, rate: float, rng: random.Random
) -> tuple[list[dict[str, str]], list[dict]]:
    """A day's inventory rows with a few dirty ones (a `rate` of them, at least none), and where they
    are (file, line, kind) for the manifest; line numbers count the header as line 1."""
    out: list[dict[str, str]] = []
    planted = []
    for row in rows:
        if rng.random() >= rate:
            out.append(row)
            continue
        kind = rng.choice(INVENTORY_DEFECTS)
        if kind == "negative_on_hand":
            out.append({**row, "on_hand": str(-rng.randint(1, 20))})
        elif kind == "on_order_without_arrival":
            on_order = int(row["on_order"]) or rng.randint(5, 50)
            out.append({**row, "on_order": str(on_order), "expected_arrival": ""})
        elif kind == "unknown_product":
            out.append(row)  # the product's own row stays; the stray one follows it
            out.append({**row, "product_id": f"P9{rng.randint(100, 999)}"})
        else:  # the product's row twice: the second copy is the defect
            out.append(row)
            out.append(dict(row))
        planted.append({"file": name, "line": len(out) + 1, "kind": kind})
    return out, planted


def inventory_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INVENTORY_FIELDS)
    for row in rows:
        writer.writerow([row[name] for name in INVENTORY_FIELDS])
    return buffer.getvalue().encode("utf-8")


def recorded_frames(result: StockResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the shop recorded, as the validated tables hold it (the columns the demand forecast
    reads): the served order lines (product_id, order_date, quantity, status) and the stock counts
    (date, product_id, on_hand, on_order, lead_time_days). For benches and tests of the pure
    inventory code, without a lake."""
    lines = pl.DataFrame(
        [
            {"product_id": o["product_id"], "order_date": day, "quantity": int(o["quantity"]), "status": o["status"]}
            for day, todays in result.served.items()
            for o in todays
        ]
    )
    counts = pl.DataFrame(
        [
            {
                "date": day,
                "product_id": row["product_id"],
                "on_hand": int(row["on_hand"]),
                "on_order": int(row["on_order"]),
                "lead_time_days": int(row["lead_time_days"]),
            }
            for day, rows in result.rows.items()
            for row in rows
        ]
    )
    return lines, counts
