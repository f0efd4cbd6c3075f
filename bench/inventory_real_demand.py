"""The reorder point's coverage on a real shop's demand (issue 28): online_retail's products.

    .venv/bin/python bench/inventory_real_demand.py [--origins 8] [--step 5] [--last 2011-11-25]
        [--day-correlation R]

online_retail (../shared/eval, a UK gift wholesaler's invoices 2010-12-01 to 2011-12-09) has real
demand and no stock, so this checks the forecast and the plan's quantile, not a policy: at origins
`--step` days apart ending on `--last` (5: the weekdays take turns; the shop is shut on Saturdays),
product_demand_forecast is fitted on the 91 days before (every day uncensored, no sales calendar:
the shop's are unknown), and inventory_plan's 95% reorder point for lead times of 3, 7 and 12 days
is set beside the units the product then sold over them. Printed per lead time: the share of
product-origins whose demand stayed at or under the reorder point, with a 95% interval from
resampling products (a product's origins are alike), and how far the summed demand was from the
summed forecast. Cleaning: purchase lines only (no cancellations, quantity and price
above 0), product codes only (five digits first: not POST, DOT, M, ...), days by invoice date.
"""

import argparse
import resource
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from shopinsight_pipeline.inventory.demand import demand_history, forecast_demand
from shopinsight_pipeline.inventory.plan import PlanSettings, plan_inventory

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "eval" / "online_retail.parquet"
LEADS = (3, 7, 12)


def daily_units(path: Path) -> pl.DataFrame:
    """product_id, order_date, quantity, status: one row per product and day with a purchase."""
    lines = pl.read_parquet(path, columns=["InvoiceNo", "StockCode", "Quantity", "UnitPrice", "InvoiceDate"])
    return (
        lines.filter(
            ~pl.col("InvoiceNo").str.starts_with("C")
            & (pl.col("Quantity") > 0)
            & (pl.col("UnitPrice") > 0)
            & pl.col("StockCode").str.contains(r"^\d{5}")
        )
        .group_by(pl.col("StockCode").alias("product_id"), pl.col("InvoiceDate").dt.date().alias("order_date"))
        .agg(pl.col("Quantity").sum().alias("quantity"))
        .with_columns(pl.lit("delivered").alias("status"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--origins", type=int, default=8)
    parser.add_argument("--step", type=int, default=5, help="days between origins")
    parser.add_argument(
        "--day-correlation", type=float, default=None, help="override the forecast's estimates (0 to 1)"
    )
    parser.add_argument("--last", type=date.fromisoformat, default=date(2011, 11, 25))
    args = parser.parse_args()
    started = time.perf_counter()
    sales = daily_units(SOURCE)
    no_stock = pl.DataFrame(schema={"date": pl.Date, "product_id": pl.String, "on_hand": pl.Int32})
    settings = PlanSettings(day_correlation=args.day_correlation)
    rows: list[dict] = []
    for back in range(args.origins - 1, -1, -1):
        origin = args.last - timedelta(days=args.step * back)
        history = demand_history(
            sales.filter(pl.col("order_date") <= origin), no_stock, [], origin - timedelta(days=90), origin
        )
        forecast = forecast_demand(history, origin, {}).table
        ahead = (
            sales.filter(
                pl.col("order_date").is_between(origin + timedelta(days=1), origin + timedelta(days=max(LEADS)))
            )
            .with_columns((pl.col("order_date") - pl.lit(origin)).dt.total_days().alias("day"))
            .select("product_id", "day", "quantity")
        )
        for lead in LEADS:
            stock = forecast.select(pl.col("product_id").unique()).with_columns(
                pl.lit(0, dtype=pl.Int32).alias("on_hand"),
                pl.lit(0, dtype=pl.Int32).alias("on_order"),
                pl.lit(None, dtype=pl.Date).alias("expected_arrival"),
                pl.lit(lead, dtype=pl.Int32).alias("lead_time_days"),
                pl.lit(1.0).alias("unit_cost"),
            )
            plan = plan_inventory(stock, forecast, origin, settings)
            sold = (
                ahead.filter(pl.col("day") <= lead).group_by("product_id").agg(pl.col("quantity").sum().alias("sold"))
            )
            checked = plan.join(sold, on="product_id", how="left").with_columns(pl.col("sold").fill_null(0))
            rows += [
                {"origin": origin, "lead": lead, **row}
                for row in checked.select("product_id", "reorder_point", "lead_time_demand", "sold").iter_rows(
                    named=True
                )
            ]
        print(f"origin {origin}: {history.units.shape[0]:,} products forecast ({time.perf_counter() - started:.0f}s)")
    results = pl.DataFrame(rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    elapsed = time.perf_counter() - started
    print(f"{args.origins} origins {args.step} days apart to {args.last}, {elapsed:.0f}s, peak {peak:.0f} MB")
    print(f"{'lead':>4s} {'product-origins':>15s} {'held [95% interval]':>28s} {'demand / forecast':>18s}")
    for lead in LEADS:
        part = results.filter(pl.col("lead") == lead)
        share, low, high = share_by_product(part)
        ratio = part["sold"].sum() / part["lead_time_demand"].sum()
        print(f"{lead:4d} {part.height:15,d} {share:8.3f} [{low:.3f}, {high:.3f}]{'':6s} {ratio:18.3f}")


def share_by_product(part: pl.DataFrame, rounds: int = 2000) -> tuple[float, float, float]:
    """The share held, and its 95% interval from resampling products with all their origins."""
    per_product = part.group_by("product_id").agg(
        (pl.col("sold") <= pl.col("reorder_point")).sum().alias("held"), pl.len().alias("seen")
    )
    held = per_product["held"].to_numpy().astype(float)
    seen = per_product["seen"].to_numpy().astype(float)
    draws = np.random.default_rng(0).multinomial(held.size, np.full(held.size, 1 / held.size), size=rounds)
    shares = (draws @ held) / (draws @ seen)
    low, high = np.quantile(shares, [0.025, 0.975])
    return float(held.sum() / seen.sum()), float(low), float(high)


if __name__ == "__main__":
    main()
