"""The gold tables' audit: does one day's partition satisfy its TableRules (schemas.py)?

Pure polars, no Dagster: gold_checks.py turns the verdicts into blocking asset checks and publishes
only the partitions that pass (write, audit, publish).
"""

from dataclasses import dataclass

import polars as pl

from shopinsight_pipeline.schemas import TableRules

AUDITS: tuple[str, ...] = ("row_count_in_bounds", "required_columns_not_null", "keys_unique", "values_in_range")


@dataclass(frozen=True)
class Verdict:
    """One audit of one partition: passed, and when not, what is wrong in words an operator can act on."""

    audit: str
    passed: bool
    problem: str = ""


def range_columns(frame: pl.DataFrame, rules: TableRules) -> dict[str, tuple[float | None, float | None]]:
    """Every column of the partition with a declared range, prefixed ones (share_<class>) expanded."""
    columns = {name: bounds for name, bounds in rules.ranges.items() if name in frame.columns}
    for prefix, bounds in rules.prefixed_ranges.items():
        columns |= {name: bounds for name in frame.columns if name.startswith(prefix)}
    return columns


def audit_partition(frame: pl.DataFrame, rules: TableRules, rows_written: int | None = None) -> list[Verdict]:
    """The four verdicts, in the order of AUDITS. `rows_written`: the staged file's row count (from
    its footer), which must equal the frame's: the file holds what was audited."""
    return [
        _row_count(frame, rules, rows_written),
        _required_not_null(frame, rules),
        _keys_unique(frame, rules),
        _values_in_range(frame, rules),
    ]


def _row_count(frame: pl.DataFrame, rules: TableRules, rows_written: int | None) -> Verdict:
    if rows_written is not None and rows_written != frame.height:
        return Verdict(AUDITS[0], False, f"the staged file holds {rows_written} rows, the step computed {frame.height}")
    if frame.height < rules.min_rows:
        return Verdict(AUDITS[0], False, f"{frame.height} rows, at least {rules.min_rows} expected")
    return Verdict(AUDITS[0], True)


def _required_not_null(frame: pl.DataFrame, rules: TableRules) -> Verdict:
    missing = [name for name in rules.required if name not in frame.columns]
    if missing:
        return Verdict(AUDITS[1], False, f"required columns missing: {', '.join(missing)}")
    if frame.is_empty():
        return Verdict(AUDITS[1], True)
    nulls = frame.select(pl.col(name).null_count() for name in rules.required).row(0, named=True)
    found = {name: count for name, count in nulls.items() if count}
    problem = ", ".join(f"{name}: {count} nulls" for name, count in found.items())
    return Verdict(AUDITS[1], not found, problem)


def _keys_unique(frame: pl.DataFrame, rules: TableRules) -> Verdict:
    missing = [name for name in rules.keys if name not in frame.columns]
    if missing:
        return Verdict(AUDITS[2], False, f"key columns missing: {', '.join(missing)}")
    repeated = frame.group_by(rules.keys).len().filter(pl.col("len") > 1)
    if repeated.is_empty():
        return Verdict(AUDITS[2], True)
    example = ", ".join(f"{name}={value}" for name, value in repeated.row(0, named=True).items() if name != "len")
    return Verdict(AUDITS[2], False, f"{repeated.height} keys repeated ({', '.join(rules.keys)}), e.g. {example}")


def _values_in_range(frame: pl.DataFrame, rules: TableRules) -> Verdict:
    problems = []
    for name, (low, high) in range_columns(frame, rules).items():
        values = pl.col(name).cast(pl.Float64)
        outside = values.is_nan()
        if low is not None:
            outside = outside | (values < low)
        if high is not None:
            outside = outside | (values > high)
        count = frame.select(outside.fill_null(False).sum()).item()
        if count:
            shown = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            problems.append(f"{name}: {count} values outside {shown}")
    return Verdict(AUDITS[3], not problems, "; ".join(problems))
