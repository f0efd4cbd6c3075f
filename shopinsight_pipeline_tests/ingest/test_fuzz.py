"""Fuzzing the landing readers and the rules with Hypothesis (issue 11).

Generated landing files: valid rows mutated field by field (Unicode digits, control characters,
quotes, commas and line breaks, huge numbers, JSON values of every type, repeated keys, invisible
characters), lines of random text, and (issue 25) bytes that are not UTF-8 dropped into a line, JSON
lines with a lone surrogate escape, an integer past Python's 4300 digits, or nesting past the
parser's depth. Properties, for orders and reviews alike:
- every record is a validated row or a quarantined row with at least one rule and a reason that
  names the file and the line;
- no validated row breaks the suite as great-expectations runs it, and none holds a null;
- a line holding bytes that are not UTF-8 is quarantined as invalid_utf8, and no other line is;
- the same input gives the same output.

`make test` runs a bounded number of examples (profile "ci"); `make fuzz` runs the "fuzz" profile.
"""

import csv
import io
import json
import os
from datetime import date

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopinsight_pipeline.ingest.landing import LandingFileError, read_orders_csv, read_reviews_jsonl
from shopinsight_pipeline.schemas import (
    ORDER_FIELDS,
    VALIDATED_ORDERS_SCHEMA,
    VALIDATED_REVIEWS_SCHEMA,
    conform,
)
from shopinsight_pipeline.validate import rules
from shopinsight_pipeline.validate.expectations import run_suite
from shopinsight_pipeline_tests.conftest import GOOD_ORDER as ORDER
from shopinsight_pipeline_tests.conftest import GOOD_REVIEW as REVIEW

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("SHOPINSIGHT_FUZZ_PROFILE", "ci"))

DAY = date(2026, 8, 3)
SETTINGS = rules.RuleSettings()
# Any character a text file can hold: no lone surrogates (not encodable) and no 0x1f, which the
# reader refuses as a whole-file fault (tested in test_landing).
CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1f")
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "２",
        "99999999999999999999",
        "9" * 400,
        "-1",
        "1e3",
        "NaN",
        "\x00",
        "a\tb",
        "x\ny",
        "\r",
        '"',
        ",",
        "=1+1",
        "O\u200bX",
        "\u200bO1",
        "O1\ufeff",
        "O\u2060",
        "O\u200f1",
    ]
)
# Bytes that are not UTF-8: a stray byte, a broken pair, an encoded surrogate, a cut sequence, GBK.
INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe4\xb8", "包装".encode("gbk")])
FIELD_TEXT = st.one_of(
    NASTY_TEXT, st.text(CHARACTERS, max_size=12), st.from_regex(r"-?[0-9]{1,25}(\.[0-9]{1,3})?", fullmatch=True)
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(CHARACTERS, max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(CHARACTERS, max_size=4), children, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def order_rows(draw) -> dict:
    row = {**ORDER, "order_id": f"O{draw(st.integers(0, 30))}"}
    for name in draw(st.sets(st.sampled_from(ORDER_FIELDS), max_size=3)):
        row[name] = draw(FIELD_TEXT)
    return row


@st.composite
def orders_file(draw) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ORDER_FIELDS)
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 9)) == 0:  # a line of noise, written as it is
            buffer.write(draw(st.text(CHARACTERS, max_size=40)) + "\n")
        else:
            writer.writerow(list(draw(order_rows()).values()))
    return buffer.getvalue().encode("utf-8")


@st.composite
def with_invalid_bytes(draw, data: bytes) -> tuple[bytes, set[int]]:
    """`data` with bytes that are not UTF-8 put into a few of its lines (the header too, at times);
    returns the changed file and the 1-based numbers of the lines changed."""
    lines = data.split(b"\n")
    changed = set()
    for _ in range(draw(st.integers(0, 2))):
        number = draw(st.integers(1, len(lines)))
        line = lines[number - 1]
        at = draw(st.integers(0, len(line)))
        while at and at < len(line) and (line[at] & 0xC0) == 0x80:  # between characters, not inside one
            at -= 1
        lines[number - 1] = line[:at] + draw(INVALID_UTF8) + line[at:]
        changed.add(number)
    return b"\n".join(lines), changed


