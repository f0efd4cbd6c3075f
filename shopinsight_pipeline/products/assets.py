"""The products dimension: a day's catalogue export -> `products` and `quarantined_products`.

Wiring only: products/catalogue.py decides what each line becomes. The insights, the report and
the recommendation reasons read the day's `products` to put a name beside each product id.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import date

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Failure,
    MetadataValue,
    Output,
    multi_asset,
)

from shopinsight_pipeline.ingest.landing import LandingFileError
from shopinsight_pipeline.markdown import frame_table
from shopinsight_pipeline.partitions import DAILY_ASSET, rows_by_day, run_days
from shopinsight_pipeline.products.catalogue import CatalogueSplit, split_catalogue
from shopinsight_pipeline.storage import LakeStorage


@multi_asset(
    outs={
        "products": AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description="The day's product catalogue: id, name, category, brand and list price of each product "
            "(the products dimension; a name beside an id in insights, the report and recommendation reasons).",
        ),
        "quarantined_products": AssetOut(
            is_required=True,
            kinds={"polars", "parquet"},
            description="Rejected catalogue lines: the fields as read, the rules they broke and a reason.",
        ),
    },
    check_specs=[
        AssetCheckSpec(
            "catalogue_rows_conserved",
            asset="products",
            blocking=True,
            description="catalogue lines = products rows + quarantined_products rows, counted from the files written",
        )
    ],
    **DAILY_ASSET,
    group_name="ingest",
)
def catalogue(context: AssetExecutionContext, storage: LakeStorage) -> Iterator[Output | AssetCheckResult]:
    """products and quarantined_products of the run's days, from landing/products/."""
    splits: dict[date, CatalogueSplit] = {}
    for day in run_days(context):
        path = storage.landing_file("products", day)
        if not path.exists():
            raise Failure(
                description=f"no products landing file for {day.isoformat()}: expected {path}",
                metadata={"expected_path": str(path)},
            )
        try:
            split = split_catalogue(path.read_bytes(), path.name)
        except LandingFileError as error:  # a header without a field, bytes of no known encoding
            raise Failure(description=str(error), metadata={"path": str(path)}) from error
        context.log.info(f"{path.name}: {split.products.height} products, {split.quarantined.height} rejected")
        splits[day] = split
    products = {day.isoformat(): split.products for day, split in splits.items()}
    yield Output(products, output_name="products", metadata=rows_by_day(products))
    quarantined = {day.isoformat(): split.quarantined for day, split in splits.items()}
    rejects = Counter(rule for split in splits.values() for rule in split.rejected_rules())
    reasons = [reason for split in splits.values() for reason in split.quarantined.get_column("reason").to_list()]
    yield Output(
        quarantined,
        output_name="quarantined_products",
        metadata={
            **rows_by_day(quarantined),
            "rejects_by_rule": MetadataValue.md(
                frame_table(pl.DataFrame({"rule": list(rejects), "rows": list(rejects.values())}))
                if rejects
                else "none"
            ),
            "first_reasons": MetadataValue.md("\n".join(f"- {reason}" for reason in reasons[:10]) or "none"),
        },
    )
    # both tables are written by now: count what readers will see
    not_conserved = [
        day.isoformat()
        for day, split in splits.items()
        if storage.row_count("products", day) + storage.row_count("quarantined_products", day) != split.lines
    ]
    yield AssetCheckResult(
        check_name="catalogue_rows_conserved",
        asset_key="products",
        passed=not not_conserved,
        metadata={
            "catalogue_lines": sum(split.lines for split in splits.values()),
            "days_not_conserved": ", ".join(not_conserved) or "none",
        },
    )
