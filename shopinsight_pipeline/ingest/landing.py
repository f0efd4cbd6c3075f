"""Read landing files into bronze frames: every line kept as text, with its file and line number.

Pure functions of bytes -> polars frames; the Dagster assets only add paths and metadata.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from shopinsight_pipeline.schemas import (
    INVENTORY_FIELDS,
    ORDER_FIELDS,
    RAW_INVENTORY_SCHEMA,
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
    invalid_utf8_lines: int = 0  # lines kept as rows that validation quarantines as invalid_utf8
    columns: tuple[str, ...] = ()  # the columns the export delivered: the CSV header, the JSON keys seen


def column_drift(declared: tuple[str, ...], delivered: tuple[str, ...]) -> dict[str, list[str]]:
    """How a delivery's columns differ from the declared ones: a source system that added, renamed
    or dropped a column (empty lists: as declared; an empty file delivers no columns to judge)."""
    if not delivered:
        return {"added": [], "missing": []}
    return {
        "added": [name for name in delivered if name not in declared],
        "missing": [name for name in declared if name not in delivered],
    }


def decode(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> tuple[str, str]:
    """Decode with the first encoding that fits; a fallback is reported, never silent."""
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff"), encoding
    raise LandingFileError(f"{source_file}: bytes are not valid in any of {list(encodings)}")


@dataclass
class DecodedLines:
    """A landing file as UTF-8 bytes, the encoding it was read in, and the lines (1-based) that
    are not valid UTF-8 with why: each becomes a row that validation quarantines as invalid_utf8."""

    utf8: bytes
    encoding: str
    bad_lines: dict[int, str] = field(default_factory=dict)


_DECODE_WINDOW = 1 << 16  # bytes decoded at once when looking for the lines that are not UTF-8


def _json_escaped_bytes(error: UnicodeError) -> tuple[str, int]:
    """Bad bytes as \\\\xff inside a JSON string: the line still parses and its text reads \\xff."""
    assert isinstance(error, UnicodeDecodeError)
    return "".join(f"\\\\x{byte:02x}" for byte in error.object[error.start : error.end]), error.end


codecs.register_error("shopinsight-json-escape", _json_escaped_bytes)


def decode_lines(
    data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS, errors: str = "backslashreplace"
) -> DecodedLines:
    """UTF-8, judged line by line: one stray byte costs its line, never the file.

    A file is read whole in another of `encodings` (GB18030 from a Chinese export) only when none of
    its non-ASCII lines is valid UTF-8 and it decodes cleanly in that encoding: a UTF-8 file with a
    bad line also decodes "cleanly" as GB18030, as mojibake, so a file whose lines are mixed stays
    UTF-8 with its bad lines marked. A bad line keeps its text with the bad bytes written as escapes
    (\\xff; `errors` names the codec error handler that writes them), so the quarantine shows what
    arrived.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")
    if encodings[0].replace("-", "").lower() != "utf8":
        text, encoding = decode(data, source_file, encodings)
        return DecodedLines(text.encode("utf-8"), encoding)
    try:
        data.decode("utf-8")
        return DecodedLines(data, encodings[0])
    except UnicodeDecodeError:
        pass
    # Decode in C, in windows of whole lines (a failed decode stops at the bad byte, and its error
    # holds a copy of the window: bounded), so a large file with a few bad lines costs about one
    # decode, not a Python loop over every line.
    view, position, line_number = memoryview(data), 0, 1
    bad_lines: dict[int, str] = {}
    bad_spans: list[tuple[int, int]] = []  # byte range of each bad line, without its newline
    utf8_evidence = False  # a whole valid line with non-ASCII bytes: this is a UTF-8 file
    while position < len(data):
        window_end = data.find(b"\n", position + _DECODE_WINDOW)
        window_end = len(data) if window_end == -1 else window_end + 1
        try:
            codecs.utf_8_decode(view[position:window_end], "strict", True)
        except UnicodeDecodeError as error:
            failed = position + error.start
        else:
            utf8_evidence = utf8_evidence or not data[position:window_end].isascii()
            line_number += data.count(b"\n", position, window_end)
            position = window_end
            continue
        line_start = max(data.rfind(b"\n", position, failed) + 1, position)  # position starts a line
        utf8_evidence = utf8_evidence or not data[position:line_start].isascii()
        line_number += data.count(b"\n", position, line_start)
        bad_lines[line_number] = f"invalid UTF-8 byte 0x{data[failed]:02x} at byte offset {failed} of {source_file}"
        line_end = data.find(b"\n", failed)
        line_end = len(data) if line_end == -1 else line_end
        bad_spans.append((line_start, line_end))
        position, line_number = line_end + 1, line_number + 1
    if not utf8_evidence:
        for encoding in encodings[1:]:
            try:
                return DecodedLines(data.decode(encoding).removeprefix("\ufeff").encode("utf-8"), encoding)
            except UnicodeDecodeError:
                continue
    pieces, kept_from = [], 0
    for line_start, line_end in bad_spans:
        pieces += [data[kept_from:line_start], data[line_start:line_end].decode("utf-8", errors=errors).encode("utf-8")]
        kept_from = line_end
    pieces.append(data[kept_from:])
    return DecodedLines(b"".join(pieces), encodings[0], bad_lines)


