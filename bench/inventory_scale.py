"""product_demand_forecast at a real shop's shape (issue 28): quality on the sample, time and peak
memory for many products.

    .venv/bin/python bench/inventory_scale.py [--products 20000] [--days 91]

1. The sample (its orders served from its simulated stock, the stock-out days censored): the
   backtest per method and for the served choice (MASE, RMSSE, pinball, 80% interval coverage).
2. `--products` products over `--days` days of demand (Poisson rates drawn log-normally, a third of
   the products selling on few days, a few stock-outs): `demand_history` + `forecast_demand` in a
   child process (its peak RSS is its own), against a baseline measured in the same run: a polars
   group-by of the same order lines per product and day (the cheapest pass over the data).
   and inventory_plan for the last day. Target (issue 28): 20,000 products' forecasts and plans in
   under 5 minutes on this machine.
"""

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from _child import run_script_child

RUN_DATE = date(2026, 9, 30)


def sample_quality() -> None:
    import polars as pl

    from shopinsight_pipeline.inventory.demand import demand_history, forecast_demand, summarize_backtest
    from shopinsight_pipeline.inventory.events import parse_sales_events
    from shopinsight_pipeline.sample import SampleSpec, generate_orders, make_products, sales_events_csv
    from shopinsight_pipeline.sample_stock import recorded_frames, simulate_stock

    spec = SampleSpec()
    rng = random.Random(spec.seed)
    products = make_products(rng, spec.products_per_category)
    stock = simulate_stock(generate_orders(spec, products, rng), products, spec.products_per_category)
    orders, counts = recorded_frames(stock)
    last = max(stock.rows)
    history = demand_history(orders, counts, [p.product_id for p in products], last - timedelta(days=90), last)
    events = parse_sales_events(sales_events_csv(spec), "sales_events.csv")  # the sample's calendar, as served
    categories = {product.product_id: product.category for product in products}
    result = forecast_demand(history, last, categories, events=events)
    print(f"sample, run date {last}: {len(history.products)} products, {int(history.censored.sum())} censored days")
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(summarize_backtest(result.scores))
    print(result.notes[0])


def synthetic(folder: Path, products: int, days: int) -> None:
    """Order lines and stock counts of `products` products over `days` days, as Parquet."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    rates = np.exp(rng.normal(-0.5, 1.2, products))
    rates[: products // 3] *= 0.1  # slow movers: demand on few days
    first = RUN_DATE - timedelta(days=days - 1)
    units = rng.poisson(rates[:, None], (products, days))
    product_ids = np.array([f"P{number:06d}" for number in range(products)])
    rows, columns = np.nonzero(units)
    pl.DataFrame(
        {
            "product_id": product_ids[rows].tolist(),
            "offset": columns.astype(np.int64),
            "quantity": units[rows, columns].astype(np.int32),
        }
    ).select(
        "product_id",
        (pl.lit(first) + pl.duration(days=pl.col("offset"))).alias("order_date"),
        "quantity",
        pl.lit("delivered").alias("status"),
    ).write_parquet(folder / "orders.parquet")
    on_hand = np.where(rng.random((products, days)) < 0.02, 0, 50)  # 2% of product-days end empty
    pl.DataFrame(
        {
            "offset": np.tile(np.arange(days), products),
            "product_id": np.repeat(product_ids, days).tolist(),
            "on_hand": on_hand.reshape(-1).astype(np.int32),
        }
    ).select((pl.lit(first) + pl.duration(days=pl.col("offset"))).alias("date"), "product_id", "on_hand").write_parquet(
        folder / "stock.parquet"
    )


def child(kind: str, folder: Path, days: int) -> None:
    import polars as pl

    orders = pl.read_parquet(folder / "orders.parquet")
    started = time.perf_counter()
    if kind == "baseline":
        grouped = orders.group_by("product_id", "order_date").agg(pl.col("quantity").sum())
        result = {"rows": grouped.height}
    else:
        from shopinsight_pipeline.inventory.demand import demand_history, forecast_demand

        stock = pl.read_parquet(folder / "stock.parquet")
        catalogue = orders.get_column("product_id").unique().to_list()
        history = demand_history(orders, stock, catalogue, RUN_DATE - timedelta(days=days - 1), RUN_DATE)
        forecast = forecast_demand(history, RUN_DATE, {})
        result = {"rows": forecast.table.height, "products": len(history.products)}
        result["forecast_seconds"] = time.perf_counter() - started
        from shopinsight_pipeline.charts import backtest_chart
        from shopinsight_pipeline.inventory.demand import summarize_backtest

        summarized = time.perf_counter()  # the metadata's backtest table with its intervals, and its chart
        backtest_chart(summarize_backtest(forecast.scores))
        result["summary_seconds"] = time.perf_counter() - summarized
        from shopinsight_pipeline.inventory.plan import PlanSettings, plan_inventory

        today = stock.filter(pl.col("date") == RUN_DATE).select(
            "product_id",
            "on_hand",
            pl.lit(0, dtype=pl.Int32).alias("on_order"),
            pl.lit(None, dtype=pl.Date).alias("expected_arrival"),
            pl.lit(5, dtype=pl.Int32).alias("lead_time_days"),
            pl.lit(10.0).alias("unit_cost"),
        )
        planned = time.perf_counter()
        result["plan_rows"] = plan_inventory(today, forecast.table, RUN_DATE, PlanSettings()).height
        result["plan_seconds"] = time.perf_counter() - planned
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, folder: Path, days: int) -> dict:
    return run_script_child(__file__, kind, str(folder), str(days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=91)
    args = parser.parse_args()
    sample_quality()
    with tempfile.TemporaryDirectory() as folder:
        synthetic(Path(folder), args.products, args.days)
        baseline = measure("baseline", Path(folder), args.days)
        forecast = measure("forecast", Path(folder), args.days)
    print(f"\n{args.products:,} products x {args.days} days")
    print(
        f"baseline (polars group-by of the order lines): {baseline['seconds']:.2f}s  peak {baseline['peak_mb']:.0f} MB"
    )
    print(
        f"product_demand_forecast: {forecast['seconds']:.1f}s for {forecast['products']:,} products "
        f"({forecast['rows']:,} rows)  peak {forecast['peak_mb']:.0f} MB  "
        f"x{forecast['seconds'] / baseline['seconds']:.0f} of the baseline"
    )
    print(
        f"  of which the forecast {forecast['forecast_seconds']:.1f}s, its backtest summary with intervals and "
        f"chart {forecast['summary_seconds']:.1f}s, the plan of {forecast['plan_rows']:,} products "
        f"{forecast['plan_seconds']:.1f}s"
    )
    print(f"target: forecasts and plans under 300 s ({'met' if forecast['seconds'] < 300 else 'NOT met'})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
