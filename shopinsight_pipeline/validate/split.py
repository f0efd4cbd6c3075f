"""One run's validation, day by day, without Dagster: bronze rows in, validated and quarantined
rows out (each rejected row with its rules and reason), plus the numbers the assets' metadata and
checks report.

This is the part of validation that decides something, so it is tested and benchmarked without the
orchestrator; validate/assets.py only feeds it the run's inputs and writes what it returns. It
imports great-expectations (through rules.py): the Dagster shell imports it inside the step.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

import great_expectations as gx
import polars as pl

from shopinsight_pipeline.calendar import window_of
from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.privacy.masking import mask_column
from shopinsight_pipeline.schemas import conform
from shopinsight_pipeline.validate import rules
from shopinsight_pipeline.validate.settings import DUPLICATE_LOOKBACK_DAYS, ORDER_LOOKBACK_DAYS, RuleSettings

T = TypeVar("T")


@dataclass
class DaySplit:
    """One day's split, kept until the checks have looked at what was written."""

    raw_rows: int
    validated: pl.DataFrame  # typed rows, in the validated table's schema
    quarantined: pl.DataFrame  # bronze rows plus rejected_rules and reason, in the quarantine schema
    accepted: pl.DataFrame  # the prepared rows behind `validated`: what great-expectations re-checks
    rejects_by_rule: dict[str, int]
    suite: gx.ExpectationSuite  # the day's suite (the partition-day rule names the day)
    masked: dict[str, int] = field(default_factory=dict)  # personal data replaced in review text, by kind

    @property
    def reject_rate(self) -> float:
        return self.quarantined.height / self.raw_rows if self.raw_rows else 0.0