@st.composite
def review_line(draw) -> str:
    kind = draw(st.integers(0, 12))
    if kind == 10:  # a lone surrogate escape, inside a value or a key
        return draw(st.sampled_from(['{"review_id": "R1", "review_text": "a\\ud800b"}', '{"\\udfff": 1}']))
    if kind == 11:  # an integer longer than Python converts
        return '{"review_id": "R1", "rating": ' + "7" * draw(st.integers(4301, 6000)) + "}"
    if kind == 12:  # nested deeper than the parser goes
        depth = draw(st.integers(1000, 5000))
        return '{"review_id": "R1", "x": ' + "[" * depth + "]" * depth + "}"
    if kind == 0:
        return draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x1f"), max_size=40))
    record = {**REVIEW, "review_id": f"R{draw(st.integers(0, 30))}"}
    for name in draw(st.sets(st.sampled_from(list(REVIEW)), max_size=3)):
        record[name] = draw(st.one_of(FIELD_TEXT, JSON_VALUE))
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    if kind == 1:  # the same key twice
        line = line[:-1] + ', "rating": 1}'
    return line


def validate(raw: pl.DataFrame, entity: str):
    known_orders = pl.Series(["O1", "O2"])
    if entity == "orders":
        prepared = rules.prepare_orders(raw, pl.Series(["O30"]), SETTINGS)
        suite, schema, id_column = rules.order_suite(DAY, SETTINGS), VALIDATED_ORDERS_SCHEMA, "order_id"
        to_validated = rules.validated_orders_frame
    else:
        prepared = rules.prepare_reviews(raw, pl.Series(["R30"]), SETTINGS, known_orders)
        suite, schema, id_column = rules.review_suite(DAY, SETTINGS), VALIDATED_REVIEWS_SCHEMA, "review_id"
        to_validated = rules.validated_reviews_frame
    outcome = rules.split(prepared, raw, suite, id_column)
    return outcome, conform(to_validated(outcome.accepted), schema), suite


def check_properties(raw: pl.DataFrame, source_file: str, entity: str) -> None:
    outcome, validated, suite = validate(raw, entity)
    assert validated.height + outcome.rejected.height == raw.height
    assert sorted(validated.get_column("line_number").to_list() + outcome.rejected["line_number"].to_list()) == sorted(
        raw.get_column("line_number").to_list()
    )
    for row in outcome.rejected.iter_rows(named=True):
        assert row["rejected_rules"], row
        assert row["reason"].startswith(f"{source_file} line {row['line_number']}: "), row["reason"]
    assert rules.required_nulls(validated) == {}
    if outcome.accepted.height:
        failures = [o for o in run_suite(outcome.accepted, suite) if not o.success]
        assert not failures, [(o.rule, o.unexpected_count) for o in failures]
    again, validated_again, _ = validate(raw, entity)
    assert validated_again.equals(validated) and again.rejected.equals(outcome.rejected)


def read_and_check(reader, data: bytes, source_file: str, entity: str, not_utf8: set[int] | None = None) -> None:
    """A file the reader refuses must be refused by name; any other gives rows with the properties,
    and reading it again gives the same bronze frame. `not_utf8`: the lines given bytes that are not
    UTF-8, which (unless the file was read whole in another encoding) are quarantined as invalid_utf8."""
    try:
        read = reader(data, source_file)
    except LandingFileError as error:
        assert str(error).startswith(source_file), error
        return
    check_properties(read.frame, source_file, entity)
    assert reader(data, source_file).frame.equals(read.frame)
    if read.encoding == "utf-8":
        outcome, _, _ = validate(read.frame, entity)
        flagged = outcome.rejected.filter(pl.col("rejected_rules").list.contains("invalid_utf8"))
        first_lines = set(read.frame.get_column("line_number").to_list())
        # a record spanning lines is numbered by its first: a bad byte in a later line is its record's
        expected = {
            max(n for n in first_lines if n <= line)
            for line in (not_utf8 or set())
            if line >= min(first_lines, default=1)
        }
        assert set(flagged.get_column("line_number").to_list()) == expected


@given(st.data())
def test_fuzzed_orders_are_validated_or_quarantined_with_a_reason(data):
    file, not_utf8 = data.draw(with_invalid_bytes(data.draw(orders_file())))
    read_and_check(read_orders_csv, file, "o.csv", "orders", not_utf8)


@given(st.data())
def test_fuzzed_reviews_are_validated_or_quarantined_with_a_reason(data):
    lines = data.draw(st.lists(review_line(), min_size=1, max_size=12))
    file, not_utf8 = data.draw(with_invalid_bytes("\n".join(lines).encode("utf-8")))
    read_and_check(read_reviews_jsonl, file, "r.jsonl", "reviews", not_utf8)
