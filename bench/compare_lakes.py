"""Two lakes table by table: the same partitions, schemas and rows? For refactors that must not
change what the pipeline writes (issue 23): `make run` on the commit before and after, then

    .venv/bin/python bench/compare_lakes.py BEFORE_ROOT AFTER_ROOT

Rows are compared as sets of rows, in a canonical order (every column sorted), so a change of row
order alone is not a difference. Tables downstream of a trained model (the sentiment model's
scores, and what aggregates them) differ between two training runs on a CPU (its kernels are not
bit-reproducible); they are listed apart, compared on partitions, schema and row counts only.
Exit status 1 when a deterministic table differs.
"""

import argparse
import sys
from pathlib import Path

import polars as pl

from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage

# Written from the scores of a model trained in the run: equal only up to training noise.
MODEL_DEPENDENT = frozenset({"review_scores", "product_sentiment", "insights"})


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in an order that depends only on their values (lists and structs as their JSON text)."""
    keys = [
        (pl.col(name).map_elements(str, pl.String) if dtype.is_nested() else pl.col(name).cast(pl.String)).fill_null(
            "<null>"
        )
        for name, dtype in frame.schema.items()
    ]
    return frame.with_columns(_key=pl.concat_str(keys, separator="\x1f")).sort("_key").drop("_key")


def compare_table(before: LakeStorage, after: LakeStorage, table: str) -> tuple[bool, str]:
    """(same, description) of one table in both lakes."""
    days_before, days_after = before.partition_days(table), after.partition_days(table)
    if days_before != days_after:
        only = sorted(set(days_before) ^ set(days_after))
        return False, f"partitions differ ({len(days_before)} vs {len(days_after)}; first differing {only[0]})"
    rows = differing = 0
    for day in days_before:
        old, new = before.read_partition(table, day), after.read_partition(table, day)
        if old.schema != new.schema:
            return False, f"{day}: schema differs: {dict(old.schema)} vs {dict(new.schema)}"
        if old.height != new.height:
            return False, f"{day}: {old.height} rows vs {new.height}"
        rows += old.height
        if table not in MODEL_DEPENDENT and not canonical(old).equals(canonical(new)):
            differing += 1
    if differing:
        return False, f"{differing} of {len(days_before)} partitions hold different rows"
    kind = "partitions, schemas and row counts equal" if table in MODEL_DEPENDENT else "identical"
    return True, f"{kind}: {len(days_before)} partitions, {rows:,} rows"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = LakeStorage(root=str(args.before)), LakeStorage(root=str(args.after))
    failed = []
    for table in TABLE_LAYERS:
        same, description = compare_table(before, after, table)
        print(f"{'same' if same else 'DIFF'}  {table:<26} {description}")
        if not same:
            failed.append(table)
    print(
        f"{len(TABLE_LAYERS) - len(failed)} of {len(TABLE_LAYERS)} tables the same"
        + (f"; differ: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
