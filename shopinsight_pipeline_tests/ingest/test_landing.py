"""Bronze readers: every line kept, with file and line, and clear errors for unreadable files."""

import io
import json
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.ingest.landing import LandingFileError, read_orders_csv, read_reviews_jsonl
from shopinsight_pipeline.schemas import ORDER_FIELDS, RAW_ORDERS_SCHEMA, RAW_REVIEWS_SCHEMA
from shopinsight_pipeline.validate import rules

HEADER = ",".join(ORDER_FIELDS)
GOOD = "O1,C1,P1,books,2,10.50,CNY,2026-08-01T10:00:00+08:00,delivered"


def orders(*lines: str, end: str = "\n") -> bytes:
    return ("\n".join([HEADER, *lines]) + end).encode("utf-8")


def test_orders_rows_keep_text_values_and_line_numbers():
    read = read_orders_csv(orders(GOOD, GOOD.replace("O1", "O2")), "o.csv")
    assert read.frame.schema == pl.Schema(RAW_ORDERS_SCHEMA)
    assert read.frame.get_column("line_number").to_list() == [2, 3]
    assert read.frame.get_column("order_id").to_list() == ["O1", "O2"]
    assert read.frame.get_column("unit_price").to_list() == ["10.50", "10.50"]
    assert read.frame.get_column("source_file").unique().to_list() == ["o.csv"]


def test_quoted_decimal_comma_stays_in_its_field():
    line = 'O1,C1,P1,books,2,"12,50",CNY,2026-08-01T10:00:00+08:00,delivered'
    frame = read_orders_csv(orders(GOOD, line), "o.csv").frame
    row = frame.row(1, named=True)
    assert row["unit_price"] == "12,50"
    assert row["field_count"] == 9
    assert row["currency"] == "CNY"


def test_extra_fields_are_kept_verbatim_and_counted():
    frame = read_orders_csv(orders(GOOD + ",PROMO,X"), "o.csv").frame
    assert frame.item(0, "field_count") == 11
    assert frame.item(0, "extra_fields") == "PROMO,X"
    assert frame.item(0, "status") == "delivered"


def test_truncated_last_line_keeps_what_arrived():
    frame = read_orders_csv(orders(GOOD, "O2,C1,P1,bo", end=""), "o.csv").frame
    last = frame.row(1, named=True)
    assert last["line_number"] == 3
    assert last["category"] == "bo"
    assert last["field_count"] == 4
    assert last["quantity"] is None


def test_blank_lines_are_skipped_but_counted_and_line_numbers_stay_true():
    read = read_orders_csv(orders(GOOD, "", "  ", GOOD), "o.csv")
    assert read.blank_lines == 2
    assert read.frame.get_column("line_number").to_list() == [2, 5]


def test_header_missing_required_columns_fails_naming_them():
    with pytest.raises(LandingFileError, match=r"o\.csv line 1: header lacks required columns \['order_id', "):
        read_orders_csv(b"id,customer\n1,2\n", "o.csv")
    header = HEADER.replace(",status", "")
    with pytest.raises(LandingFileError, match=r"lacks required columns \['status'\]; found \[.*'order_ts'\]"):
        read_orders_csv(f"{header}\n".encode(), "o.csv")
    with pytest.raises(LandingFileError, match=r"repeats columns \['currency'\]"):
        read_orders_csv(f"{HEADER},currency\n".encode(), "o.csv")


def test_columns_in_another_order_are_matched_by_name():
    """Issue 11: an export with the right columns in another order."""
    reordered = list(reversed(ORDER_FIELDS))
    line = ",".join(dict(zip(ORDER_FIELDS, GOOD.split(","), strict=True))[name] for name in reordered)
    read = read_orders_csv((",".join(reordered) + "\n" + line + "\n").encode(), "o.csv")
    expected = read_orders_csv(orders(GOOD), "o.csv").frame
    assert read.frame.equals(expected)
    assert read.warnings == [f"o.csv: columns in another order than {list(ORDER_FIELDS)}, matched by name"]


def test_unknown_columns_are_kept_in_extra_fields_and_reported():
    header = f"coupon,{HEADER},channel"
    read = read_orders_csv(f"{header}\nWELCOME,{GOOD},app\nNONE,{GOOD},web,SURPLUS\n".encode(), "o.csv")
    frame = read.frame
    assert frame.get_column("order_id").to_list() == ["O1", "O1"]
    assert frame.get_column("status").to_list() == ["delivered", "delivered"]
    assert frame.get_column("field_count").to_list() == [9, 10]  # the second line has one field too many
    assert json.loads(frame.item(0, "extra_fields")) == {"coupon": "WELCOME", "channel": "app"}
    assert frame.item(1, "extra_fields") == '{"coupon":"NONE","channel":"web"} | SURPLUS'
    assert "unknown columns ['coupon', 'channel'] kept in extra_fields, not validated" in read.warnings[-1]


