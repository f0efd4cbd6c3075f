"""Read landing files into bronze frames: every line kept as text, with its file and line number.

Pure functions of bytes -> polars frames; the Dagster assets only add paths and metadata.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

import polars as pl

from shopinsight_pipeline.schemas import (
    ORDER_FIELDS,
    RAW_ORDERS_SCHEMA,
    RAW_REVIEWS_SCHEMA,
    REVIEW_FIELDS,
)

# Tried in order. GB18030 is the superset of GBK that Chinese exports fall back to.
DEFAULT_ENCODINGS: tuple[str, ...] = ("utf-8", "gb18030")
_LINE_SEPARATOR = "\x1f"  # a byte that never occurs in text exports: read whole lines


class LandingFileError(ValueError):
    """A landing file that cannot be read at all (wrong header, undecodable bytes)."""


@dataclass
class BronzeRead:
    """A parsed landing file and what the operator should know about it."""

    frame: pl.DataFrame
    encoding: str
    blank_lines: int = 0
    warnings: list[str] = field(default_factory=list)


def decode(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> tuple[str, str]:
    """Decode with the first encoding that fits; a fallback is reported, never silent."""
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff"), encoding
    raise LandingFileError(f"{source_file}: bytes are not valid in any of {list(encodings)}")


def _encoding_warnings(source_file: str, encoding: str, encodings: tuple[str, ...]) -> list[str]:
    if encoding == encodings[0]:
        return []
    return [f"{source_file} is not {encodings[0]}; decoded as {encoding}"]


def read_orders_csv(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> BronzeRead:
    """Parse an orders CSV export into the raw_orders layout.

    Lines are split with polars string kernels (fast); the rare line that uses CSV quoting is
    first rewritten through the csv module so quoted commas ("12,50"), quotes and line breaks
    stay in their field (RFC 4180; a record spanning lines is numbered by its first line). Columns
    are matched by the header's names (any order); a missing required column fails the file, unknown
    columns are kept in `extra_fields` with a warning. Fields beyond the header are kept in
    `extra_fields` too, missing trailing fields are null, and `field_count` says which happened.
    Blank lines are skipped and counted.
    """
    lines, encoding = _read_lines(data, source_file, encodings)
    read = BronzeRead(pl.DataFrame(schema=RAW_ORDERS_SCHEMA), encoding)
    read.warnings += _encoding_warnings(source_file, encoding, encodings)
    if _is_blank(data):
        read.warnings.append(f"{source_file} is empty (no header, no rows)")
        return read
    layout = header_layout(lines.item(0, "line"), source_file)
    read.warnings += layout.warnings(source_file)
    body = _join_quoted_newlines(lines.slice(1))
    blank = _blank_lines(body.get_column("line"))
    read.blank_lines = int(blank.sum())
    if read.blank_lines:
        body = body.filter(~blank)
    body, quoted_rows = _unquote_lines(body)
    read.frame = _split_lines(body, source_file, quoted_rows, layout)
    return read


@dataclass(frozen=True)
class HeaderLayout:
    """Where each column is on a line: exports reorder columns and add their own."""

    known: dict[str, int]  # each order field -> its position in the header
    unknown: dict[str, int]  # columns we do not know -> position; kept in extra_fields, not validated
    width: int

    def warnings(self, source_file: str) -> list[str]:
        notes = []
        if list(self.known.values()) != list(range(len(ORDER_FIELDS))):
            notes.append(f"{source_file}: columns in another order than {list(ORDER_FIELDS)}, matched by name")
        if self.unknown:
            notes.append(f"{source_file}: unknown columns {list(self.unknown)} kept in extra_fields, not validated")
        return notes


def header_layout(header: str, source_file: str) -> HeaderLayout:
    """Match the header to the order fields by name; a missing or repeated column fails the file."""
    names = [name.strip() for name in next(csv.reader([header]), [])]
    names = [name or f"column_{position}" for position, name in enumerate(names, start=1)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in ORDER_FIELDS if name not in names]
    if missing or repeated:
        problem = f"lacks required columns {missing}" if missing else f"repeats columns {repeated}"
        raise LandingFileError(f"{source_file} line 1: header {problem}; found {names}, expected {list(ORDER_FIELDS)}")
    return HeaderLayout(
        known={name: names.index(name) for name in ORDER_FIELDS},
        unknown={name: position for position, name in enumerate(names) if name not in ORDER_FIELDS},
        width=len(names),
    )


def _blank_lines(line: pl.Series) -> pl.Series:
    """Mask of empty and whitespace-only lines. Such a line has no comma, so the regex runs only
    on the few lines without one instead of on a million full ones."""
    without_comma = line.str.contains(",", literal=True).not_().arg_true()
    blank_rows = without_comma.filter(line.gather(without_comma).str.contains(r"^\s*$"))
    return pl.repeat(False, line.len(), eager=True).scatter(blank_rows, True)


def _is_blank(data: bytes) -> bool:
    """No text at all, only whitespace or a byte-order mark (looks at 4 KB for any real file)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    return not data[:4096].strip() and not data.strip()


