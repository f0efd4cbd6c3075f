"""Erasure at a real shop's shape (issue 27.3): time and peak memory of erasing customers from a lake
of `--days` days at `--orders-per-day` order lines (default 21,000: 50x the sample), against a
baseline measured in the same run on the same lake: reading every partition and landing file once.

    .venv/bin/python bench/erasure.py [--days 30 90] [--orders-per-day 21000] [--customers 200000]

The lake is synthetic but has the tables an erasure reads (raw, validated and quarantined orders
and reviews, customer_events, the landing files), with every column of their schemas filled, and
customers drawn uniformly, so a customer has an order on a few of the days. Each measurement runs in
its own child process (its peak RSS is its own): the scan, erasing 1 customer, erasing 100 in one
request, and erasing a customer the lake does not hold. An erasure must read all history (that is
what it is for): its time grows with the days, its memory must not (one partition at a time).
"""

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from _child import run_script_child

FIRST_DAY = date(2026, 1, 1)
ORDER_TABLES = ("raw_orders", "validated_orders", "quarantined_orders", "customer_events")
REVIEW_TABLES = ("raw_reviews", "validated_reviews", "quarantined_reviews")


def filled(schema: dict, rows: int, given: dict, rng: random.Random):
    """A frame of `rows` with every column of `schema`: the given ones, the rest drawn by type."""
    import polars as pl

    columns = {}
    for name, dtype in schema.items():
        if name in given:
            columns[name] = pl.Series(name, given[name]).cast(dtype)
        elif dtype == pl.String:
            columns[name] = pl.Series(name, [f"{name[:4]}-{rng.randrange(500)}" for _ in range(rows)])
        elif dtype.is_numeric():
            columns[name] = pl.Series(name, [rng.random() * 100 for _ in range(rows)]).cast(dtype, strict=False)
        elif dtype == pl.Date:
            columns[name] = pl.Series(name, [FIRST_DAY] * rows)
        else:
            columns[name] = pl.Series(name, [None] * rows).cast(dtype)
    return pl.DataFrame(columns)


def build(root: Path, days: int, orders_per_day: int, customers: int) -> None:
    from shopinsight_pipeline.schemas import file_schema
    from shopinsight_pipeline.storage import LakeStorage

    rng = random.Random(11)
    storage = LakeStorage(root=str(root))
    labels = ("negative", "positive")
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        orders = [f"O{offset:04d}{line:06d}" for line in range(orders_per_day)]
        buyers = [f"C{rng.randrange(customers):07d}" for _ in orders]
        ids = {"order_id": orders, "customer_id": buyers, "order_date": [day] * len(orders)}
        for table in ORDER_TABLES:
            rows = len(orders) // 100 if table == "quarantined_orders" else len(orders)
            given = {name: values[:rows] for name, values in ids.items()}
            storage.write_partition(table, day, filled(file_schema(table, labels), rows, given, rng))
        reviewed = orders[::5]
        reviews = {
            "review_id": [f"R{order[1:]}" for order in reviewed],
            "order_id": reviewed,
            "review_text": ["质量不错，物流很快，包装完好，下次还会再来买。"] * len(reviewed),
        }
        for table in REVIEW_TABLES:
            rows = len(reviewed) // 100 if table == "quarantined_reviews" else len(reviewed)
            given = {name: values[:rows] for name, values in reviews.items()}
            storage.write_partition(table, day, filled(file_schema(table, labels), rows, given, rng))
        landing = storage.landing_file("orders", day)
        landing.parent.mkdir(parents=True, exist_ok=True)
        pairs = zip(orders, buyers, strict=True)
        lines = [f"{order},{buyer},P{rng.randrange(5000):05d},1,19.9" for order, buyer in pairs]
        landing.write_text("order_id,customer_id,product_id,quantity,unit_price\n" + "\n".join(lines) + "\n")
        review_file = storage.landing_file("reviews", day)
        review_file.parent.mkdir(parents=True, exist_ok=True)
        review_file.write_text(
            "\n".join(
                json.dumps({"review_id": r, "order_id": o, "review_text": t}, ensure_ascii=False)
                for r, o, t in zip(reviews["review_id"], reviews["order_id"], reviews["review_text"], strict=True)
            )
            + "\n"
        )
    (root / "landing" / "_planted.json").write_text("{}")  # the sample's pseudonym key serves


def scan(root: Path) -> dict:
    from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage

    storage = LakeStorage(root=str(root))
    rows = 0
    for table in TABLE_LAYERS:
        for day in storage.partition_days(table):
            rows += storage.read_partition(table, day).height
    for path in sorted((root / "landing").rglob("*_*.*")):
        rows += path.read_bytes().count(b"\n")
    return {"rows_read": rows}


def erase(root: Path, customers: list[str]) -> dict:
    from shopinsight_pipeline.erasure import erase_customers
    from shopinsight_pipeline.resources import SAMPLE_PSEUDONYM_KEY
    from shopinsight_pipeline.storage import LakeStorage

    report = erase_customers(
        LakeStorage(root=str(root)), customers, SAMPLE_PSEUDONYM_KEY.encode(), "bench", "bench", log=lambda _: None
    )
    return {"found": report.found, "removed": sum(report.removed.values())}


def child_main(kind: str, root: Path, customers: list[str]) -> None:
    started = time.perf_counter()
    result = scan(root) if kind == "scan" else erase(root, customers)
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, root: Path, customers: list[str]) -> dict:
    return run_script_child(__file__, kind, str(root), *customers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, nargs="+", default=[30, 90])
    parser.add_argument("--orders-per-day", type=int, default=21_000)
    parser.add_argument("--customers", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(3)
    for days in args.days:
        root = Path(tempfile.mkdtemp(prefix=f"shopinsight-erasure-{days}-"))
        try:
            started = time.perf_counter()
            build(root, days, args.orders_per_day, args.customers)
            size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file()) / 2**20
            print(
                f"{days} days x {args.orders_per_day:,} order lines: lake {size:,.0f} MB, built in "
                f"{time.perf_counter() - started:.0f}s",
                flush=True,
            )
            picks = [f"C{number:07d}" for number in rng.sample(range(args.customers), 101)]
            runs = {
                "scan (baseline)": measure("scan", root, []),
                "erase 1 customer": measure("erase", root, picks[:1]),
                "erase 100 customers": measure("erase", root, picks[1:]),
                "erase an unknown id": measure("erase", root, ["C99999999"]),
            }
            baseline = runs["scan (baseline)"]["seconds"]
            for name, run in runs.items():
                extra = f"  removed {run['removed']:,}" if "removed" in run else f"  rows {run['rows_read']:,}"
                print(
                    f"  {name:22s} {run['seconds']:7.1f}s  x{run['seconds'] / baseline:5.2f} of the scan  "
                    f"peak {run['peak_mb']:6.0f} MB{extra}",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        main()
