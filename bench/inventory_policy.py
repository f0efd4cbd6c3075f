"""The suggested replenishment policy against a fixed reorder rule, replayed over the sample's last
weeks (issue 28.4).

    .venv/bin/python bench/inventory_policy.py [--days 28] [--service-level 0.95] [--day-correlation R]
        [--seed N] [--no-calendar]

Demand is the sample's true demand (every order drawn, before the shelf turned some away), the lead
times are the suppliers' (S3's grows), and both policies start from the stock the sample's planner
held on the first replayed day. Each day the suggested policy orders by inventory_plan's rule from
that day's product_demand_forecast (fitted on the sales and stock counts recorded up to it, stock-outs
censored, knowing the sample's sales calendar unless --no-calendar); the fixed rule reorders four
weeks of average demand whenever on hand + on order falls to two weeks of it (the average of the
recorded sales before the replay). Printed: fill rate, stock-out
days (days some demand went unserved) and the average value of the stock on hand, per policy; and
how often the true demand over the lead time stayed under the reorder point (the gamma quantile the
plan assumes), against the service level, with a 95% interval from resampling products (a product's
days are alike, so they are resampled together), over all product-days and split by whether the
lead time held a sales-event day. --seed draws another sample (the default is the embedded one): a
check on samples no setting was chosen on.
"""