def _read_lines(data: bytes, source_file: str, encodings: tuple[str, ...]) -> tuple[pl.DataFrame, str]:
    """Every line of the file as text with its 1-based number, and the encoding it was in.

    UTF-8 input goes to polars as it is (polars checks the bytes as it reads, which is cheaper
    than decoding a large file in Python first); anything else is decoded and re-encoded.
    """
    if b"\x1f" in data:
        raise LandingFileError(f"{source_file}: contains the control byte 0x1f, not a text export")
    if encodings[0].replace("-", "").lower() == "utf8":
        try:
            return _line_frame(data.removeprefix(b"\xef\xbb\xbf")), encodings[0]
        except pl.exceptions.ComputeError:
            pass  # not UTF-8: decode() below tries the other encodings and names the file if none fits
    text, encoding = decode(data, source_file, encodings)
    return _line_frame(text.encode("utf-8")), encoding


def _line_frame(utf8: bytes) -> pl.DataFrame:
    if not utf8:
        return pl.DataFrame(schema={"line_number": pl.UInt32(), "line": pl.String()})
    return pl.read_csv(
        utf8,
        has_header=False,
        separator=_LINE_SEPARATOR,
        quote_char=None,
        new_columns=["line"],
        infer_schema=False,
        empty_string_is_null=False,
    ).with_row_index("line_number", offset=1)


# Stands in for a comma inside a quoted field while lines are split, then turns back into one.
_FIELD_COMMA = "\x1e"


def _join_quoted_newlines(body: pl.DataFrame) -> pl.DataFrame:
    """RFC 4180: a quoted field may hold line breaks. Physical lines from one that leaves a quote
    open to the one that closes it become one record, numbered by its first physical line.

    Only lines with a quote are looked at (a few in a real export): a line with an odd number of
    quotes opens or closes a record; the lines between belong to it whatever they hold. A quote
    still open at the end of the file (a cut upload) leaves the lines as they are.
    """
    line = body.get_column("line")
    positions = line.str.contains('"', literal=True).arg_true()
    if positions.len() == 0:
        return body
    spans, opened = [], None
    for position, text in zip(positions.to_list(), line.gather(positions).to_list(), strict=True):
        if text.count('"') % 2:
            if opened is None:
                opened = position
            else:
                spans.append((opened, position))
                opened = None
    if not spans:
        return body
    # touch only the spans: a million-line file with one such record stays a column operation
    records = ["\n".join(line.slice(first, last - first + 1).to_list()) for first, last in spans]
    absorbed = [row for first, last in spans for row in range(first + 1, last + 1)]
    joined = line.scatter([first for first, _ in spans], records)
    keep = pl.repeat(True, line.len(), eager=True).scatter(absorbed, False)
    return body.with_columns(joined).filter(keep)


