"""A report reads windows of daily partitions, some days possibly not written (the start of the
lake, a gap); these helpers turn a day's window into frames and say what is missing, without Dagster,
so the report logic is tested on plain dicts."""

from collections.abc import Mapping
from datetime import date

import polars as pl


def stack(days: Mapping[str, pl.DataFrame], empty: pl.DataFrame | None = None) -> pl.DataFrame:
    """A window's written days as one frame, oldest first; no days written: `empty` (default: a
    frame without columns)."""
    frames = [days[key] for key in sorted(days)]
    if not frames:
        return pl.DataFrame() if empty is None else empty
    return pl.concat(frames, how="vertical_relaxed")


def days_missing(days: Mapping[str, object], day: date) -> int:
    """Days between the window's first written day and `day` that are not written (gaps that
    would read as days without sales)."""
    if not days:
        return 0
    return (day - date.fromisoformat(min(days))).days + 1 - len(days)


def written_or_empty(days: Mapping[str, pl.DataFrame], table: str, day: date, notes: list[str]) -> pl.DataFrame:
    """The run date's partition of an input a report can do without; a missing one is noted."""
    if day.isoformat() in days:
        return days[day.isoformat()]
    notes.append(f"{table} has no partition for {day}: its findings are skipped")
    return pl.DataFrame()
