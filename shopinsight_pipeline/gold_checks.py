"""Write, audit, publish for the gold tables, and what a held (unpublished) day tells the operator.

A gold asset's step returns one table per day; the IO manager writes them under lake/_staging/
(storage.STAGED_TABLES). `audited_days` then checks each staged day against the table's rules
(schemas.GOLD_RULES, judged by table_audit.py), publishes the days that pass (one rename each) and
reports four blocking checks. A failing day stays staged, named in the check's metadata, and readers
(DuckDB, polars, the next assets) keep the previous version of it, or nothing.
"""

from collections.abc import Callable, Iterator
from datetime import date

import polars as pl
from dagster import AssetCheckResult, AssetCheckSpec, MetadataValue, Output

from shopinsight_pipeline.partitions import each_day, partition_day
from shopinsight_pipeline.schemas import GOLD_RULES
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.table_audit import AUDITS, audit_partition, range_columns


def held_metadata(result: AssetCheckResult, staged_files: dict[str, list[str]]) -> dict[str, MetadataValue]:
    """For a failed check: the days left unpublished and the staged files to inspect."""
    if result.passed or not staged_files:
        return {}
    listed = "\n".join(f"- {day}: " + ", ".join(f"`{path}`" for path in paths) for day, paths in staged_files.items())
    return {
        "not_published": MetadataValue.md(
            f"Readers still see the previous version of {', '.join(staged_files)} (or nothing). "
            f"Staged files, kept for inspection:\n{listed}"
        )
    }


def gold_check_specs(table: str) -> list[AssetCheckSpec]:
    """The four blocking checks of a gold table, described from its rules."""
    rules = GOLD_RULES[table]
    ranges = ", ".join(
        f"{name}{'*' if name in rules.prefixed_ranges else ''} in [{low}, {high}]"
        for name, (low, high) in {**rules.ranges, **rules.prefixed_ranges}.items()
    )
    descriptions = {
        "row_count_in_bounds": f"each day has at least {rules.min_rows} rows, and the staged file holds them all",
        "required_columns_not_null": f"no nulls in {', '.join(rules.required)}",
        "keys_unique": f"one row per ({', '.join(rules.keys)})",
        "values_in_range": ranges or "no declared ranges",
    }
    return [AssetCheckSpec(name, asset=table, blocking=True, description=descriptions[name]) for name in AUDITS]


def audited_days(
    context, storage: LakeStorage, table: str, compute: Callable[[date], tuple[pl.DataFrame, dict]]
) -> Iterator[Output | AssetCheckResult]:
    """each_day's output (staged by the IO manager as it is yielded), then the audit and the publish."""
    output = each_day(context, compute)
    yield output
    yield from publish_audited(context, storage, table, output.value)


def publish_audited(
    context, storage: LakeStorage, table: str, tables: dict[str, pl.DataFrame]
) -> Iterator[AssetCheckResult]:
    """Audit every staged day of `table`, publish the days that pass, and report the four checks."""
    rules = GOLD_RULES[table]
    verdicts = {
        key: audit_partition(frame, rules, storage.newest_row_count(table, partition_day(key)))
        for key, frame in sorted(tables.items())
    }
    held = [key for key, day_verdicts in verdicts.items() if not all(verdict.passed for verdict in day_verdicts)]
    for key in verdicts:
        if key not in held:
            storage.publish_partition(table, partition_day(key))
    if held:
        context.log.error(f"{table} of {', '.join(held)} failed a blocking check and was not published")
    staged = {key: [str(storage.staged_file(table, partition_day(key)))] for key in held}
    checked_ranges = sorted(range_columns(next(iter(tables.values())), rules)) if tables else []
    for position, audit in enumerate(AUDITS):
        problems = {key: day[position].problem for key, day in verdicts.items() if not day[position].passed}
        result = AssetCheckResult(
            check_name=audit,
            asset_key=table,
            passed=not problems,
            metadata={
                "days_checked": len(verdicts),
                "failed_days": MetadataValue.json(sorted(problems)),
                "problems": MetadataValue.md("\n".join(f"- {key}: {text}" for key, text in problems.items()) or "none"),
                **({"columns_checked": MetadataValue.json(checked_ranges)} if audit == "values_in_range" else {}),
            },
        )
        yield result.with_metadata({**result.metadata, **held_metadata(result, staged)})
