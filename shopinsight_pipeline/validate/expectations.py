"""Run a validation suite through great-expectations itself (ephemeral context, pandas batch)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache

import great_expectations as gx
import polars as pl

from shopinsight_pipeline.validate.rules import column_of


@dataclass(frozen=True)
class ExpectationOutcome:
    rule: str
    expectation: str
    success: bool
    unexpected_count: int
    unexpected_rows: list[int]  # positions in the validated frame


@cache
def _pandas_source():
    """One ephemeral context per process: each new one creates a temporary docs folder."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # no tqdm noise in run logs
    return context.data_sources.add_pandas("shopinsight")


def rows_to_check(frame: pl.DataFrame, max_rows: int, seed: int = 0) -> pl.DataFrame:
    """All of `frame` when it has at most `max_rows` rows (0: no limit), else a seeded random sample.

    GX's pandas engine costs about 17 s per million rows, so on big partitions the re-check
    looks at a sample: the polars rules already judged every row; GX confirms them.
    """
    if max_rows <= 0 or frame.height <= max_rows:
        return frame
    return frame.sample(n=max_rows, seed=seed)


def run_suite(frame: pl.DataFrame, suite: gx.ExpectationSuite) -> list[ExpectationOutcome]:
    """Validate `frame` against `suite` with GX and return one outcome per expectation."""
    frame = frame.select(sorted({column_of(expectation) for expectation in suite.expectations}))
    source = _pandas_source()
    asset_name = f"{suite.name}-{uuid.uuid4().hex[:8]}"
    batch_definition = source.add_dataframe_asset(name=asset_name).add_batch_definition_whole_dataframe("all")
    # GX's pandas engine wants object columns; Arrow-backed strings and nullable ints confuse it.
    pandas_frame = frame.to_pandas(use_pyarrow_extension_array=False)
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:  # pandas turns dates into Timestamps, which GX won't compare to a date
            pandas_frame[name] = frame.get_column(name).to_list()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": pandas_frame})
    try:
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    finally:
        source.delete_asset(asset_name)
    return [
        ExpectationOutcome(
            rule=item.expectation_config.meta["rule"],
            expectation=item.expectation_config.type,
            success=bool(item.success),
            unexpected_count=int(item.result.get("unexpected_count") or 0),
            unexpected_rows=[int(i) for i in item.result.get("unexpected_index_list") or []],
        )
        for item in result.results
    ]
