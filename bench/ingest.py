"""Ingest + validate one partition of 1,000,000 generated order rows.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--repeat 3] [--invalid-lines 0]

Prints rows/s of the full bronze + silver path (read, parse, validate, write raw, validated and
quarantined partitions) and its ratio to a plain `polars.read_csv` + `write_parquet` of the same
file, measured in the same run, plus each stage's share and the peak memory of each (every
measurement runs in its own child process, so peaks do not mix). `--invalid-lines N` puts a byte
that is not UTF-8 into N lines (seeded), so the file takes the line-by-line decoding path.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 8, 1)


def make_file(folder: Path, rows: int) -> Path:
    from shopinsight_pipeline.sample import WEEKDAY_FACTOR, SampleSpec, write_sample

    # About `rows` orders on one day (a Saturday), 2% dirty, like the sample.

    per_day = int(rows / WEEKDAY_FACTOR[DAY.weekday()])
    spec = SampleSpec(days=1, orders_per_day=per_day, truncated_orders_day=-1, gbk_reviews_day=-1)
    write_sample(folder, spec)
    return folder / "landing" / "orders" / f"orders_{DAY.isoformat()}.csv"


def spoil_lines(path: Path, count: int) -> None:
    """A 0xFF byte at the end of `count` body lines, chosen with a fixed seed."""
    import random

    lines = path.read_bytes().split(b"\n")
    for number in random.Random(7).sample(range(1, len(lines) - 1), count):
        lines[number] += b"\xff"
    path.write_bytes(b"\n".join(lines))


def run_plain(path: Path, out: Path, lossy: bool = False) -> dict:
    import polars as pl

    started = time.perf_counter()
    # All-text columns and ragged lines tolerated: the dirty file is unreadable otherwise; bytes
    # that are not UTF-8 replaced (utf8-lossy) when the file has them.
    encoding = "utf8-lossy" if lossy else "utf8"
    frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding=encoding)
    frame.write_parquet(out / "plain.parquet")
    return {"total": time.perf_counter() - started}


def run_pipeline(path: Path, out: Path) -> dict:
    import polars as pl

    from shopinsight_pipeline.ingest.landing import read_orders_csv
    from shopinsight_pipeline.schemas import QUARANTINED_ORDERS_SCHEMA, VALIDATED_ORDERS_SCHEMA, conform
    from shopinsight_pipeline.storage import LakeStorage
    from shopinsight_pipeline.validate import rules
    from shopinsight_pipeline.validate.split import column_of

    storage = LakeStorage(root=str(out))
    settings = rules.RuleSettings()
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = now - clock
        clock = now

    started = clock
    read = read_orders_csv(path.read_bytes(), path.name)
    lap("read + split lines")
    storage.stage_partition("raw_orders", DAY, read.frame)
    del read  # the raw asset's frame is gone before validation starts, as in a run
    lap("write raw_orders")
    raw = storage.read_staged_or_published("raw_orders", DAY)  # as the IO manager hands it to validation
    earlier = column_of({}, "order_id")  # a fresh lake: no earlier validated days
    lap("read raw_orders back")
    suite = rules.order_suite(DAY, settings)
    prepared = rules.prepare_orders(raw, earlier, settings)
    lap("prepare (trim, parse, flags)")
    outcome = rules.split(prepared, raw, suite, "order_id")
    lap("rules + reasons")
    validated = conform(rules.validated_orders_frame(outcome.accepted), VALIDATED_ORDERS_SCHEMA)
    quarantined = conform(outcome.rejected, QUARANTINED_ORDERS_SCHEMA)
    storage.stage_partition("validated_orders", DAY, validated)
    storage.stage_partition("quarantined_orders", DAY, quarantined)
    storage.publish_day("orders", DAY)  # the day's three tables move together
    lap("write validated + quarantined")
    total = time.perf_counter() - started
    # The GX re-check of the validated rows is an asset check outside this path; time it apart.
    from shopinsight_pipeline.validate.assets import ValidationConfig
    from shopinsight_pipeline.validate.expectations import rows_to_check, run_suite

    gx_started = time.perf_counter()
    failures = [o for o in run_suite(outcome.accepted, suite) if not o.success]
    gx_seconds = time.perf_counter() - gx_started
    sample_rows = ValidationConfig().gx_check_max_rows
    gx_started = time.perf_counter()
    run_suite(rows_to_check(outcome.accepted, sample_rows), suite)
    gx_sample_seconds = time.perf_counter() - gx_started
    assert pl.read_parquet(storage.partition_file("validated_orders", DAY)).height == validated.height
    return {
        "total": total,
        "stages": stages,
        "rows": raw.height,
        "validated": validated.height,
        "quarantined": quarantined.height,
        "gx_check_seconds": gx_seconds,
        "gx_failures": len(failures),
        "gx_sample_rows": sample_rows,
        "gx_sample_seconds": gx_sample_seconds,
    }


def child(kind: str, path: str) -> None:
    with tempfile.TemporaryDirectory() as out:
        if kind == "pipeline":
            result = run_pipeline(Path(path), Path(out))
        else:
            result = run_plain(Path(path), Path(out), lossy=kind == "plain-lossy")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--invalid-lines", type=int, default=0, help="lines given a byte that is not UTF-8")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = make_file(Path(folder), args.rows)
        if args.invalid_lines:
            spoil_lines(path, args.invalid_lines)
        size_mb = path.stat().st_size / 1e6
        plain, ours = [], []
        for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
            plain.append(measure("plain-lossy" if args.invalid_lines else "plain", path))
            ours.append(measure("pipeline", path))
    plain_s = statistics.median(r["total"] for r in plain)
    ours_s = statistics.median(r["total"] for r in ours)
    rows = ours[0]["rows"]
    print(f"file: {rows:,} order rows, {size_mb:.0f} MB CSV; median of {args.repeat} runs")
    print(
        f"plain polars read_csv + write_parquet: {plain_s:.2f}s  {rows / plain_s:,.0f} rows/s  "
        f"peak {max(r['peak_rss_mb'] for r in plain):.0f} MB"
    )
    print(
        f"ingest + validate (bronze + silver):   {ours_s:.2f}s  {rows / ours_s:,.0f} rows/s  "
        f"peak {max(r['peak_rss_mb'] for r in ours):.0f} MB"
    )
    print(f"speed ratio (ours / plain): {plain_s / ours_s:.2f}  (target >= 0.25)")
    print(f"validated {ours[0]['validated']:,}, quarantined {ours[0]['quarantined']:,}")
    if args.invalid_lines:
        print(f"{args.invalid_lines:,} lines hold a byte that is not UTF-8 (decoded line by line)")
    print("where the time goes (median seconds):")
    for stage in ours[0]["stages"]:
        seconds = statistics.median(r["stages"][stage] for r in ours)
        print(f"  {stage:<32} {seconds:6.2f}s  {seconds / ours_s:5.0%}")
    gx = statistics.median(r["gx_check_seconds"] for r in ours)
    print(
        f"GX re-check of validated rows (asset check, not in the path above): {gx:.1f}s, "
        f"{ours[0]['gx_failures']} failed expectations"
    )
    sample = statistics.median(r["gx_sample_seconds"] for r in ours)
    sample_rows = ours[0]["gx_sample_rows"]
    print(f"  as the asset check runs it by default (seeded sample of {sample_rows:,} rows): {sample:.1f}s")


if __name__ == "__main__":
    main()