def test_empty_file_gives_empty_frame_and_warning():
    read = read_orders_csv(b"", "o.csv")
    assert read.frame.height == 0
    assert read.warnings == ["o.csv is empty (no header, no rows)"]


def test_gbk_file_is_decoded_and_reported():
    text = json.dumps({"review_id": "R1", "review_text": "质量很好，物流很快"}, ensure_ascii=False) + "\n"
    read = read_reviews_jsonl(text.encode("gbk"), "r.jsonl")
    assert read.encoding == "gb18030"
    assert read.frame.item(0, "review_text") == "质量很好，物流很快"
    assert read.warnings == ["r.jsonl is not utf-8 on any line; decoded as a whole as gb18030"]


def test_undecodable_bytes_cost_their_line_not_the_file():
    read = read_reviews_jsonl(b"\xff\xfe\xfa", "r.jsonl", encodings=("utf-8",))
    assert read.frame.item(0, "decode_error") == "invalid UTF-8 byte 0xff at byte offset 0 of r.jsonl"


def test_review_lines_parse_one_by_one():
    lines = [
        json.dumps({"review_id": "R1", "rating": 5, "review_text": "好"}),
        '{"review_id": "R2", "rat',
        "[1, 2]",
        json.dumps({"review_id": "R3", "rating": 7, "coupon": "X"}),
    ]
    frame = read_reviews_jsonl("\n".join(lines).encode(), "r.jsonl").frame
    assert frame.schema == pl.Schema(RAW_REVIEWS_SCHEMA)
    assert frame.get_column("line_number").to_list() == [1, 2, 3, 4]
    assert frame.get_column("rating").to_list() == ["5", None, None, "7"]
    errors = frame.get_column("parse_error").to_list()
    assert errors[0] is None and errors[3] is None
    assert errors[1].startswith("invalid JSON")
    assert errors[2] == "expected a JSON object, got list"
    assert json.loads(frame.item(3, "extra_fields")) == {"coupon": "X"}


def test_empty_reviews_file_is_no_reviews():
    read = read_reviews_jsonl(b"", "r.jsonl")
    assert read.frame.height == 0
    assert read.warnings == ["r.jsonl is empty (no reviews)"]


def test_a_quoted_field_with_line_breaks_is_one_record_numbered_by_its_first_line():
    """Issue 11: RFC 4180 allows line breaks (and doubled quotes) inside a quoted field."""
    spanning = 'O2,C1,P1,"books\nand\n\nmore ""stuff""",2,10.50,CNY,2026-08-01T10:00:00+08:00,delivered'
    read = read_orders_csv(orders(GOOD, spanning, GOOD.replace("O1", "O3")), "o.csv")
    frame = read.frame
    assert frame.get_column("order_id").to_list() == ["O1", "O2", "O3"]
    assert frame.get_column("line_number").to_list() == [2, 3, 7]
    assert frame.item(1, "category") == 'books\nand\n\nmore "stuff"'
    assert frame.get_column("field_count").to_list() == [9, 9, 9]
    assert read.blank_lines == 0  # the empty line inside the field is part of it


def test_a_quote_left_open_by_a_cut_upload_keeps_the_lines_apart():
    frame = read_orders_csv(orders(GOOD, 'O2,C1,P1,"books', end=""), "o.csv").frame
    assert frame.get_column("line_number").to_list() == [2, 3]
    assert frame.item(1, "field_count") == 4


def test_a_bare_carriage_return_beside_a_quoted_line_break_is_quarantined_not_a_crash():
    """Found by the fuzz harness: an unquoted field holding a CR, on a record whose quoted field
    spans lines, made the csv module raise instead of giving a row."""
    data = f'{HEADER}\n\r,"x\ny",P1,books,2,10.50,CNY,2026-08-03T10:00:00+08:00,delivered\n'.encode()
    frame = read_orders_csv(data, "o.csv").frame
    assert frame.get_column("line_number").to_list() == [2]
    assert frame.item(0, "field_count") == 9


def review_line(number: int, text: str = "质量很好物流很快") -> bytes:
    record = {"review_id": f"R{number}", "order_id": "O1", "product_id": "P1", "rating": 5, "review_text": text}
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def test_two_stray_bytes_cost_their_line_and_the_other_texts_stay_byte_identical():
    """Issue 25.3: the file was decoded as GB18030 and all 20 texts were garbled, 0 quarantined."""
    lines = [review_line(n) for n in range(1, 21)]
    lines[4] = lines[4].replace("物流".encode(), b"\xc3\x28")  # line 5: an invalid two-byte sequence
    data = b"\n".join(lines) + b"\n"
    read = read_reviews_jsonl(data, "r.jsonl")
    assert read.encoding == "utf-8"
    frame = read.frame
    good = frame.filter(pl.col("decode_error").is_null())
    assert good.get_column("line_number").to_list() == [n for n in range(1, 21) if n != 5]
    assert good.get_column("review_text").to_list() == ["质量很好物流很快"] * 19
    bad = frame.filter(pl.col("decode_error").is_not_null()).row(0, named=True)
    offset = data.index(b"\xc3\x28")
    assert bad["line_number"] == 5 and bad["review_id"] == "R5"  # still parsed: the operator finds it
    assert bad["decode_error"] == f"invalid UTF-8 byte 0xc3 at byte offset {offset} of r.jsonl"
    assert "1 lines are not valid UTF-8 (lines 5)" in read.warnings[0]


