"""The gold tables' audit (table_audit.py): each rule fails on the defect it names and passes a clean day."""

from datetime import date

import polars as pl

from shopinsight_pipeline.schemas import GOLD_RULES, TableRules, file_schema
from shopinsight_pipeline.table_audit import AUDITS, audit_partition

DAY = date(2026, 8, 1)
RULES = TableRules(
    keys=("date", "category"),
    required=("date", "category", "revenue"),
    ranges={"revenue": (0.0, None), "return_rate": (0.0, 1.0)},
    prefixed_ranges={"share_": (0.0, 1.0)},
    min_rows=1,
)


def sales(**overrides) -> pl.DataFrame:
    rows = {
        "date": [DAY, DAY],
        "category": ["books", "toys"],
        "revenue": [10.0, 0.0],
        "return_rate": [0.0, 1.0],
        "share_positive": [0.25, None],  # a null share is allowed: the column is not required
    }
    return pl.DataFrame({**rows, **overrides})


def failed(frame: pl.DataFrame, rows_written: int | None = None) -> dict[str, str]:
    return {v.audit: v.problem for v in audit_partition(frame, RULES, rows_written) if not v.passed}


def test_a_clean_day_passes_every_audit_in_order():
    verdicts = audit_partition(sales(), RULES, rows_written=2)
    assert [v.audit for v in verdicts] == list(AUDITS)
    assert all(v.passed and v.problem == "" for v in verdicts)


def test_an_empty_day_fails_the_row_count_and_a_file_that_differs_from_the_frame_too():
    assert failed(sales().clear()) == {"row_count_in_bounds": "0 rows, at least 1 expected"}
    assert failed(sales(), rows_written=1) == {
        "row_count_in_bounds": "the staged file holds 1 rows, the step computed 2"
    }


def test_nulls_in_required_columns_and_a_missing_required_column_fail():
    assert failed(sales(revenue=[None, 3.0])) == {"required_columns_not_null": "revenue: 1 nulls"}
    problems = failed(sales().drop("category"))
    assert problems["required_columns_not_null"] == "required columns missing: category"
    assert problems["keys_unique"] == "key columns missing: category"


def test_a_repeated_key_fails_naming_one_example():
    doubled = pl.concat([sales(), sales().head(1)])
    assert failed(doubled) == {"keys_unique": "1 keys repeated (date, category), e.g. date=2026-08-01, category=books"}


def test_values_outside_their_range_fail_per_column_and_prefixed_columns_are_covered():
    problems = failed(sales(revenue=[-1.0, 2.0], return_rate=[0.5, 1.5], share_positive=[float("nan"), 0.2]))
    assert problems == {
        "values_in_range": "revenue: 1 values outside [0.0, inf]; return_rate: 1 values outside [0.0, 1.0]; "
        "share_positive: 1 values outside [0.0, 1.0]"
    }


def test_every_gold_rule_names_columns_its_table_has():
    labels = ["negative", "positive"]
    for table, rules in GOLD_RULES.items():
        columns = set(file_schema(table, labels))
        named = set(rules.keys) | set(rules.required) | set(rules.ranges)
        assert named <= columns, (table, named - columns)
        for prefix in rules.prefixed_ranges:
            assert any(column.startswith(prefix) for column in columns), (table, prefix)
