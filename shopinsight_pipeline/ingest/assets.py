"""Bronze assets: one day's landing file -> raw_orders / raw_reviews / raw_inventory, every line kept as text."""

from collections.abc import Callable, Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from shopinsight_pipeline.ingest.landing import (
    BronzeRead,
    column_drift,
    read_inventory_csv,
    read_orders_csv,
    read_reviews_jsonl,
)
from shopinsight_pipeline.partitions import DAILY_ASSET, rows_by_day, run_days
from shopinsight_pipeline.schemas import INVENTORY_FIELDS, ORDER_FIELDS, REVIEW_FIELDS
from shopinsight_pipeline.storage import LakeStorage

Reader = Callable[[bytes, str], BronzeRead]


def build_raw_asset(name: str, source: str, reader: Reader, declared: tuple[str, ...]) -> AssetsDefinition:
    """The bronze asset `name` for one landing source; orders and reviews differ only by reader and
    by the columns their export declares."""

    @asset(
        name=name,
        check_specs=[
            AssetCheckSpec(
                "landing_columns_as_declared",
                asset=name,
                description=f"the {source} export delivers exactly the declared columns {list(declared)}: a column "
                "added, renamed or dropped upstream warns before validation quarantines its rows",
            )
        ],
        **DAILY_ASSET,
        group_name="ingest",
        kinds={"polars", "parquet"},
        description=f"One day's {source} landing file as text columns, with source file and line number "
        f"(staged: published together with validated_{source} and quarantined_{source} by validation).",
    )
    def raw_asset(context: AssetExecutionContext, storage: LakeStorage) -> Iterator[Output | AssetCheckResult]:
        # a publish a crash cut short is finished first, so the new delivery is staged over a whole day
        storage.settle_pending(source)
        frames, encodings, blank_lines, invalid_utf8_lines, warnings = {}, set(), 0, 0, []
        drift: dict[str, dict[str, list[str]]] = {}
        for day in run_days(context):
            path = storage.landing_file(source, day)
            if not path.exists():
                raise Failure(  # not retried: a file that is not there is not there 30 s later
                    description=f"no {source} landing file for {day.isoformat()}: expected {path}",
                    metadata={"expected_path": str(path)},
                    allow_retries=False,
                )
            read = reader(path.read_bytes(), path.name)
            for warning in read.warnings:
                context.log.warning(warning)
            context.log.info(f"{path.name}: {read.frame.height} rows")
            frames[day.isoformat()] = read.frame
            changed = column_drift(declared, read.columns)
            if changed["added"] or changed["missing"]:
                drift[day.isoformat()] = changed
            encodings.add(read.encoding)
            blank_lines += read.blank_lines
            invalid_utf8_lines += read.invalid_utf8_lines
            warnings += read.warnings
        yield Output(
            frames,
            metadata={
                **rows_by_day(frames),
                "source_file": str(path) if len(frames) == 1 else str(path.parent),
                # utf-8 unless a file was read whole in another encoding (none of its lines was UTF-8)
                "encoding": ", ".join(sorted(encodings)),
                "invalid_utf8_lines": invalid_utf8_lines,
                "blank_lines_skipped": blank_lines,
                "warnings": MetadataValue.md("\n".join(f"- {w}" for w in warnings) or "none"),
            },
        )
        yield AssetCheckResult(
            check_name="landing_columns_as_declared",
            asset_key=name,
            passed=not drift,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "declared_columns": MetadataValue.json(list(declared)),
                "changed_days": MetadataValue.json(drift),
            },
        )

    return raw_asset


raw_orders = build_raw_asset("raw_orders", "orders", read_orders_csv, ORDER_FIELDS)
raw_reviews = build_raw_asset("raw_reviews", "reviews", read_reviews_jsonl, REVIEW_FIELDS)
raw_inventory = build_raw_asset("raw_inventory", "inventory", read_inventory_csv, INVENTORY_FIELDS)
