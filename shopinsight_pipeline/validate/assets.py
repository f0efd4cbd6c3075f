"""Silver assets: validated rows and quarantined rows, with the checks that prove the split.

One multi-asset per entity writes both tables in one pass and reports four blocking checks
(validate/checks.py). This module is the Dagster wiring only: what each day's rows become is
decided in validate/split.py, which it imports inside the step, so that loading the code location
does not import great-expectations.
"""

from collections.abc import Iterator
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    Config,
    MetadataValue,
    Output,
    multi_asset,
)
from pydantic import Field

from shopinsight_pipeline.gold_checks import held_metadata
from shopinsight_pipeline.partitions import (
    BUSINESS_TIMEZONE,
    DAILY_ASSET,
    earlier_days,
    partition_day,
    rows_by_day,
    run_days,
    window,
)
from shopinsight_pipeline.storage import DAY_UNITS, LakeStorage
from shopinsight_pipeline.validate.checks import (
    ValidationTables,
    check_results,
    check_specs,
    failed_days,
)
from shopinsight_pipeline.validate.settings import DUPLICATE_LOOKBACK_DAYS, ORDER_LOOKBACK_DAYS, RuleSettings


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
        """The rules' limits from this run's config; days are cut in the partitions' timezone."""
        return RuleSettings(
            timezone=BUSINESS_TIMEZONE,
            currencies=tuple(self.currencies),
            max_quantity=self.max_quantity,
            max_unit_price=self.max_unit_price,
            max_id_chars=self.max_id_chars,
            max_field_chars=self.max_field_chars,
            max_review_text_chars=self.max_review_text_chars,
        )


def _multi_asset_spec(
    tables: ValidationTables,
    referenced: str | None = None,
    reference_days: int = ORDER_LOOKBACK_DAYS + 1,
    duplicates_across_days: bool = True,
) -> dict[str, Any]:
    """The multi_asset arguments the validation assets share: two outputs, their inputs, checks and
    lineage. `referenced`: the table whose ids this entity's rows must name, over the
    `reference_days` ending on the row's day; `duplicates_across_days`: an id validated on an
    earlier day is a duplicate (orders, reviews; not stock, counted every day)."""
    validated, quarantined, raw, entity = tables.validated, tables.quarantined, tables.raw, tables.entity
    outs = {
        validated: AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description=f"Typed {entity} that passed every rule of the {entity} suite.",
        ),
        quarantined: AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description=f"Rejected {entity}: the bronze row, the rules it broke and a reason.",
        ),
    }
    # The day's bronze rows, and the ids validated on the days before (a self-dependency: Dagster
    # runs a range backfill oldest first, so day N's duplicate check sees day N-1).
    # The raw rows are a staged delivery when one was ingested since the day was last validated.
    ins = {"raw_rows": AssetIn(raw, metadata={"read_staged": True})}
    if duplicates_across_days:
        ins["earlier_validated"] = earlier_days(validated, DUPLICATE_LOOKBACK_DAYS)
    # Which input each table depends on. The look-back at earlier validated days is the validated
    # table's self-dependency only: Dagster follows a self-dependency to the same asset's later days,
    # and an asset backfill must target the same days of both tables (they are written together).
    parents = {validated: {AssetKey(raw)}, quarantined: {AssetKey(raw)}}
    if duplicates_across_days:
        parents[validated].add(AssetKey(validated))
    if referenced is not None:
        # Reviews name orders validated on their day or up to ORDER_LOOKBACK_DAYS before it.
        ins["referenced"] = window(referenced, reference_days)
        for table_parents in parents.values():
            table_parents.add(AssetKey(referenced))
    return {
        "outs": outs,
        "ins": ins,
        "check_specs": check_specs(tables),
        "internal_asset_deps": parents,
        **DAILY_ASSET,
        "group_name": "validate",
    }


ORDERS = ValidationTables("orders", raw="raw_orders", validated="validated_orders", quarantined="quarantined_orders")


@multi_asset(**_multi_asset_spec(ORDERS))
def validate_orders(
    context: AssetExecutionContext,
    config: ValidationConfig,
    storage: LakeStorage,
    raw_rows: dict[str, pl.DataFrame],
    earlier_validated: dict[str, pl.LazyFrame],
) -> Iterator[Output | AssetCheckResult]:
    """validated_orders and quarantined_orders of the run's days."""
    yield from _validate(context, config, storage, ORDERS, raw_rows, earlier_validated, None)


