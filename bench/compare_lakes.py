"""Two lakes table by table: the same partitions, schemas and rows? For refactors that must not
change what the pipeline writes (issue 23): `make run` on the commit before and after, then

    .venv/bin/python bench/compare_lakes.py BEFORE_ROOT AFTER_ROOT

Rows are compared as sets of rows, in a canonical order (every column sorted), so a change of row
order alone is not a difference. Tables downstream of a trained model (the sentiment model's
scores, what aggregates them, the recommendations) differ between two training runs on a CPU (its
kernels are not bit-reproducible); they are listed apart, compared on partitions, schema and row
counts only. The insights are compared on their findings that read no model (growth, forecast,
anomalies, data quality, customers, cross-sell pairs): their number depends on the model.
Exit status 1 when a deterministic table differs.
"""

import argparse
import sys
from pathlib import Path

import polars as pl

from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage

# Written from the scores of a model trained in the run: equal only up to training noise. The
# recommendations read two: the sequence model (its CPU training sums floats in another order from
# run to run: final losses equal to 1e-8, scores to 4e-7, enough to swap near-ties) and the products
# the insights flag from the sentiment scores.
MODEL_DEPENDENT = frozenset(
    {"review_scores", "review_aspects", "product_sentiment", "aspect_sentiment", "insights", "customer_recommendations"}
)


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in an order that depends only on their values (lists and structs as their JSON text)."""
    keys = [
        (pl.col(name).map_elements(str, pl.String) if dtype.is_nested() else pl.col(name).cast(pl.String)).fill_null(
            "<null>"
        )
        for name, dtype in frame.schema.items()
    ]
    return frame.with_columns(_key=pl.concat_str(keys, separator="\x1f")).sort("_key").drop("_key")


# Insight types computed from the sentiment model's scores: their number follows training noise.
MODEL_FINDINGS = frozenset(
    {
        "negative_share_jump",
        "top_complaint",
        "aspect_negative_surge",
        "model_rating_disagreement",
        "high_sales_poor_sentiment",
    }
)


def model_free_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """The insights that read no model, without their rank (which counts the others)."""
    return frame.filter(~pl.col("type").is_in(list(MODEL_FINDINGS))).drop("rank", "score")


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
        if table == "insights":
            old, new = model_free_findings(old), model_free_findings(new)
        if old.height != new.height:
            return False, f"{day}: {old.height} rows vs {new.height}"
        rows += old.height
        if (table not in MODEL_DEPENDENT or table == "insights") and not canonical(old).equals(canonical(new)):
            differing += 1
    if differing:
        return False, f"{differing} of {len(days_before)} partitions hold different rows"
    kind = "partitions, schemas and row counts equal" if table in MODEL_DEPENDENT else "identical"
    if table == "insights":
        kind = "findings that read no model identical"
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
