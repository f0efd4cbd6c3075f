"""The validation assets' four checks (validate/checks.py), evaluated on a split without a run."""

from datetime import date

import polars as pl

from shopinsight_pipeline.ingest.landing import read_orders_csv
from shopinsight_pipeline.schemas import ORDER_FIELDS
from shopinsight_pipeline.validate import checks, split
from shopinsight_pipeline.validate.assets import ORDERS, REVIEWS, validate_orders, validate_reviews
from shopinsight_pipeline.validate.settings import RuleSettings
from shopinsight_pipeline_tests.conftest import GOOD_ORDER

DAY, NEXT_DAY = date(2026, 8, 3), date(2026, 8, 4)
CHECKS = ["rows_conserved", "reject_rate_within_threshold", "great_expectations_suite", "no_nulls_in_required_columns"]


class Counts:
    """A LakeStorage stand-in: the rows each staged (or published) table holds, per day."""

    def __init__(self, rows: dict[tuple[str, date], int]) -> None:
        self.rows = rows

    def newest_row_count(self, table: str, day: date) -> int:
        return self.rows[(table, day)]


def orders_run(*rows_per_day: list[dict]) -> split.RunSplit:
    """A run of consecutive days from DAY, each day's orders as landing rows (timestamps moved to the day)."""
    days, raw_rows = [], {}
    for offset, rows in enumerate(rows_per_day):
        day = date.fromordinal(DAY.toordinal() + offset)
        stamped = [{**row, "order_ts": f"{day.isoformat()}T10:00:00+08:00"} for row in rows]
        text = "\n".join([",".join(ORDER_FIELDS)] + [",".join(row.values()) for row in stamped]) + "\n"
        days.append(day)
        raw_rows[day.isoformat()] = read_orders_csv(text.encode(), f"{day}.csv").frame
    return split.split_run("orders", days, raw_rows, {}, RuleSettings())


def written(run: split.RunSplit) -> Counts:
    """The counts the staged files would give for `run`."""
    rows = {}
    for key, day in run.days.items():
        when = date.fromisoformat(key)
        rows |= {
            ("raw_orders", when): day.raw_rows,
            ("validated_orders", when): day.validated.height,
            ("quarantined_orders", when): day.quarantined.height,
        }
    return Counts(rows)


def test_the_asset_names_its_tables_literally_and_declares_the_four_blocking_checks():
    assert (ORDERS.raw, ORDERS.validated, ORDERS.quarantined) == (
        "raw_orders",
        "validated_orders",
        "quarantined_orders",
    )
    assert REVIEWS.validated == "validated_reviews" and REVIEWS.quarantined == "quarantined_reviews"
    for asset, tables, names in (
        (validate_orders, ORDERS, CHECKS),
        (validate_reviews, REVIEWS, [*CHECKS, "no_personal_data_in_text"]),  # review text is masked
    ):
        specs = list(asset.check_specs)
        assert [spec.name for spec in specs] == names
        assert all(spec.blocking and spec.asset_key.path == [tables.validated] for spec in specs)
    assert [spec.name for spec in checks.check_specs(ORDERS)] == CHECKS


def test_a_clean_split_passes_every_check_and_says_what_it_looked_at():
    run = orders_run(
        [GOOD_ORDER, {**GOOD_ORDER, "order_id": "O2", "quantity": "abc"}], [{**GOOD_ORDER, "order_id": "O3"}]
    )
    results = list(checks.check_results(written(run), ORDERS, run, max_reject_rate=0.5, gx_check_max_rows=0))
    assert [r.check_name for r in results] == CHECKS
    assert all(r.passed for r in results), [r.check_name for r in results if not r.passed]
    conserved, rate, gx, nulls = (r.metadata for r in results)
    assert conserved["days_checked"].value == 2 and conserved["failed_days"].value == []
    assert conserved["validated_orders_rows"].value == 1  # the last day's counts
    assert rate["reject_rate"].value == 0.5 and rate["failed_days"].value == []
    assert gx["rows_checked"].value == gx["rows_validated"].value == 2
    assert gx["failed_expectations"].value == "none"
    assert nulls["null_values"].value == {}


def test_each_check_fails_naming_the_days_that_failed():
    run = orders_run(
        [GOOD_ORDER], [{**GOOD_ORDER, "order_id": "O2"}, {**GOOD_ORDER, "order_id": "O3", "quantity": "x"}]
    )
    lost_a_row = written(run)
    lost_a_row.rows[("validated_orders", NEXT_DAY)] -= 1
    conserved = checks.rows_conserved(lost_a_row, ORDERS, run)
    assert not conserved.passed and conserved.metadata["failed_days"].value == [NEXT_DAY.isoformat()]
    rate = checks.reject_rate_within_threshold(ORDERS, run, max_reject_rate=0.4)
    assert not rate.passed and rate.metadata["failed_days"].value == [NEXT_DAY.isoformat()]
    first = run.days[DAY.isoformat()]
    first.validated = first.validated.with_columns(pl.lit(None, pl.Float64).alias("unit_price"))
    nulls = checks.no_nulls_in_required_columns(ORDERS, run)
    assert not nulls.passed and nulls.metadata["null_values"].value == {DAY.isoformat(): {"unit_price": 1}}
    assert nulls.metadata["failed_days"].value == [DAY.isoformat()]
    # the days not to publish: every day some check failed
    assert checks.failed_days([conserved, rate, nulls]) == [DAY.isoformat(), NEXT_DAY.isoformat()]


def test_great_expectations_fails_when_the_accepted_rows_break_the_suite():
    run = orders_run([GOOD_ORDER])
    day = run.days[DAY.isoformat()]
    day.accepted = day.accepted.with_columns(pl.lit("USD").alias("currency"))  # a translation that let it through
    result = checks.great_expectations_suite(ORDERS, run, gx_check_max_rows=0)
    assert not result.passed
    assert result.metadata["failed_expectations"].value == (
        f"- {DAY.isoformat()}: unknown_currency (expect_column_values_to_be_in_set): 1 rows"
    )