def _unquote_lines(body: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """Rewrite the rare line that uses CSV quoting so a plain split on commas is right for it.

    The csv module parses those lines ("12,50" stays one field); the rewritten line has the
    quotes removed and in-field commas swapped for a placeholder. Rows keep their place.
    """
    line = body.get_column("line")
    positions = line.str.contains('"', literal=True).arg_true()
    if positions.len() == 0:
        return body, positions
    rewritten = [_unquoted(text) for text in line.gather(positions).to_list()]
    return body.with_columns(line.scatter(positions, rewritten)), positions


def _unquoted(text: str) -> str:
    """The line with its quoting resolved, or as it is when it is not valid CSV (a bare carriage
    return in an unquoted field): split plainly, its field count then quarantines it."""
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error:
        return text
    return ",".join(value.replace(",", _FIELD_COMMA) for value in fields)


def _split_lines(body: pl.DataFrame, source_file: str, quoted_rows: pl.Series, layout: HeaderLayout) -> pl.DataFrame:
    """One column per order field (found by the header's names), the field count, and everything
    else as `extra_fields`: the values of unknown columns as a JSON object, then " | " and the
    fields past the header's end, if any. `field_count` counts the fields on the line less the
    file's unknown columns, so a complete line has exactly len(ORDER_FIELDS).

    One split into a list feeds every field and the count (about twice as fast as `split_exact`
    plus a separate comma count on a million lines).
    """
    fields = pl.col("_fields")
    beyond = pl.when(fields.list.len() > layout.width).then(fields.list.slice(layout.width).list.join(","))
    extra: pl.Expr = beyond
    if layout.unknown:
        unknown = pl.struct(
            [fields.list.get(position, null_on_oob=True).alias(name) for name, position in layout.unknown.items()]
        ).struct.json_encode()
        extra = pl.concat_str([unknown, beyond], separator=" | ", ignore_nulls=True)
    frame = (
        body.lazy()
        .with_columns(pl.col("line").str.split(",").alias("_fields"))
        .select(
            *[fields.list.get(layout.known[name], null_on_oob=True).alias(name) for name in ORDER_FIELDS],
            (fields.list.len() - len(layout.unknown)).cast(pl.Int32).alias("field_count"),
            extra.alias("extra_fields"),
            pl.lit(source_file).alias("source_file"),
            pl.col("line_number").cast(pl.Int64),
        )
        .collect()
    )
    if quoted_rows.len():  # put the quoted commas back, touching only the rows that had them
        restored = []
        for name in (*ORDER_FIELDS, "extra_fields"):
            values = frame.get_column(name).gather(quoted_rows)
            if values.str.contains(_FIELD_COMMA, literal=True).any():  # scatter copies the column
                fixed = values.str.replace_all(_FIELD_COMMA, ",", literal=True)
                restored.append(frame.get_column(name).scatter(quoted_rows, fixed))
        frame = frame.with_columns(restored)
    return frame.select(list(RAW_ORDERS_SCHEMA))


def read_reviews_jsonl(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> BronzeRead:
    """Parse a reviews JSON Lines export into the raw_reviews layout.

    Each line is parsed on its own, so one broken line (a truncated upload) becomes a row with a
    `parse_error` instead of failing the file. Values are kept as text; unknown keys are kept as
    JSON in `extra_fields`.
    """
    text, encoding = decode(data, source_file, encodings)
    read = BronzeRead(pl.DataFrame(schema=RAW_REVIEWS_SCHEMA), encoding)
    read.warnings += _encoding_warnings(source_file, encoding, encodings)
    if not text.strip():
        read.warnings.append(f"{source_file} is empty (no reviews)")
        return read
    records = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last record; it does not start a blank one
    for line_number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip():
            read.blank_lines += 1
            continue
        records.append((*_review_values(line), source_file, line_number))
    read.frame = pl.DataFrame(records, schema=RAW_REVIEWS_SCHEMA, orient="row")
    return read


# JSON types a field may have: text fields must be strings; a rating an integer or integer text.
_INTEGER_FIELDS = frozenset({"rating"})


def _type_errors(record: dict) -> str | None:
    """Fields whose JSON type is not what the field holds ({"zh": "好"} as text, 4.5 as a rating)."""
    errors = []
    for name in REVIEW_FIELDS:
        value = record.get(name)
        if value is None or isinstance(value, str):
            continue
        if name in _INTEGER_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            continue
        expected = "an integer or a string" if name in _INTEGER_FIELDS else "a string"
        errors.append(f"{name} is {_json_type(value)}, expected {expected}")
    return "; ".join(errors) or None


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", dict: "an object", list: "an array"}
    return names.get(type(value), type(value).__name__)


def _review_values(line: str) -> tuple:
    """The text of each known field, the parse error, type errors and repeated keys if any, and
    unknown keys as JSON."""
    repeated: list[str] = []

    def keep_pairs(pairs: list[tuple[str, object]]) -> dict:
        """A key given twice is ambiguous: note it instead of silently keeping the last value."""
        record: dict = {}
        for key, value in pairs:
            if key in record and key not in repeated:
                repeated.append(key)
            record[key] = value
        return record

    try:
        record = json.loads(line, object_pairs_hook=keep_pairs)
    except json.JSONDecodeError as error:
        return (*[None] * len(REVIEW_FIELDS), f"invalid JSON: {error.msg} at column {error.colno}", None, None, None)
    if not isinstance(record, dict):
        return (*[None] * len(REVIEW_FIELDS), f"expected a JSON object, got {type(record).__name__}", None, None, None)
    values = [_as_text(record.get(name)) for name in REVIEW_FIELDS]
    unknown = {key: value for key, value in record.items() if key not in REVIEW_FIELDS}
    extra = json.dumps(unknown, ensure_ascii=False) if unknown else None
    return (*values, None, _type_errors(record), ",".join(repeated) if repeated else None, extra)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
