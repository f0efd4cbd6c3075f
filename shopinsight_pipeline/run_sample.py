"""Materialize every asset for every sample partition, then say where the tables are.

    python -m shopinsight_pipeline.run_sample [--root data]

This is what `make run` calls. Runs are recorded in $DAGSTER_HOME when it is set (the Makefile
points it at .dagster/), so they show up in `make ui` afterwards.
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

from dagster import DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.jobs import nightly_partition_job
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="data", help="data root (default: data)")
    args = parser.parse_args(argv)

    spec = SampleSpec()
    manifest = write_sample(Path(args.root), spec)
    print(f"sample landing zone: {Path(args.root) / 'landing'} ({len(manifest['planted'])} planted defects)")
    job = build_definitions(args.root).resolve_job_def(nightly_partition_job.name)
    instance = DagsterInstance.get()
    days = [spec.start + timedelta(days=offset) for offset in range(spec.days)]
    started = time.monotonic()
    for number, day in enumerate(days, start=1):
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False, run_config=QUIET
        )
        if not result.success:
            print(f"run for {day} failed; see `make ui` (run {result.run_id})", file=sys.stderr)
            return 1
        print(f"[{number}/{len(days)}] {day} done ({time.monotonic() - started:.0f}s)", flush=True)

    storage = LakeStorage(root=args.root)
    print(f"\noutput tables under {storage.root_path / 'lake'}:")
    for table in TABLE_LAYERS:
        rows = sum(storage.row_count(table, day) for day in storage.partition_days(table))
        print(f"  {table:<22} {rows:>8} rows  {storage.table_path(table)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