def _encoding_warnings(source_file: str, decoded: DecodedLines, encodings: tuple[str, ...]) -> list[str]:
    notes = []
    if decoded.encoding != encodings[0]:
        notes.append(f"{source_file} is not {encodings[0]} on any line; decoded as a whole as {decoded.encoding}")
    if decoded.bad_lines:
        lines = sorted(decoded.bad_lines)
        shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
        notes.append(
            f"{source_file}: {len(lines)} lines are not valid UTF-8 (lines {shown}), quarantined as invalid_utf8"
        )
    return notes


def read_orders_csv(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> BronzeRead:
    """Parse an orders CSV export into the raw_orders layout (read_csv_export)."""
    return read_csv_export(data, source_file, ORDER_FIELDS, RAW_ORDERS_SCHEMA, encodings)


def read_inventory_csv(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> BronzeRead:
    """Parse a stock CSV export into the raw_inventory layout (read_csv_export)."""
    return read_csv_export(data, source_file, INVENTORY_FIELDS, RAW_INVENTORY_SCHEMA, encodings)


def read_csv_export(
    data: bytes,
    source_file: str,
    declared: tuple[str, ...],
    raw_schema: dict[str, pl.DataType],
    encodings: tuple[str, ...] = DEFAULT_ENCODINGS,
) -> BronzeRead:
    """Parse a CSV export into its raw layout: the `declared` fields as text, then field_count,
    extra_fields, decode_error and the lineage columns (`raw_schema`).

    Lines are split with polars string kernels (fast); the rare line that uses CSV quoting is
    first rewritten through the csv module so quoted commas ("12,50"), quotes and line breaks
    stay in their field (RFC 4180; a record spanning lines is numbered by its first line). Columns
    are matched by the header's names (any order); a missing required column fails the file, unknown
    columns are kept in `extra_fields` with a warning. Fields beyond the header are kept in
    `extra_fields` too, missing trailing fields are null, and `field_count` says which happened.
    Blank lines are skipped and counted.
    """
    lines, decoded = _read_lines(data, source_file, encodings)
    read = BronzeRead(pl.DataFrame(schema=raw_schema), decoded.encoding, invalid_utf8_lines=len(decoded.bad_lines))
    read.warnings += _encoding_warnings(source_file, decoded, encodings)
    if _is_blank(data):
        read.warnings.append(f"{source_file} is empty (no header, no rows)")
        return read
    if 1 in decoded.bad_lines:
        raise LandingFileError(f"{source_file} line 1: the header is not valid UTF-8 ({decoded.bad_lines[1]})")
    layout = header_layout(lines.item(0, "line"), source_file, declared)
    read.warnings += layout.warnings(source_file)
    positions = {**layout.known, **layout.unknown}
    read.columns = tuple(sorted(positions, key=lambda name: positions[name]))
    body = _join_quoted_newlines(lines.slice(1), decoded.utf8)
    blank = _blank_lines(body.get_column("line"))
    read.blank_lines = int(blank.sum())
    if read.blank_lines:
        body = body.filter(~blank)
    body, quoted_rows = _unquote_lines(body)
    body = body.with_columns(_decode_errors(body.get_column("line_number"), decoded.bad_lines))
    read.frame = _split_lines(body, source_file, quoted_rows, layout).select(list(raw_schema))
    return read


def _decode_errors(line_numbers: pl.Series, bad_lines: dict[int, str]) -> pl.Series:
    """The decode_error column: each record's message, null for the (usual) valid ones. A record
    spanning lines (a quoted line break) is numbered by its first line and takes the message of
    any of its lines."""
    errors: list[str | None] = [None] * line_numbers.len()
    if bad_lines:
        firsts = line_numbers.to_numpy()
        for number, message in sorted(bad_lines.items()):
            row = int(np.searchsorted(firsts, number, side="right")) - 1
            if row >= 0 and errors[row] is None:
                errors[row] = message
    return pl.Series("decode_error", errors, dtype=pl.String)


@dataclass(frozen=True)
class HeaderLayout:
    """Where each column is on a line: exports reorder columns and add their own."""

    known: dict[str, int]  # each declared field -> its position in the header
    unknown: dict[str, int]  # columns we do not know -> position; kept in extra_fields, not validated
    width: int

    def warnings(self, source_file: str) -> list[str]:
        notes = []
        if list(self.known.values()) != list(range(len(self.known))):
            notes.append(f"{source_file}: columns in another order than {list(self.known)}, matched by name")
        if self.unknown:
            notes.append(f"{source_file}: unknown columns {list(self.unknown)} kept in extra_fields, not validated")
        return notes


def header_layout(header: str, source_file: str, declared: tuple[str, ...] = ORDER_FIELDS) -> HeaderLayout:
    """Match the header to the declared fields by name; a missing or repeated column fails the file."""
    names = [name.strip() for name in next(csv.reader([header]), [])]
    names = [name or f"column_{position}" for position, name in enumerate(names, start=1)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in declared if name not in names]
    if missing or repeated:
        problem = f"lacks required columns {missing}" if missing else f"repeats columns {repeated}"
        raise LandingFileError(f"{source_file} line 1: header {problem}; found {names}, expected {list(declared)}")
    return HeaderLayout(
        known={name: names.index(name) for name in declared},
        unknown={name: position for position, name in enumerate(names) if name not in declared},
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


def _read_lines(data: bytes, source_file: str, encodings: tuple[str, ...]) -> tuple[pl.DataFrame, DecodedLines]:
    """Every line of the file as text with its 1-based number, and how the file was decoded.

    Valid UTF-8 goes to polars as it is (polars checks the bytes as it reads, which is cheaper
    than decoding a large file in Python first); anything else is judged line by line (decode_lines).
    """
    if b"\x1f" in data:
        raise LandingFileError(f"{source_file}: contains the control byte 0x1f, not a text export")
    if encodings[0].replace("-", "").lower() == "utf8":
        utf8 = data.removeprefix(b"\xef\xbb\xbf")
        try:
            return _line_frame(utf8), DecodedLines(utf8, encodings[0])
        except pl.exceptions.ComputeError:
            pass  # not UTF-8 throughout: decode_lines finds the lines that are not
    decoded = decode_lines(data, source_file, encodings)
    return _line_frame(decoded.utf8), decoded


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


def _join_quoted_newlines(body: pl.DataFrame, utf8: bytes) -> pl.DataFrame:
    """RFC 4180: a quoted field may hold line breaks. Physical lines from one that leaves a quote
    open to the one that closes it become one record, numbered by its first physical line, joined
    by the break each line ended with in `utf8` (the file's bytes): a CRLF inside a field stays CRLF
    (the line reader drops a line's final carriage return).

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
    newlines = np.flatnonzero(np.frombuffer(utf8, dtype=np.uint8) == ord("\n"))
    numbers = body.get_column("line_number")

    def ends_with_cr(row: int) -> bool:  # physical line N ends at the file's N-th newline
        end = int(newlines[int(numbers[row]) - 1])
        return end > 0 and utf8[end - 1] == ord("\r")

    records = [
        "".join(
            text + ("\r\n" if ends_with_cr(row) else "\n") if row < last else text
            for row, text in enumerate(line.slice(first, last - first + 1).to_list(), start=first)
        )
        for first, last in spans
    ]
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
    file's unknown columns, so a complete line has exactly as many as the declared fields.

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
            *[fields.list.get(position, null_on_oob=True).alias(name) for name, position in layout.known.items()],
            (fields.list.len() - len(layout.unknown)).cast(pl.Int32).alias("field_count"),
            extra.alias("extra_fields"),
            pl.col("decode_error"),
            pl.lit(source_file).alias("source_file"),
            pl.col("line_number").cast(pl.Int64),
        )
        .collect()
    )
    if quoted_rows.len():  # put the quoted commas back, touching only the rows that had them
        restored = []
        for name in (*layout.known, "extra_fields"):
            values = frame.get_column(name).gather(quoted_rows)
            if values.str.contains(_FIELD_COMMA, literal=True).any():  # scatter copies the column
                fixed = values.str.replace_all(_FIELD_COMMA, ",", literal=True)
                restored.append(frame.get_column(name).scatter(quoted_rows, fixed))
        frame = frame.with_columns(restored)
    return frame


def read_reviews_jsonl(data: bytes, source_file: str, encodings: tuple[str, ...] = DEFAULT_ENCODINGS) -> BronzeRead:
    """Parse a reviews JSON Lines export into the raw_reviews layout.

    Each line is parsed on its own, so one broken line (a truncated upload) becomes a row with a
    `parse_error` instead of failing the file. Values are kept as text; unknown keys are kept as
    JSON in `extra_fields`.
    """
    decoded = decode_lines(data, source_file, encodings, errors="shopinsight-json-escape")
    text = decoded.utf8.decode("utf-8")
    read = BronzeRead(
        pl.DataFrame(schema=RAW_REVIEWS_SCHEMA), decoded.encoding, invalid_utf8_lines=len(decoded.bad_lines)
    )
    read.warnings += _encoding_warnings(source_file, decoded, encodings)
    if not text.strip():
        read.warnings.append(f"{source_file} is empty (no reviews)")
        return read
    records, keys_seen = [], dict[str, None]()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last record; it does not start a blank one
    for line_number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if not line.strip():
            read.blank_lines += 1
            continue
        records.append((*_review_values(line, keys_seen), decoded.bad_lines.get(line_number), source_file, line_number))
    read.frame = pl.DataFrame(records, schema=RAW_REVIEWS_SCHEMA, orient="row")
    read.columns = tuple(keys_seen)
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


def _review_values(line: str, keys_seen: dict[str, None]) -> tuple:
    """The text of each known field, the parse error, type errors and repeated keys if any, and
    unknown keys as JSON. The line's keys are added to `keys_seen` (first seen first)."""
    repeated: list[str] = []

    def keep_pairs(pairs: list[tuple[str, object]]) -> dict:
        """A key given twice is ambiguous: note it instead of silently keeping the last value."""
        record: dict = {}
        for key, value in pairs:
            if key in record and key not in repeated:
                repeated.append(key)
            record[key] = value
        return record

    def unparsed(reason: str) -> tuple:
        return (*[None] * len(REVIEW_FIELDS), reason, None, None, None)

    try:
        record = json.loads(line, object_pairs_hook=keep_pairs)
    except json.JSONDecodeError as error:
        return unparsed(f"invalid JSON: {error.msg} at column {error.colno}")
    except RecursionError:
        return unparsed("invalid JSON: nested too deeply to read")
    except ValueError as error:  # an integer of more digits than Python converts (4300)
        return unparsed(f"invalid JSON: {str(error).splitlines()[0]}")
    if not isinstance(record, dict):
        return unparsed(f"expected a JSON object, got {type(record).__name__}")
    keys_seen.update(dict.fromkeys(record))
    try:
        values = [_as_text(record.get(name)) for name in REVIEW_FIELDS]
        unknown = {key: value for key, value in record.items() if key not in REVIEW_FIELDS}
        extra = json.dumps(unknown, ensure_ascii=False) if unknown else None
    except (RecursionError, ValueError) as error:  # a value too deep or too long to write back as text
        return unparsed(f"a value cannot be kept as text: {type(error).__name__}")
    surrogates = [name for name, value in zip(REVIEW_FIELDS, values, strict=True) if value and _SURROGATE.search(value)]
    if surrogates or (extra and _SURROGATE.search(extra)):
        # "\ud800" escapes a half of a UTF-16 pair: no character, and not writable as UTF-8
        values = [_escaped_surrogates(value) for value in values]
        named = ", ".join(surrogates) or "extra_fields"
        return (
            *values,
            f"invalid JSON text: a lone surrogate escape in {named}",
            None,
            None,
            _escaped_surrogates(extra),
        )
    return (*values, None, _type_errors(record), ",".join(repeated) if repeated else None, extra)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped_surrogates(value: str | None) -> str | None:
    """The text with each lone surrogate written as its escape (\\ud800): kept, and storable."""
    if value is None:
        return None
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