def test_a_file_of_gbk_lines_among_utf8_lines_is_never_decoded_as_gbk():
    mixed = review_line(1) + b"\n" + review_line(2, "包装破损").decode().encode("gbk") + b"\n" + review_line(3)
    frame = read_reviews_jsonl(mixed, "r.jsonl").frame
    assert frame.get_column("decode_error").is_null().to_list() == [True, False, True]
    assert frame.get_column("review_text").to_list()[0::2] == ["质量很好物流很快"] * 2


def test_a_line_that_is_not_utf8_is_quarantined_as_invalid_utf8_and_its_neighbours_validate():
    data = orders(GOOD, GOOD.replace("O1", "O2").replace("books", "bXooks"), GOOD.replace("O1", "O3"))
    data = data.replace(b"bXooks", b"b\xffooks")
    raw = read_orders_csv(data, "o.csv").frame
    assert raw.get_column("category").to_list() == ["books", "b\\xffooks", "books"]  # the byte shown as an escape
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), rules.RuleSettings())
    flags = rules.violations(prepared, rules.order_suite(date(2026, 8, 1), rules.RuleSettings()))
    broken = [[rule for rule, bad in row.items() if bad] for row in flags.iter_rows(named=True)]
    assert broken == [[], ["invalid_utf8"], []]


def test_a_header_that_is_not_utf8_fails_the_file_naming_line_1():
    data = orders(GOOD).replace(b"category", b"categ\xffory", 1)
    with pytest.raises(LandingFileError, match=r"o\.csv line 1: the header is not valid UTF-8"):
        read_orders_csv(data, "o.csv")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"review_id": "R2", "review_text": "bad \\ud800"}', "a lone surrogate escape in review_text"),
        (b'{"review_id": "R2", "rating": ' + b"9" * 5000 + b"}", "Exceeds the limit"),
        (b'{"review_id": "R2", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested too deeply"),
        (b'{"review_id": "R2", "\\udc00": 1}', "lone surrogate escape in extra_fields"),
    ],
)
def test_one_bad_review_line_is_a_row_with_its_reason_and_the_day_goes_on(line, reason):
    """Issue 25.2: each of these failed raw_reviews for the whole day, naming no line."""
    frame = read_reviews_jsonl(review_line(1) + b"\n" + line + b"\n" + review_line(3), "r.jsonl").frame
    assert frame.get_column("line_number").to_list() == [1, 2, 3]
    errors = frame.get_column("parse_error").to_list()
    assert errors[0] is None and errors[2] is None
    assert reason in errors[1]
    frame.write_parquet(io.BytesIO())  # storable: no surrogate reaches Parquet


def test_a_crlf_inside_a_quoted_field_keeps_its_carriage_return():
    """Issue 25.8: the field lost its \\r."""
    spanning = 'O2,C1,P1,"line one\r\nline two",2,10.50,CNY,2026-08-01T10:00:00+08:00,delivered'
    crlf = orders(GOOD, spanning, GOOD.replace("O1", "O3"), end="\r\n").replace(b"\n", b"\r\n").replace(b"\r\r", b"\r")
    frame = read_orders_csv(crlf, "o.csv").frame
    assert frame.item(1, "category") == "line one\r\nline two"
    assert frame.get_column("status").to_list() == ["delivered"] * 3  # the line ends' CRs are not data
    lf = read_orders_csv(orders(GOOD, spanning.replace("\r\n", "\n")), "o.csv").frame
    assert lf.item(1, "category") == "line one\nline two"


def test_bad_lines_side_by_side_and_far_apart_are_each_one_row():
    lines = [review_line(n) for n in range(1, 3001)]
    for number in (1, 2, 3, 1500, 2999, 3000):  # the first lines, neighbours, and the last, past 64 KB
        lines[number - 1] += b"\xff"
    frame = read_reviews_jsonl(b"\n".join(lines), "r.jsonl").frame
    assert frame.height == 3000
    bad = frame.filter(pl.col("decode_error").is_not_null()).get_column("line_number").to_list()
    assert bad == [1, 2, 3, 1500, 2999, 3000]
    assert frame.filter(pl.col("decode_error").is_null()).get_column("review_text").unique().to_list() == [
        "质量很好物流很快"
    ]
