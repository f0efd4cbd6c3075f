"""The erasure job (issue 27.3) and what follows it: the Dagster shell of erasure.py.

- `erase_customers_job`: run config names the customers, who asked and why; its one op runs
  `erasure.erase_customers` and returns the counts removed per table as a typed pandas frame
  (dagster-pandas checks it: one row per place, counts >= 1; the UI shows it).
- `rematerialize_after_erasure`: when that job succeeds, this sensor asks one run per day for the
  derived partitions (trends, forecast, sentiment, aspects, insights, the report) whose windows held
  a partition the erasure rewrote (the audit entry lists those). Which partitions follows from the
  lineage declared by the assets' inputs (`derived_partitions`), not from a list kept here.
"""

import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

import pandas as pd
from dagster import (
    AssetKey,
    AssetSelection,
    AssetSpec,
    BetaWarning,
    Config,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    TimeWindowPartitionMapping,
    define_asset_job,
    job,
    op,
    run_status_sensor,
)
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from pydantic import Field

from shopinsight_pipeline.erasure import HOLD_DAYS, erase_customers, request_id_of
from shopinsight_pipeline.files import read_json
from shopinsight_pipeline.freshness import freshness_checks
from shopinsight_pipeline.partitions import daily_partitions
from shopinsight_pipeline.resources import CustomerPseudonyms
from shopinsight_pipeline.storage import LakeStorage

# Derived from the erased rows, holding no customer: re-materialized, not filtered.
REMATERIALIZED = (
    "category_trends",
    "sales_forecast",
    "product_sentiment",
    "aspect_sentiment",
    "insights",
    "insight_report",
)

with warnings.catch_warnings():  # dagster-pandas' column API is beta: said once here, not on every import
    warnings.simplefilter("ignore", BetaWarning)
    ErasureCounts = create_dagster_pandas_dataframe_type(
        name="ErasureCounts",
        description="Rows (landing lines) removed per table (landing source) by one erasure: the audit's counts.",
        columns=[
            PandasColumn.string_column("place", non_nullable=True, unique=True),
            PandasColumn.integer_column("removed", min_value=1, non_nullable=True),
        ],
    )


def derived_partitions(
    specs: Iterable[AssetSpec], changed: Mapping[str, Iterable[date]], targets: Iterable[str] = REMATERIALIZED
) -> dict[str, set[date]]:
    """The days of `targets` whose inputs read a changed partition, directly or through another
    target: a day d reading upstream days [d + start, d + end] is affected by upstream day u for d in
    [u - end, u - start]; an input without a window reads the same day."""
    wanted = set(targets)
    inputs: dict[str, list[tuple[str, int, int]]] = {}
    for spec in specs:
        name = spec.key.to_user_string()
        if name in wanted:
            inputs[name] = [
                (
                    dep.asset_key.to_user_string(),
                    *(
                        (dep.partition_mapping.start_offset, dep.partition_mapping.end_offset)
                        if isinstance(dep.partition_mapping, TimeWindowPartitionMapping)
                        else (0, 0)
                    ),
                )
                for dep in spec.deps
            ]
    affected: dict[str, set[date]] = defaultdict(set)
    for table, days in changed.items():
        affected[table] |= set(days)
    growing = True
    while growing:  # a target read by another target (trends -> insights -> report) passes it on
        growing = False
        for name, reads in inputs.items():
            before = len(affected[name])
            for upstream, start, end in reads:
                for day in list(affected.get(upstream, ())):
                    affected[name] |= {day + timedelta(days=offset) for offset in range(-end, -start + 1)}
            growing |= len(affected[name]) > before
    return {name: affected[name] for name in inputs if affected[name]}


def existing_partitions(storage: LakeStorage, wanted: dict[str, set[date]]) -> dict[str, list[str]]:
    """Of the wanted days, those materialized (a day never written is not created by an erasure)."""
    existing = {}
    for name, days in wanted.items():
        if name == "insight_report":
            present = {day for day in days if storage.report_dir(day).exists()}
        else:
            present = set(days) & set(storage.partition_days(name))
        if present:
            existing[name] = sorted(day.isoformat() for day in present)
    return existing


def partitions_to_rematerialize(
    storage: LakeStorage, specs: Iterable[AssetSpec], changed: Mapping[str, Iterable[date]]
) -> dict[str, list[str]]:
    """The existing derived partitions that read a partition the erasure rewrote: what the sensor
    asks runs for and the command re-materializes."""
    return existing_partitions(storage, derived_partitions(specs, changed))


