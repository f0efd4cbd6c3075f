"""Cost of one night at the sample's volume and at 50 times the orders per day, step by step.

    .venv/bin/python bench/volume.py [--orders-per-day 420] [--factor 50] [--history 20] [--repeat 1]

For each volume it writes a sample of `--history` + 1 days with flat demand (the new day is as busy
as the ones before it) and as many times the sample's customers as its orders (`--same-customers`:
the sample's customers, each buying 50 times as often; then nearly every customer buys every week
and purchase_propensity has no negative label to learn from, so it skips its fit) and
materializes the history as `bench/incremental.py` does (ingest,
validation, sales, trends, shards, scores, customer events, a co-occurrence recommender), in one
child process; then a second child times `nightly_partition_job` for the new day and reports each
step's seconds and the child's peak resident memory (the history's preparation does not count).
Targets: time(50x) / time(1x) <= 4, no step above 10 s at 50x, peak RSS under 3 GB.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO, TARGET_STEP_SECONDS, TARGET_PEAK_MB = 4.0, 10.0, 3 * 1024


def prepare_history(root: Path, history: int, orders_per_day: int, customers_factor: float) -> None:
    from incremental import prepare

    days = prepare(root, history, orders_per_day, customers_factor)
    (root / "bench-day.txt").write_text(days[-1].isoformat(), encoding="utf-8")


def time_night(root: Path, repeat: int) -> dict:
    from datetime import date

    from incremental import time_new_day

    day = date.fromisoformat((root / "bench-day.txt").read_text(encoding="utf-8"))
    total, steps = time_new_day(root, day, repeat)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": total, "steps": steps, "peak_mb": peak_mb}


def child(*arguments: str) -> str:
    """Run this script with `arguments` in a fresh process; its last stdout line."""
    result = subprocess.run(
        [sys.executable, __file__, *arguments], check=True, stdout=subprocess.PIPE, text=True, timeout=3 * 3600
    )
    return result.stdout.strip().splitlines()[-1]


def measure(orders_per_day: int, history: int, repeat: int, customers_factor: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"shopinsight-volume-{orders_per_day}-"))
    try:
        started = time.perf_counter()
        child(
            "--prepare",
            str(root),
            "--history",
            str(history),
            "--orders-per-day",
            str(orders_per_day),
            "--customers-factor",
            str(customers_factor),
        )
        print(f"  {orders_per_day} orders/day: history prepared in {time.perf_counter() - started:.0f}s", flush=True)
        return json.loads(child("--time", str(root), "--repeat", str(repeat)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders-per-day", type=int, default=420)
    parser.add_argument("--factor", type=int, default=50)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--same-customers",
        action="store_true",
        help="keep the sample's customers at 50x the orders (each buys 50x as often) instead of 50x the customers",
    )
    parser.add_argument("--customers-factor", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--time", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare_history(args.prepare, args.history, args.orders_per_day, args.customers_factor)
        return
    if args.time:
        print(json.dumps(time_night(args.time, args.repeat)))
        return
    volumes = [args.orders_per_day, args.orders_per_day * args.factor]
    results = {}
    for orders in volumes:
        customers_factor = 1.0 if args.same_customers else orders / args.orders_per_day
        results[orders] = measure(orders, args.history, args.repeat, customers_factor)
        print(
            f"  {orders} orders/day: night {results[orders]['seconds']:.1f}s, "
            f"peak {results[orders]['peak_mb']:,.0f} MB",
            flush=True,
        )
    small, large = (results[orders] for orders in volumes)
    print(f"per step, median seconds: {volumes[0]} -> {volumes[1]} orders/day (growth)")
    for step in sorted(large["steps"], key=lambda name: -large["steps"][name]):
        before, after = small["steps"].get(step, 0.0), large["steps"][step]
        flag = "  ABOVE TARGET" if after > TARGET_STEP_SECONDS else ""
        print(f"  {step:<40} {before:6.2f} -> {after:6.2f}  (x{after / max(before, 1e-3):.1f}){flag}")
    ratio = large["seconds"] / small["seconds"]
    print(f"ratio time({args.factor}x) / time(1x): {ratio:.2f}  (target <= {TARGET_RATIO:g})")
    print(f"peak RSS of the night at {args.factor}x: {large['peak_mb']:,.0f} MB  (target < {TARGET_PEAK_MB:,} MB)")


if __name__ == "__main__":
    main()
