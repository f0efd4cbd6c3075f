"""Markdown tables for asset metadata and model cards (tabulate's GitHub format; no Dagster here)."""

from collections.abc import Iterable, Sequence

from tabulate import tabulate


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table. Cells are shown as given: format numbers before passing
    them, so each column keeps the precision its reader needs."""
    return tabulate(list(rows), headers=list(headers), tablefmt="github", disable_numparse=True)


def frame_table(frame) -> str:
    """A polars DataFrame as a Markdown table (floats to 4 significant places)."""
    rows = ([f"{cell:.4g}" if isinstance(cell, float) else cell for cell in row] for row in frame.iter_rows())
    return table(frame.columns, rows)