import argparse
import random
import time
from datetime import timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.inventory.demand import demand_history, forecast_demand
from shopinsight_pipeline.inventory.events import parse_sales_events
from shopinsight_pipeline.inventory.plan import PlanSettings, plan_inventory
from shopinsight_pipeline.inventory.policy import Replay, fixed_rule, plan_rule, replay
from shopinsight_pipeline.sample import SampleSpec, generate_orders, make_products, sales_events_csv
from shopinsight_pipeline.sample_stock import recorded_frames, simulate_stock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--service-level", type=float, default=0.95)
    parser.add_argument(
        "--day-correlation", type=float, default=None, help="override the forecast's estimates (0 to 1)"
    )
    parser.add_argument("--seed", type=int, default=SampleSpec().seed, help="the sample's seed (default: the embedded)")
    parser.add_argument("--no-calendar", action="store_true", help="forecast without the sample's sales calendar")
    args = parser.parse_args()
    started = time.perf_counter()
    spec = SampleSpec(seed=args.seed)
    calendar = parse_sales_events(sales_events_csv(spec), "sales_events.csv")
    events = [] if args.no_calendar else calendar
    event_dates = {day for event in calendar for day in event.days()}  # the sale happens, known or not
    rng = random.Random(spec.seed)
    products = make_products(rng, spec.products_per_category)
    drawn = generate_orders(spec, products, rng)
    stock = simulate_stock(drawn, products, spec.products_per_category)
    days = sorted(stock.rows)
    replayed = days[-args.days :]
    ids = [product.product_id for product in products]
    index = {product: row for row, product in enumerate(ids)}
    wanted = np.zeros((len(ids), len(days)))  # the true demand: every non-cancelled order drawn
    for column, day in enumerate(days):
        for order in drawn[day]:
            if order["status"] != "cancelled":
                wanted[index[order["product_id"]], column] += int(order["quantity"])
    recorded, counts = recorded_frames(stock)
    settings = PlanSettings(service_level=args.service_level, day_correlation=args.day_correlation)
    first = len(days) - args.days
    reorder = np.zeros((len(ids), args.days))
    up_to = np.zeros((len(ids), args.days))
    leads = np.zeros((len(ids), args.days), dtype=int)
    for step, day in enumerate(replayed):
        history = demand_history(
            recorded.filter(pl.col("order_date") <= day),
            counts.filter(pl.col("date") <= day),
            ids,
            day - timedelta(days=90),
            day,
        )
        forecast = forecast_demand(history, day, {}, events=events).table
        today = counts.filter(pl.col("date") == day).select(
            "product_id",
            pl.lit(0, dtype=pl.Int32).alias("on_hand"),
            pl.lit(0, dtype=pl.Int32).alias("on_order"),
            pl.lit(None, dtype=pl.Date).alias("expected_arrival"),
            pl.col("lead_time_days").cast(pl.Int32),
            pl.lit(1.0).alias("unit_cost"),
        )
        plan = plan_inventory(today, forecast, day, settings)
        levels = {row["product_id"]: row for row in plan.iter_rows(named=True)}
        for product, row in index.items():
            level = levels[product]
            reorder[row, step] = level["reorder_point"] or 0
            up_to[row, step] = level["order_up_to"] or 0
            leads[row, step] = level["lead_time_days"]
    totals = {"suggested": Replay(0, 0, 0, 0, 0), "fixed": Replay(0, 0, 0, 0, 0)}
    for product, row in index.items():
        start = float(next(r["on_hand"] for r in stock.rows[days[first - 1]] if r["product_id"] == product))
        cost = next(p.base_price for p in products if p.product_id == product) * 0.6
        before = recorded.filter((pl.col("product_id") == product) & (pl.col("order_date") < replayed[0]))
        average = float(before.filter(pl.col("status") != "cancelled")["quantity"].sum()) / first
        demand = wanted[row, first:]
        totals["suggested"] = totals["suggested"].add(
            replay(demand, leads[row], start, cost, plan_rule(reorder[row], up_to[row]))
        )
        totals["fixed"] = totals["fixed"].add(replay(demand, leads[row], start, cost, fixed_rule(average)))
    print(
        f"{len(ids)} products, {args.days} days replayed ({replayed[0]} to {replayed[-1]}), "
        f"service level {args.service_level}, {time.perf_counter() - started:.0f}s"
    )
    print(f"{'policy':10s} {'fill rate':>9s} {'stock-out days':>15s} {'avg stock value':>16s}")
    for name, total in totals.items():
        print(
            f"{name:10s} {total.fill_rate:9.3f} {total.stockout_days / total.days:14.1%} "
            f"{total.stock_value / args.days:16,.0f}"
        )
    # The assumption under the plan: the reorder point is the service-level quantile of the demand over
    # the lead time. Checked on what followed: the share of (product, day) whose true demand over the
    # next lead-time days stayed at or under that day's reorder point (days whose lead time runs past
    # the sample are left out).
    checks: list[tuple[int, bool, bool]] = []  # (product row, held, the lead time holds an event day)
    for row in index.values():
        for step in range(args.days):
            column, lead = first + step, int(leads[row, step])
            if column + 1 + lead <= len(days):
                held = wanted[row, column + 1 : column + 1 + lead].sum() <= reorder[row, step]
                checks.append((row, bool(held), bool(event_dates & set(days[column + 1 : column + 1 + lead]))))
    print(f"demand over the lead time at or under the reorder point (the plan's quantile: {args.service_level}):")
    for name, chosen in (
        ("all product-days", checks),
        ("lead time with a sales-event day", [check for check in checks if check[2]]),
        ("lead time without", [check for check in checks if not check[2]]),
    ):
        if chosen:
            share, low, high = share_with_interval(chosen, len(ids))
            print(f"  {name:34s} {share:.3f} [{low:.3f}, {high:.3f}] of {len(chosen):,}")


def share_with_interval(checks: list[tuple[int, bool, bool]], products: int, rounds: int = 2000) -> tuple[float, ...]:
    """The share held, and its 95% interval from resampling products with their days."""
    held = np.zeros(products)
    seen = np.zeros(products)
    for row, ok, _ in checks:
        held[row] += ok
        seen[row] += 1
    draws = np.random.default_rng(0).multinomial(products, np.full(products, 1 / products), size=rounds)
    shares = (draws @ held) / np.maximum(draws @ seen, 1)
    low, high = np.quantile(shares, [0.025, 0.975])
    return float(held.sum() / seen.sum()), float(low), float(high)


if __name__ == "__main__":
    main()
