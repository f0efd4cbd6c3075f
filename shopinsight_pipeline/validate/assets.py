"""Silver assets: validated rows and quarantined rows, with the checks that prove the split.

One multi-asset per entity writes both tables in one pass and reports four blocking checks:
rows are conserved (raw = validated + quarantined), the reject rate stays under the configured
threshold, great-expectations itself finds the validated rows clean, and no required column of the
validated table holds a null.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    Config,
    MetadataValue,
    Output,
    multi_asset,
)
from pydantic import Field

from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.partitions import (
    BUSINESS_TIMEZONE,
    DAILY_ASSET,
    earlier_days,
    rows_by_day,
    run_days,
    window,
    window_of,
)
from shopinsight_pipeline.schemas import (
    QUARANTINED_ORDERS_SCHEMA,
    QUARANTINED_REVIEWS_SCHEMA,
    VALIDATED_ORDERS_SCHEMA,
    VALIDATED_REVIEWS_SCHEMA,
    conform,
)
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline.validate.settings import RuleSettings

if TYPE_CHECKING:
    import great_expectations as gx

    from shopinsight_pipeline.validate import rules

# Reviews arrive days or weeks after their order; a review of an order older than this, or of one
# that was quarantined, is quarantined as unknown_order. Re-materializing the review's day after a
# late order lands re-validates it (each partition is replaced, never appended to).
ORDER_LOOKBACK_DAYS = 60
# An id validated on one of this many earlier days is a duplicate (the declared self-dependency window).
DUPLICATE_LOOKBACK_DAYS = 365


class ValidationConfig(Config):
    """Run config of the validation assets; the defaults fit the embedded sample."""

    max_reject_rate: float = Field(
        default=0.10, description="Blocking: above this share of rejected rows, downstream assets do not run."
    )
    currencies: list[str] = Field(default=list(RuleSettings.currencies), description="Accepted order currencies.")
    max_quantity: int = Field(
        default=RuleSettings.max_quantity, description="Largest believable quantity on one order line."
    )
    max_unit_price: float = Field(default=RuleSettings.max_unit_price, description="Largest believable unit price.")
    order_lookback_days: int = Field(
        default=ORDER_LOOKBACK_DAYS,
        description="A review must name an order validated on its day or up to this many days before; "
        "otherwise it is quarantined as unknown_order (at most the declared lineage window).",
        ge=0,
        le=ORDER_LOOKBACK_DAYS,
    )
    max_id_chars: int = Field(
        default=RuleSettings.max_id_chars, ge=1, description="Longest id accepted, in characters (too_long_<id>)."
    )
    max_field_chars: int = Field(
        default=RuleSettings.max_field_chars,
        ge=1,
        description="Longest value of any other field but review text, in characters (too_long_<column>).",
    )
    max_review_text_chars: int = Field(
        default=RuleSettings.max_review_text_chars,
        ge=1,
        description="Longest review text accepted, in characters (too_long_review_text).",
    )
    gx_check_max_rows: int = Field(
        default=200_000,
        description="The great-expectations re-check looks at a seeded sample of this many validated rows "
        "when a partition has more (0: every row). The polars rules always judge every row.",
    )

    def rule_settings(self) -> RuleSettings:
        return RuleSettings(
            timezone=BUSINESS_TIMEZONE,
            currencies=tuple(self.currencies),
            max_quantity=self.max_quantity,
            max_unit_price=self.max_unit_price,
            max_id_chars=self.max_id_chars,
            max_field_chars=self.max_field_chars,
            max_review_text_chars=self.max_review_text_chars,
        )


@dataclass(frozen=True)
class Entity:
    """What differs between validating orders and validating reviews."""

    name: str  # "orders" / "reviews"
    id_column: str
    # names of the functions in validate/rules.py (imported by the validation step, with GX)
    suite: str
    prepare: str
    to_validated: str
    validated_schema: dict
    quarantined_schema: dict
    refers_to: str | None = None  # validated table whose ids this entity's rows must name (order_id)


ENTITIES = (
    Entity(
        "orders",
        "order_id",
        "order_suite",
        "prepare_orders",
        "validated_orders_frame",
        VALIDATED_ORDERS_SCHEMA,
        QUARANTINED_ORDERS_SCHEMA,
    ),
    Entity(
        "reviews",
        "review_id",
        "review_suite",
        "prepare_reviews",
        "validated_reviews_frame",
        VALIDATED_REVIEWS_SCHEMA,
        QUARANTINED_REVIEWS_SCHEMA,
        refers_to="orders",
    ),
)


def _rule_table(rejects_by_rule: dict[str, int]) -> str:
    if not rejects_by_rule:
        return "no rejected rows"
    return table(["rule", "rows"], sorted(rejects_by_rule.items()))


def build_validation_assets(entity: Entity) -> AssetsDefinition:
    validated, quarantined, raw = f"validated_{entity.name}", f"quarantined_{entity.name}", f"raw_{entity.name}"
    outs = {
        validated: AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description=f"Typed {entity.name} that passed every rule of the {entity.name} suite.",
        ),
        quarantined: AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description=f"Rejected {entity.name}: the bronze row, the rules it broke and a reason.",
        ),
    }
    # The day's bronze rows, and the ids validated on the days before (a self-dependency: Dagster
    # runs a range backfill oldest first, so day N's duplicate check sees day N-1).
    # The raw rows are a staged delivery when one was ingested since the day was last validated.
    ins = {
        "raw_rows": AssetIn(raw, metadata={"read_staged": True}),
        "earlier_validated": earlier_days(validated, DUPLICATE_LOOKBACK_DAYS),
    }
    checks = [
        AssetCheckSpec(
            "rows_conserved",
            asset=validated,
            blocking=True,
            description=f"{raw} rows = {validated} rows + {quarantined} rows",
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
            description=f"great-expectations finds every validated row clean under the {entity.name} suite",
        ),
        AssetCheckSpec(
            "no_nulls_in_required_columns",
            asset=validated,
            blocking=True,
            description=f"every column of {validated} is required: no value is null",
        ),
    ]
    spec = {"name": f"validate_{entity.name}", "outs": outs, **DAILY_ASSET, "group_name": "validate"}
    # Which input each table depends on. The look-back at earlier validated days is the validated
    # table's self-dependency only: Dagster follows a self-dependency to the same asset's later days,
    # and an asset backfill must target the same days of both tables (they are written together).
    parents = {validated: {AssetKey(raw), AssetKey(validated)}, quarantined: {AssetKey(raw)}}

    if entity.refers_to is None:

        @multi_asset(**spec, ins=ins, check_specs=checks, internal_asset_deps=parents)
        def validate(
            context: AssetExecutionContext,
            config: ValidationConfig,
            storage: LakeStorage,
            raw_rows: dict[str, pl.DataFrame],
            earlier_validated: dict[str, pl.LazyFrame],
        ):
            yield from run_validation(context, config, storage, entity, raw_rows, earlier_validated, None)

        return validate

    # Reviews name orders validated on their day or up to ORDER_LOOKBACK_DAYS before it.
    referenced = f"validated_{entity.refers_to}"
    ins["referenced"] = window(referenced, ORDER_LOOKBACK_DAYS + 1)
    for table_parents in parents.values():
        table_parents.add(AssetKey(referenced))

    @multi_asset(**spec, ins=ins, check_specs=checks, internal_asset_deps=parents)
    def validate_referring(
        context: AssetExecutionContext,
        config: ValidationConfig,
        storage: LakeStorage,
        raw_rows: dict[str, pl.DataFrame],
        earlier_validated: dict[str, pl.LazyFrame],
        referenced: dict[str, pl.LazyFrame],
    ):
        yield from run_validation(context, config, storage, entity, raw_rows, earlier_validated, referenced)

    return validate_referring


def column_of(frames: dict[str, pl.LazyFrame], column: str) -> pl.Series:
    """One column of several days, read in one scan (only that column's pages)."""
    if not frames:
        return pl.Series(column, [], dtype=pl.String)
    return pl.concat([frame.select(column) for frame in frames.values()]).collect().get_column(column)


@dataclass
class DayOutcome:
    """One day's split, kept for the checks that run after both tables are written."""

    raw_rows: int
    validated: pl.DataFrame
    quarantined: pl.DataFrame
    outcome: "rules.Split"
    suite: "gx.ExpectationSuite"

    @property
    def reject_rate(self) -> float:
        return self.quarantined.height / self.raw_rows if self.raw_rows else 0.0


def run_validation(
    context: AssetExecutionContext,
    config: ValidationConfig,
    storage: LakeStorage,
    entity: Entity,
    raw_rows: dict[str, pl.DataFrame],
    earlier_validated: dict[str, pl.LazyFrame],
    referenced: dict[str, pl.LazyFrame] | None,
):
    """Split the run's days oldest first (each day's duplicate check sees the days before it, also
    those validated earlier in this run), emit both tables, then the four checks on what was written."""
    validated, quarantined, raw = f"validated_{entity.name}", f"quarantined_{entity.name}", f"raw_{entity.name}"
    from shopinsight_pipeline.validate import rules  # great-expectations: in this step only

    build_suite, prepare = getattr(rules, entity.suite), getattr(rules, entity.prepare)
    to_validated = getattr(rules, entity.to_validated)
    settings = config.rule_settings()
    this_run = set(raw_rows)
    # Days of this run that were written before hold an earlier run's rows: this run replaces them.
    seen = {key: frame for key, frame in earlier_validated.items() if key not in this_run}
    run = run_days(context)
    earlier_days_checked = len(window_of(seen, run[0] - timedelta(days=1), DUPLICATE_LOOKBACK_DAYS))
    days: dict[str, DayOutcome] = {}
    for day in run:
        key, raw_frame = day.isoformat(), raw_rows[day.isoformat()]
        earlier_ids = column_of(window_of(seen, day - timedelta(days=1), DUPLICATE_LOOKBACK_DAYS), entity.id_column)
        known_ids = None
        if referenced is not None:
            known_ids = column_of(window_of(referenced, day, config.order_lookback_days + 1), "order_id")
        suite = build_suite(day, settings)
        prepared = prepare(raw_frame, earlier_ids, settings, known_ids)
        outcome = rules.split(prepared, raw_frame, suite, entity.id_column)
        result = DayOutcome(
            raw_frame.height,
            conform(to_validated(outcome.accepted), entity.validated_schema),
            conform(outcome.rejected, entity.quarantined_schema),
            outcome,
            suite,
        )
        days[key], seen[key] = result, result.validated.lazy()
        context.log.info(
            f"{day}: {result.raw_rows} raw -> {result.validated.height} validated, "
            f"{result.quarantined.height} quarantined ({result.reject_rate:.1%})"
        )
    rejects: dict[str, int] = {}
    for result in days.values():
        for rule, count in result.outcome.rejects_by_rule.items():
            rejects[rule] = rejects.get(rule, 0) + count
    yield Output(
        {key: result.validated for key, result in days.items()},
        output_name=validated,
        metadata={
            **rows_by_day({key: result.validated for key, result in days.items()}),
            "earlier_days_checked_for_duplicates": earlier_days_checked,
        },
    )
    quarantined_frames = {key: result.quarantined for key, result in days.items()}
    reasons = pl.concat([frame.get_column("reason") for frame in quarantined_frames.values()])
    yield Output(
        quarantined_frames,
        output_name=quarantined,
        metadata={
            **rows_by_day(quarantined_frames),
            "reject_rate": max(result.reject_rate for result in days.values()),
            "rejects_by_rule": MetadataValue.md(_rule_table(rejects)),
            "first_reasons": MetadataValue.md("\n".join(f"- {r}" for r in reasons.head(10)) or "none"),
        },
    )
    # The IO manager has staged both tables by now: the day's raw, validated and quarantined become
    # the published ones together, then the checks count the published files.
    for day in days_of(days):
        storage.publish_day(entity.name, day)
    yield from _checks(storage, days, raw, validated, quarantined, config, rejects)


def days_of(days: dict[str, DayOutcome]) -> list[date]:
    return [date.fromisoformat(key) for key in days]


def _checks(storage, days: dict[str, DayOutcome], raw, validated, quarantined, config, rejects):
    """The four checks over every day of the run: counted from the files written, from GX itself
    and from the typed tables. A check fails when it fails on any day, and names the days."""
    from shopinsight_pipeline.validate import rules
    from shopinsight_pipeline.validate.expectations import rows_to_check, run_suite

    not_conserved, counts = [], {}
    for day in days_of(days):
        written = {table: storage.row_count(table, day) for table in (raw, validated, quarantined)}
        counts = {f"{table}_rows": rows for table, rows in written.items()}
        if written[raw] != written[validated] + written[quarantined]:
            not_conserved.append(day.isoformat())
    yield AssetCheckResult(
        check_name="rows_conserved",
        asset_key=validated,
        passed=not not_conserved,
        metadata={**counts, "days_checked": len(days), "days_not_conserved": ", ".join(not_conserved) or "none"},
    )
    rates = {key: result.reject_rate for key, result in days.items()}
    over = [key for key, rate in rates.items() if rate > config.max_reject_rate]
    yield AssetCheckResult(
        check_name="reject_rate_within_threshold",
        asset_key=validated,
        passed=not over,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "reject_rate": max(rates.values()),
            "max_reject_rate": config.max_reject_rate,
            "days_over_threshold": ", ".join(over) or "none",
            "rejects_by_rule": MetadataValue.md(_rule_table(rejects)),
        },
    )
    failures, rows_checked = [], 0
    for key, result in days.items():
        checked = rows_to_check(result.outcome.accepted, config.gx_check_max_rows)
        rows_checked += checked.height
        failures += [(key, o) for o in run_suite(checked, result.suite) if not o.success]
    yield AssetCheckResult(
        check_name="great_expectations_suite",
        asset_key=validated,
        passed=not failures,
        metadata={
            "expectations": len(next(iter(days.values())).suite.expectations),
            "rows_checked": rows_checked,
            "rows_validated": sum(result.outcome.accepted.height for result in days.values()),
            "failed_expectations": MetadataValue.md(
                "\n".join(f"- {key}: {o.rule} ({o.expectation}): {o.unexpected_count} rows" for key, o in failures)
                or "none"
            ),
        },
    )
    nulls = {key: found for key, result in days.items() if (found := rules.required_nulls(result.validated))}
    yield AssetCheckResult(
        check_name="no_nulls_in_required_columns",
        asset_key=validated,
        passed=not nulls,
        metadata={
            "null_values": MetadataValue.json(nulls),
            "columns_checked": next(iter(days.values())).validated.width,
        },
    )


validate_orders, validate_reviews = (build_validation_assets(entity) for entity in ENTITIES)
