"""Which rows and landing lines belong to the customers being erased (issue 27.3). Pure: the
erasure itself (erasure.py, at the package's top) reads and rewrites the lake with these.

A customer is found by their id (orders, customer_events, the restricted mapping), by their
pseudonym (gold customer tables), by the orders they placed (reviews name an order, not a
customer) and by the reviews they wrote (token shards, scores and aspects name a review).
"""

import csv
import json
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Subjects:
    """Everything that identifies the customers being erased, in the forms tables hold it."""

    customer_ids: frozenset[str]
    pseudonyms: frozenset[str] = frozenset()
    order_ids: frozenset[str] = frozenset()
    review_ids: frozenset[str] = frozenset()

    def to_json(self) -> dict:
        return {name: sorted(getattr(self, name)) for name in ("customer_ids", "pseudonyms", "order_ids", "review_ids")}

    @classmethod
    def from_json(cls, payload: dict) -> "Subjects":
        return cls(**{name: frozenset(values) for name, values in payload.items()})


@dataclass
class Removed:
    """Rows removed per table (and lines per landing source), summed over days: the audit's counts."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, place: str, count: int) -> None:
        if count:
            self.rows[place] = self.rows.get(place, 0) + count


def belongs(columns: list[str], subjects: Subjects) -> pl.Expr | None:
    """A filter that is true on the subjects' rows of a table with these columns; None: the table
    names no customer, order or review (nothing of theirs can be in it)."""
    conditions = []
    if "customer_id" in columns:
        conditions.append(pl.col("customer_id").is_in(list(subjects.customer_ids)))
    if "customer_pseudonym" in columns:
        conditions.append(pl.col("customer_pseudonym").is_in(list(subjects.pseudonyms)))
    if "order_id" in columns:
        conditions.append(pl.col("order_id").is_in(list(subjects.order_ids)))
    if "review_id" in columns:
        conditions.append(pl.col("review_id").is_in(list(subjects.review_ids)))
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined | condition
    return combined.fill_null(False)


def without_subjects(frame: pl.DataFrame, subjects: Subjects) -> tuple[pl.DataFrame, int]:
    """The frame without the subjects' rows, and how many rows went."""
    condition = belongs(frame.columns, subjects)
    if condition is None:
        return frame, 0
    kept = frame.filter(~condition)
    return kept, frame.height - kept.height


def _needles(ids: frozenset[str]) -> set[bytes]:
    """The bytes an id is written as in a file: as is, and as JSON escapes it."""
    return {value.encode() for value in ids} | {json.dumps(value)[1:-1].encode() for value in ids}


def _orders_csv_split(data: bytes, customer_ids: frozenset[str]) -> tuple[list[bytes], list[list[str]]]:
    """The lines of an orders landing file that are not these customers' (header first), and the
    fields of those that are. A file that does not name one of them is not parsed."""
    if not any(needle in data for needle in _needles(customer_ids)):
        return [data], []  # none of them in the file (most files, most requests)
    lines = data.split(b"\n")
    if not lines or not lines[0].strip():
        return [data], []
    header = next(csv.reader([lines[0].decode("utf-8", "replace").lstrip("\ufeff")]))
    names = [name.strip() for name in header]
    if "customer_id" not in names:
        return [data], []
    position = names.index("customer_id")
    kept, theirs = [lines[0]], []
    for line in lines[1:]:
        fields = next(csv.reader([line.decode("utf-8", "replace")]), [])
        if len(fields) > position and fields[position].strip() in customer_ids:
            theirs.append([field.strip() for field in fields])
            continue
        kept.append(line)
    return kept, [names, *theirs] if theirs else []


def orders_csv_without(data: bytes, customer_ids: frozenset[str]) -> tuple[bytes, int]:
    """An orders landing file without the lines of these customers: every other line kept byte for
    byte (a quoted field is read as CSV; a line too short to have a customer is kept)."""
    kept, theirs = _orders_csv_split(data, customer_ids)
    if not theirs:
        return data, 0
    return b"\n".join(kept), len(theirs) - 1


def orders_in_csv(data: bytes, customer_ids: frozenset[str]) -> set[str]:
    """The order ids of these customers' lines in an orders landing file (a day not ingested yet)."""
    _, theirs = _orders_csv_split(data, customer_ids)
    if not theirs or "order_id" not in theirs[0]:
        return set()
    position = theirs[0].index("order_id")
    return {fields[position] for fields in theirs[1:] if len(fields) > position and fields[position]}


def reviews_jsonl_without(data: bytes, order_ids: frozenset[str], review_ids: frozenset[str]) -> tuple[bytes, int]:
    """A reviews landing file without the lines that name one of these orders or reviews (a line
    that does not parse is dropped when it holds one of the ids as a JSON string)."""
    kept, removed = [], 0
    quoted = {json.dumps(value).encode() for value in order_ids | review_ids}
    if not any(needle in data for needle in _needles(order_ids | review_ids)):
        return data, 0  # none of their ids in the file: nothing to parse
    for line in data.split(b"\n"):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            record = None
        if isinstance(record, dict):
            mine = record.get("order_id") in order_ids or record.get("review_id") in review_ids
        else:
            mine = any(value in line for value in quoted)
        if mine:
            removed += 1
        else:
            kept.append(line)
    return b"\n".join(kept), removed


def ids_in(frame: pl.DataFrame, column: str, condition: pl.Expr) -> set[str]:
    """The distinct values of `column` on the rows that meet `condition`."""
    if column not in frame.columns:
        return set()
    return set(frame.filter(condition.fill_null(False)).get_column(column).drop_nulls().to_list())