@dataclass
class RunSplit:
    """Every day of one run, oldest first, and the totals its metadata reports."""

    days: dict[str, DaySplit]  # by ISO day
    earlier_days_checked: int  # validated days before the run that the first day's duplicate check saw

    def dates(self) -> list[date]:
        return [date.fromisoformat(key) for key in self.days]

    def validated(self) -> dict[str, pl.DataFrame]:
        return {key: day.validated for key, day in self.days.items()}

    def quarantined(self) -> dict[str, pl.DataFrame]:
        return {key: day.quarantined for key, day in self.days.items()}

    @property
    def reject_rate(self) -> float:
        """The worst day's: a run over a range passes the threshold only if every day does."""
        return max(day.reject_rate for day in self.days.values())

    @property
    def masked(self) -> dict[str, int]:
        """Personal data replaced in the run's review texts (validated and quarantined), by kind."""
        totals: dict[str, int] = {}
        for day in self.days.values():
            for kind, count in day.masked.items():
                totals[kind] = totals.get(kind, 0) + count
        return totals

    @property
    def rejects_by_rule(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for day in self.days.values():
            for rule, count in day.rejects_by_rule.items():
                totals[rule] = totals.get(rule, 0) + count
        return totals

    def rejects_table(self) -> str:
        """Rejected rows per rule, as a Markdown table for the asset and check metadata."""
        rejects = self.rejects_by_rule
        if not rejects:
            return "no rejected rows"
        return table(["rule", "rows"], sorted(rejects.items()))

    def first_reasons(self, count: int) -> list[str]:
        """The first `count` reasons of the run, oldest day first: enough to see what went wrong."""
        reasons = pl.concat([day.quarantined.get_column("reason") for day in self.days.values()])
        return reasons.head(count).to_list()


def split_day(
    entity: str,
    day: date,
    raw: pl.DataFrame,
    earlier_ids: pl.Series,
    settings: RuleSettings,
    known_ids: pl.Series | None = None,
) -> DaySplit:
    """Validate one day of `entity` ("orders" or "reviews"): every bronze row ends up either
    validated or quarantined, never both, never neither. `earlier_ids` are the ids validated on
    earlier days (duplicates); `known_ids` the order ids a review may name (None: not checked)."""
    entity_rules = rules.ENTITY_RULES[entity]
    suite = entity_rules.suite(day, settings)
    prepared = entity_rules.prepare(raw, earlier_ids, settings, known_ids)
    outcome = rules.split(prepared, raw, suite, entity_rules.id_column)
    validated = entity_rules.to_validated(outcome.accepted)
    if entity_rules.day_column is not None:
        validated = validated.with_columns(pl.lit(day).alias(entity_rules.day_column))
    validated = conform(validated, entity_rules.validated_schema)
    quarantined = conform(outcome.rejected, entity_rules.quarantined_schema)
    masked: dict[str, int] = {}
    if "review_text" in validated.columns:  # silver and all after it see review text masked; bronze keeps it
        validated, masked = _masked_text(validated, masked)
        quarantined, masked = _masked_text(quarantined, masked)
    return DaySplit(
        raw_rows=raw.height,
        validated=validated,
        quarantined=quarantined,
        accepted=outcome.accepted,
        rejects_by_rule=outcome.rejects_by_rule,
        suite=suite,
        masked=masked,
    )


def _masked_text(frame: pl.DataFrame, counts: dict[str, int]) -> tuple[pl.DataFrame, dict[str, int]]:
    """`frame` with review_text masked (privacy/masking.py), and `counts` plus what was replaced."""
    column = mask_column(frame.get_column("review_text"))
    totals = {kind: counts.get(kind, 0) + column.counts[kind] for kind in column.counts}
    return frame.with_columns(column.values), totals


def split_run(
    entity: str,
    days: list[date],
    raw_rows: Mapping[str, pl.DataFrame],
    earlier_validated: Mapping[str, pl.LazyFrame],
    settings: RuleSettings,
    referenced: Mapping[str, pl.LazyFrame] | None = None,
    order_lookback_days: int = ORDER_LOOKBACK_DAYS,
    log: Callable[[str], object] | None = None,
) -> RunSplit:
    """Split a run's `days` (oldest first) of `entity`.

    Each day's duplicate check sees the validated ids of the DUPLICATE_LOOKBACK_DAYS days before it:
    those an earlier run wrote, and those of this run's earlier days, split just before (a range
    backfill is one run). A day this run splits again replaces what an earlier run wrote for it,
    so its old rows are not held against it. `referenced` (reviews only) holds the validated orders
    a review may name: its day's and the `order_lookback_days` before it.
    """
    entity_rules = rules.ENTITY_RULES[entity]
    id_column = entity_rules.id_column
    this_run = set(raw_rows)
    seen = {key: frame for key, frame in earlier_validated.items() if key not in this_run}
    earlier_days_checked = len(window_of(seen, days[0] - timedelta(days=1), DUPLICATE_LOOKBACK_DAYS))
    results: dict[str, DaySplit] = {}
    for day in days:
        key = day.isoformat()
        earlier_ids = column_of(window_of(seen, day - timedelta(days=1), DUPLICATE_LOOKBACK_DAYS), id_column)
        known_ids = None
        if referenced is not None and entity_rules.referenced_column is not None:  # reviews name orders
            named = window_of(referenced, day, order_lookback_days + 1)
            if named or not entity_rules.reference_optional:
                known_ids = column_of(named, entity_rules.referenced_column)
        result = split_day(entity, day, raw_rows[key], earlier_ids, settings, known_ids)
        results[key], seen[key] = result, result.validated.lazy()
        if log is not None:
            log(
                f"{day}: {result.raw_rows} raw -> {result.validated.height} validated, "
                f"{result.quarantined.height} quarantined ({result.reject_rate:.1%})"
            )
    return RunSplit(results, earlier_days_checked)


def column_of(frames: Mapping[str, pl.LazyFrame], column: str) -> pl.Series:
    """One column of several days, read in one scan (only that column's pages)."""
    if not frames:
        return pl.Series(column, [], dtype=pl.String)
    return pl.concat([frame.select(column) for frame in frames.values()]).collect().get_column(column)