class ErasureConfig(Config):
    customer_ids: list[str] = Field(description="The shop's ids of the customers to erase.")
    requested_by: str = Field(description="Who asked (recorded in the audit entry).")
    reason: str = Field(default="", description="The request's reference (recorded in the audit entry).")
    keep_originals_days: int = Field(
        default=HOLD_DAYS,
        ge=0,
        description="Keep the landing originals this many days under lake/restricted/erasure_hold (a legal hold); "
        "0: overwritten.",
    )


@op(
    description="Remove the customers from every layer and the landing files; audit it; models become stale.",
    out=Out(ErasureCounts, io_manager_key="report_io_manager"),
)
def erase_customers_op(
    context: OpExecutionContext,
    config: ErasureConfig,
    storage: LakeStorage,
    pseudonyms: CustomerPseudonyms,
) -> Output:
    report = erase_customers(
        storage,
        config.customer_ids,
        pseudonyms.key_for(storage),
        config.requested_by,
        config.reason,
        log=context.log.info,
        keep_originals_days=config.keep_originals_days,
    )
    counts = pd.DataFrame(
        {
            "place": pd.Series(list(report.removed), dtype=object),
            "removed": pd.Series(list(report.removed.values()), dtype="int64"),
        }
    )
    return Output(
        counts,
        metadata={
            "request_id": report.request_id,
            "found": report.found,
            "customers": len(config.customer_ids),
            "rows_removed": int(counts["removed"].sum()),
            "audit": MetadataValue.path(report.audit_path or "none (nothing found)"),
            "rewritten_partitions": MetadataValue.json({name: len(days) for name, days in report.rewritten.items()}),
        },
    )


@job(description="Erase customers (run config: customer_ids, requested_by, reason): the right to erasure.")
def erase_customers_job() -> None:
    erase_customers_op()


rematerialize_after_erasure_job = define_asset_job(
    name="rematerialize_after_erasure_job",
    # freshness is judged against the clock by its sensor (freshness.py), not by a run of old days
    selection=AssetSelection.assets(*REMATERIALIZED) - AssetSelection.checks(*freshness_checks),
    partitions_def=daily_partitions,
    description="The derived partitions an erasure changed (started by the rematerialize_after_erasure sensor).",
)


def run_requests(request_id: str, to_rematerialize: Mapping[str, list[str]]) -> list[RunRequest]:
    """One run per day, oldest first, of that day's derived partitions to re-materialize."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for name, days in to_rematerialize.items():
        for day in days:
            by_day[day].append(name)
    return [
        RunRequest(
            run_key=f"erasure-{request_id}-{day}",
            partition_key=day,
            asset_selection=[AssetKey(name) for name in sorted(names)],
            tags={"shopinsight/erasure": request_id},
        )
        for day, names in sorted(by_day.items())
    ]


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[erase_customers_job],
    request_job=rematerialize_after_erasure_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="After an erasure: re-materialize the derived partitions whose windows held the erased customers.",
)
def rematerialize_after_erasure(context: RunStatusSensorContext, storage: LakeStorage):
    run_config: dict = dict(context.dagster_run.run_config)
    request_id = request_id_of(run_config["ops"]["erase_customers_op"]["config"]["customer_ids"])
    audits = sorted((storage.root_path / "lake" / "restricted" / "erasures" / "audit").glob(f"*-{request_id}.json"))
    if not audits:
        return SkipReason(f"erasure {request_id} found nothing: nothing to re-materialize")
    rewritten = read_json(audits[-1], "erasure audit")["rewritten_partitions"]
    if context.repository_def is None:  # the daemon always sets it; a hand-built context may not
        return SkipReason("no repository to read the lineage from")
    assets = set(context.repository_def.assets_defs_by_key.values())
    specs = [spec for assets_def in assets for spec in assets_def.specs]
    changed = {table: [date.fromisoformat(day) for day in days] for table, days in rewritten.items()}
    wanted = partitions_to_rematerialize(storage, specs, changed)
    return run_requests(request_id, wanted) or SkipReason("no derived partition held them")


def rematerialize(
    definitions: Definitions, request_id: str, to_rematerialize: Mapping[str, list[str]], log: Callable[[str], object]
) -> list[str]:
    """What the sensor asks, run here one day after the other (the CLI's path); the days that failed.
    Runs are recorded in the instance of DAGSTER_HOME when it is set."""
    job_def = definitions.resolve_job_def(rematerialize_after_erasure_job.name)
    failed = []
    with DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral() as instance:
        requests = run_requests(request_id, to_rematerialize)
        for number, request in enumerate(requests, 1):
            log(f"re-materializing {request.partition_key} ({number}/{len(requests)})")
            result = job_def.execute_in_process(
                partition_key=request.partition_key,
                asset_selection=list(request.asset_selection or []),
                instance=instance,
                tags=dict(request.tags),
                raise_on_error=False,
            )
            if not result.success:
                failed.append(str(request.partition_key))
    return failed
