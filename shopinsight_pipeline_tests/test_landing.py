"""Bronze readers: every line kept, with file and line, and clear errors for unreadable files."""

import json

import polars as pl
import pytest

from shopinsight_pipeline.ingest.landing import LandingFileError, read_orders_csv, read_reviews_jsonl
from shopinsight_pipeline.schemas import ORDER_FIELDS, RAW_ORDERS_SCHEMA, RAW_REVIEWS_SCHEMA

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
    assert read.warnings == ["r.jsonl is not utf-8; decoded as gb18030"]


def test_undecodable_bytes_fail_naming_the_file():
    with pytest.raises(LandingFileError, match=r"r\.jsonl: bytes are not valid in any of \['utf-8'\]"):
        read_reviews_jsonl(b"\xff\xfe\xfa", "r.jsonl", encodings=("utf-8",))


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
