"""The four blocking checks of each validation asset, declared and evaluated.

Write, audit, publish: they judge the day's staged files before anyone can read them: rows are
conserved (counted from the files written, not from the frames in memory), the reject rate stays
under the threshold, great-expectations itself finds the validated rows clean, and no required
column holds a null. A check covers every day of the run: it fails when any day fails, and names
the days (`failed_days`); the asset publishes only the days every check passed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, MetadataValue

from shopinsight_pipeline.storage import LakeStorage

if TYPE_CHECKING:
    from shopinsight_pipeline.validate.split import RunSplit


@dataclass(frozen=True)
class ValidationTables:
    """The tables one validation asset reads and writes, named literally where it is defined."""

    entity: str  # "orders" / "reviews": the rule set and the lake's unit of publication
    raw: str
    validated: str
    quarantined: str


def check_specs(tables: ValidationTables) -> list[AssetCheckSpec]:
    """Blocking: a failed check stops every asset downstream of the validated table."""
    validated = tables.validated
    masking = [
        AssetCheckSpec(
            "no_personal_data_in_text",
            asset=validated,
            blocking=True,
            description="no phone number, e-mail, resident ID, card number, WeChat/QQ handle or URL with a query "
            "string survives in review_text (privacy/masking.py masks them at validation)",
        )
    ]
    return [*_four_specs(tables), *(masking if tables.entity == "reviews" else [])]


def _four_specs(tables: ValidationTables) -> list[AssetCheckSpec]:
    validated = tables.validated
    return [
        AssetCheckSpec(
            "rows_conserved",
            asset=validated,
            blocking=True,
            description=f"{tables.raw} rows = {validated} rows + {tables.quarantined} rows",
        ),
        AssetCheckSpec(
            "reject_rate_within_threshold",
            asset=validated,
            blocking=True,
            description="Share of rejected rows is at most max_reject_rate",
        ),
        AssetCheckSpec(
            "great_expectations_suite",
            asset=validated,
            blocking=True,
            description=f"great-expectations finds every validated row clean under the {tables.entity} suite",
        ),
        AssetCheckSpec(
            "no_nulls_in_required_columns",
            asset=validated,
            blocking=True,
            description=f"every column of {validated} is required (but expected_arrival, null when nothing is on "
            "order): no value is null",
        ),
    ]


def check_results(
    storage: LakeStorage, tables: ValidationTables, run: "RunSplit", max_reject_rate: float, gx_check_max_rows: int
) -> list[AssetCheckResult]:
    """The four results on the staged files, in the order of check_specs."""
    results = [
        rows_conserved(storage, tables, run),
        reject_rate_within_threshold(tables, run, max_reject_rate),
        great_expectations_suite(tables, run, gx_check_max_rows),
        no_nulls_in_required_columns(tables, run),
    ]
    return results + ([no_personal_data_in_text(tables, run)] if tables.entity == "reviews" else [])


def failed_days(results: list[AssetCheckResult]) -> list[str]:
    """The days (ISO) that at least one result failed: the days not to publish."""
    failed = (cast(list[str], result.metadata["failed_days"].value) for result in results if not result.passed)
    return sorted({day for days in failed for day in days})


def _failed(days: Iterable[str]) -> dict[str, MetadataValue]:
    return {"failed_days": MetadataValue.json(sorted(days))}


def rows_conserved(storage: LakeStorage, tables: ValidationTables, run: "RunSplit") -> AssetCheckResult:
    """Counted from the Parquet footers of the files a publish would make visible (the staged
    ones; the published raw when no new delivery was staged): what downstream assets will read."""
    not_conserved: list[str] = []
    counts: dict[str, int] = {}
    for day in run.dates():
        written = {
            table: storage.newest_row_count(table, day) for table in (tables.raw, tables.validated, tables.quarantined)
        }
        counts = {f"{table}_rows": rows for table, rows in written.items()}  # the metadata shows the last day's
        if written[tables.raw] != written[tables.validated] + written[tables.quarantined]:
            not_conserved.append(day.isoformat())
    return AssetCheckResult(
        check_name="rows_conserved",
        asset_key=tables.validated,
        passed=not not_conserved,
        metadata={**counts, "days_checked": len(run.days), **_failed(not_conserved)},
    )


def reject_rate_within_threshold(tables: ValidationTables, run: "RunSplit", max_reject_rate: float) -> AssetCheckResult:
    """A day that rejects too much is a broken export, not a few bad rows: stop before it spreads."""
    rates = {key: day.reject_rate for key, day in run.days.items()}
    over = [key for key, rate in rates.items() if rate > max_reject_rate]
    return AssetCheckResult(
        check_name="reject_rate_within_threshold",
        asset_key=tables.validated,
        passed=not over,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "reject_rate": max(rates.values()),
            "max_reject_rate": max_reject_rate,
            **_failed(over),
            "rejects_by_rule": MetadataValue.md(run.rejects_table()),
        },
    )


def great_expectations_suite(tables: ValidationTables, run: "RunSplit", gx_check_max_rows: int) -> AssetCheckResult:
    """GX itself re-checks the rows the polars translation of its suite accepted (a sample of them
    on big days): the two engines must agree, or the translation has drifted."""
    from shopinsight_pipeline.validate.expectations import rows_to_check, run_suite  # great-expectations

    failures, rows_checked = [], 0
    for key, day in run.days.items():
        checked = rows_to_check(day.accepted, gx_check_max_rows)
        rows_checked += checked.height
        failures += [(key, outcome) for outcome in run_suite(checked, day.suite) if not outcome.success]
    failed = "\n".join(f"- {key}: {o.rule} ({o.expectation}): {o.unexpected_count} rows" for key, o in failures)
    return AssetCheckResult(
        check_name="great_expectations_suite",
        asset_key=tables.validated,
        passed=not failures,
        metadata={
            "expectations": len(next(iter(run.days.values())).suite.expectations),
            "rows_checked": rows_checked,
            "rows_validated": sum(day.accepted.height for day in run.days.values()),
            "failed_expectations": MetadataValue.md(failed or "none"),
            **_failed(key for key, _ in failures),
        },
    )


def no_nulls_in_required_columns(tables: ValidationTables, run: "RunSplit") -> AssetCheckResult:
    """Every validated column is required: a null there is a rule that let a value through."""
    from shopinsight_pipeline.validate.rules import required_nulls  # great-expectations

    nulls = {key: found for key, day in run.days.items() if (found := required_nulls(day.validated))}
    return AssetCheckResult(
        check_name="no_nulls_in_required_columns",
        asset_key=tables.validated,
        passed=not nulls,
        metadata={
            "null_values": MetadataValue.json(nulls),
            "columns_checked": next(iter(run.days.values())).validated.width,
            **_failed(nulls),
        },
    )


def no_personal_data_in_text(tables: ValidationTables, run: "RunSplit") -> AssetCheckResult:
    """The masker's own patterns find nothing left in the validated texts: a path that skipped
    masking, or a placeholder that did not replace what it found, stops here."""
    from shopinsight_pipeline.privacy.masking import KINDS, surviving_personal_data

    survivors = {
        key: found for key, day in run.days.items() if (found := surviving_personal_data(day.validated["review_text"]))
    }
    return AssetCheckResult(
        check_name="no_personal_data_in_text",
        asset_key=tables.validated,
        passed=not survivors,
        metadata={
            "masked_by_kind": MetadataValue.json({kind: run.masked.get(kind, 0) for kind in KINDS}),
            "texts_still_holding": MetadataValue.json(survivors),
            **_failed(survivors),
        },
    )