REVIEWS = ValidationTables(
    "reviews", raw="raw_reviews", validated="validated_reviews", quarantined="quarantined_reviews"
)


@multi_asset(**_multi_asset_spec(REVIEWS, referenced="validated_orders"))
def validate_reviews(
    context: AssetExecutionContext,
    config: ValidationConfig,
    storage: LakeStorage,
    raw_rows: dict[str, pl.DataFrame],
    earlier_validated: dict[str, pl.LazyFrame],
    referenced: dict[str, pl.LazyFrame],
) -> Iterator[Output | AssetCheckResult]:
    """validated_reviews and quarantined_reviews of the run's days; a review must name a validated order."""
    yield from _validate(context, config, storage, REVIEWS, raw_rows, earlier_validated, referenced)


INVENTORY = ValidationTables(
    "inventory", raw="raw_inventory", validated="validated_inventory", quarantined="quarantined_inventory"
)


@multi_asset(**_multi_asset_spec(INVENTORY, referenced="products", reference_days=1, duplicates_across_days=False))
def validate_inventory(
    context: AssetExecutionContext,
    config: ValidationConfig,
    storage: LakeStorage,
    raw_rows: dict[str, pl.DataFrame],
    referenced: dict[str, pl.LazyFrame],
) -> Iterator[Output | AssetCheckResult]:
    """validated_inventory and quarantined_inventory of the run's days; a product must be in the day's
    catalogue (a day without a catalogue: not checked)."""
    yield from _validate(context, config, storage, INVENTORY, raw_rows, {}, referenced, reference_lookback_days=0)


def _validate(
    context: AssetExecutionContext,
    config: ValidationConfig,
    storage: LakeStorage,
    tables: ValidationTables,
    raw_rows: dict[str, pl.DataFrame],
    earlier_validated: dict[str, pl.LazyFrame],
    referenced: dict[str, pl.LazyFrame] | None,
    reference_lookback_days: int | None = None,
) -> Iterator[Output | AssetCheckResult]:
    """Split the run's days, emit both tables (staged), check the staged files, and publish each day
    that passed every check: its three tables together."""
    from shopinsight_pipeline.validate.split import split_run  # great-expectations: in this step only

    run = split_run(
        tables.entity,
        run_days(context),
        raw_rows,
        earlier_validated,
        config.rule_settings(),
        referenced=referenced,
        order_lookback_days=config.order_lookback_days if reference_lookback_days is None else reference_lookback_days,
        log=context.log.info,
    )
    validated = run.validated()
    yield Output(
        validated,
        output_name=tables.validated,
        metadata={
            **rows_by_day(validated),
            "earlier_days_checked_for_duplicates": run.earlier_days_checked,
            # personal data replaced in review text by a placeholder, by kind (privacy/masking.py)
            **({"personal_data_masked": MetadataValue.json(run.masked)} if run.masked else {}),
        },
    )
    quarantined = run.quarantined()
    yield Output(
        quarantined,
        output_name=tables.quarantined,
        metadata={
            **rows_by_day(quarantined),
            "reject_rate": run.reject_rate,
            "rejects_by_rule": MetadataValue.md(run.rejects_table()),
            "first_reasons": MetadataValue.md("\n".join(f"- {reason}" for reason in run.first_reasons(10)) or "none"),
        },
    )
    # Write, audit, publish: the IO manager has staged both tables by now; the checks judge the staged
    # files, and only a day that every check passed has its raw, validated and quarantined published
    # together. A failing day stays staged for inspection; readers keep its previous version.
    results = check_results(storage, tables, run, config.max_reject_rate, config.gx_check_max_rows)
    held = failed_days(results)
    for day in run.dates():
        if day.isoformat() not in held:
            storage.publish_day(tables.entity, day)
    if held:
        context.log.error(f"{tables.entity} of {', '.join(held)} failed a blocking check and was not published")
    units = DAY_UNITS[tables.entity]
    staged_paths = {key: [storage.staged_file(table, partition_day(key)) for table in units] for key in held}
    staged = {key: [str(path) for path in paths if path.exists()] for key, paths in staged_paths.items()}
    for result in results:
        yield result.with_metadata({**result.metadata, **held_metadata(result, staged)})
