"""Validation rules: each rule flags what it names, GX and polars agree, reasons name file and line."""

import json
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.ingest.landing import read_orders_csv, read_reviews_jsonl
from shopinsight_pipeline.schemas import ORDER_FIELDS, VALIDATED_ORDERS_SCHEMA, conform
from shopinsight_pipeline.validate import rules
from shopinsight_pipeline.validate.expectations import rows_to_check, run_suite
from shopinsight_pipeline_tests.conftest import GOOD_ORDER as GOOD
from shopinsight_pipeline_tests.conftest import GOOD_REVIEW as REVIEW

DAY = date(2026, 8, 3)
SETTINGS = rules.RuleSettings()


def orders_csv(*rows: dict, tail: str = "") -> bytes:
    lines = [",".join(ORDER_FIELDS)] + [",".join(f'"{v}"' if "," in v else v for v in r.values()) for r in rows]
    return ("\n".join(lines) + tail + "\n").encode()


def with_(**changes: str) -> dict:
    return {**GOOD, **changes}


def flagged(raw: pl.DataFrame, earlier: list[str] | None = None) -> list[list[str]]:
    prepared = rules.prepare_orders(raw, pl.Series(earlier or [], dtype=pl.String), SETTINGS)
    flags = rules.violations(prepared, rules.order_suite(DAY, SETTINGS))
    return [[rule for rule, bad in row.items() if bad] for row in flags.iter_rows(named=True)]


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        (with_(order_id=""), "missing_order_id"),
        (with_(customer_id="  "), "missing_customer_id"),
        (with_(quantity="abc"), "quantity_not_an_integer"),
        (with_(quantity="-2"), "quantity_out_of_range"),
        (with_(quantity="5000"), "quantity_out_of_range"),
        (with_(unit_price="12,50"), "unit_price_not_a_number"),
        (with_(unit_price="0"), "unit_price_out_of_range"),
        (with_(currency="USD"), "unknown_currency"),
        (with_(status="lost"), "unknown_status"),
        (with_(order_ts="2026-08-03 10:00:00"), "bad_timestamp"),
        (with_(order_ts="2026-08-01T10:00:00+08:00"), "timestamp_outside_partition_day"),
        (with_(order_ts="2026-08-03T25:61:00+08:00"), "unparseable_timestamp"),
        (with_(order_ts="2026-08-03T02:00:00Z"), None),
        # 23:30 UTC on the 2nd is 07:30 on the 3rd in Shanghai: inside the business day
        (with_(order_ts="2026-08-02T23:30:00+00:00"), None),
        (GOOD, None),
        # Issue 11: values that passed a rule but not the cast, and control characters in ids.
        (with_(quantity="99999999999999999999"), "quantity_out_of_range"),  # overflows int64
        (with_(quantity="２"), "quantity_not_an_integer"),  # a full-width digit
        (with_(unit_price="１0.50"), "unit_price_not_a_number"),
        (with_(unit_price="9" * 400), "unit_price_out_of_range"),  # past any float: inf
        (with_(order_id="O\x001"), "control_character_in_order_id"),  # NUL
        (with_(customer_id="C\x1b[31m1"), "control_character_in_customer_id"),  # a terminal escape
        (with_(product_id="P1\x7f"), "control_character_in_product_id"),
        (with_(customer_id="C 1"), "space_in_customer_id"),  # a malformed key, never a customer
        (with_(customer_id="  C1  "), None),  # the ends are trimmed: a well-formed id
        (with_(product_id="P\u30001"), "space_in_product_id"),  # an ideographic space
    ],
)
def test_each_rule_flags_what_it_names(row, rule):
    raw = read_orders_csv(orders_csv(row), "o.csv").frame
    assert flagged(raw) == [[rule] if rule else []]


def test_extra_field_and_truncated_line_break_the_field_count():
    raw = read_orders_csv(orders_csv(GOOD, tail=",EXTRA\nO2,C1,P1"), "o.csv").frame
    found = flagged(raw)
    assert found[0] == ["wrong_field_count"]
    assert "wrong_field_count" in found[1] and "missing_status" in found[1]


def test_first_occurrence_in_file_wins_and_earlier_days_always_win():
    raw = read_orders_csv(orders_csv(GOOD, GOOD, with_(order_id="O9")), "o.csv").frame
    assert flagged(raw, earlier=["O9"]) == [[], ["duplicate_order_id"], ["order_id_seen_on_earlier_day"]]


def test_split_keeps_every_row_and_explains_rejects():
    raw = read_orders_csv(orders_csv(GOOD, with_(order_id="O2", quantity="abc"), with_(order_id="O3")), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.order_suite(DAY, SETTINGS), "order_id")
    assert outcome.accepted.height + outcome.rejected.height == raw.height
    assert outcome.rejected.get_column("rejected_rules").to_list() == [["quantity_not_an_integer"]]
    assert outcome.rejected.item(0, "reason") == "o.csv line 3: quantity_not_an_integer (quantity='abc')"
    assert outcome.rejected.item(0, "quantity") == "abc"  # the bronze value, untouched
    assert outcome.rejects_by_rule == {"quantity_not_an_integer": 1}
    validated = rules.validated_orders_frame(outcome.accepted)
    assert validated.get_column("order_id").to_list() == ["O1", "O3"]
    assert validated.get_column("line_total").to_list() == [21.0, 21.0]
    assert validated.get_column("order_date").to_list() == [DAY, DAY]


def test_review_rules_catch_text_rating_and_parse_faults():
    lines = [
        '{"review_id": "R1", "order_id": "O1", "product_id": "P1", "rating": 5, "review_text": "好", '
        '"review_ts": "2026-08-03T09:00:00+08:00"}',
        '{"review_id": "R2", "order_id": "O1", "product_id": "P1", "rating": 0, "review_text": " \\t", '
        '"review_ts": "2026-08-03T09:00:00+08:00"}',
        '{"review_id": "R3", "order_id": "O1", "product_id": "P1", "rating": 4, "review_text": "好", '
        '"review_ts": "2026-08-03T09:00:00+08:00", "coupon": "X"}',
        '{"review_id": "R4", "order',
    ]
    raw = read_reviews_jsonl("\n".join(lines).encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    flags = rules.violations(prepared, rules.review_suite(DAY, SETTINGS))
    found = [sorted(rule for rule, bad in row.items() if bad) for row in flags.iter_rows(named=True)]
    assert found[0] == []
    assert found[1] == ["empty_review_text", "rating_out_of_range"]
    assert found[2] == ["unknown_field"]
    assert "unparseable_line" in found[3]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"rating": 99999999999999999999}, "rating_out_of_range"),
        ({"rating": "99999999999999999999"}, "rating_out_of_range"),
        ({"rating": "５"}, "rating_not_an_integer"),
        ({"review_id": "R\x001"}, "control_character_in_review_id"),
        ({"order_id": "O\t1"}, "control_character_in_order_id"),  # a tab inside (ends are trimmed)
        ({"review_text": {"zh": "好"}}, "wrong_json_type"),  # an object is not review text
        ({"review_text": 5}, "wrong_json_type"),  # nor is a number
        ({"rating": 4.5}, "wrong_json_type"),
        ({"rating": True}, "wrong_json_type"),
        ({"rating": "4"}, None),  # integer text is a rating
        ({}, None),
    ],
)
def test_review_values_that_would_not_cast_and_control_characters_are_quarantined(changes, rule):
    raw = read_reviews_jsonl(json.dumps({**REVIEW, **changes}, ensure_ascii=False).encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    flags = rules.violations(prepared, rules.review_suite(DAY, SETTINGS))
    broken = [name for name, bad in flags.row(0, named=True).items() if bad]
    assert (rule in broken) if rule else broken == []


def test_a_key_given_twice_is_quarantined_as_ambiguous_with_the_key_named():
    line = (
        '{"review_id": "R1", "order_id": "O1", "product_id": "P1", "rating": 5, "rating": 1, '
        '"review_text": "好", "review_ts": "2026-08-03T09:00:00+08:00"}'
    )
    raw = read_reviews_jsonl(line.encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.review_suite(DAY, SETTINGS), "review_id")
    assert outcome.accepted.height == 0
    assert outcome.rejected.get_column("rejected_rules").to_list() == [["ambiguous_repeated_key"]]
    assert outcome.rejected.item(0, "reason") == "r.jsonl line 1: ambiguous_repeated_key (repeated_keys='rating')"


def test_wrong_json_types_are_named_in_the_reason():
    line = json.dumps({**REVIEW, "review_text": {"zh": "好"}, "rating": 4.5}, ensure_ascii=False)
    raw = read_reviews_jsonl(line.encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.review_suite(DAY, SETTINGS), "review_id")
    reason = outcome.rejected.item(0, "reason")
    assert "rating is a number, expected an integer or a string" in reason
    assert "review_text is an object, expected a string" in reason


def test_validated_tables_hold_no_null_where_rules_passed_strange_numbers():
    rows = [GOOD, with_(order_id="O2", quantity="99999999999999999999"), with_(order_id="O3", quantity="２")]
    raw = read_orders_csv(orders_csv(*rows), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.order_suite(DAY, SETTINGS), "order_id")
    validated = conform(rules.validated_orders_frame(outcome.accepted), VALIDATED_ORDERS_SCHEMA)
    assert validated.get_column("order_id").to_list() == ["O1"]
    assert rules.required_nulls(validated) == {}
    assert rules.required_nulls(validated.with_columns(pl.lit(None, pl.Int32).alias("quantity"))) == {"quantity": 1}
    assert outcome.rejected.get_column("reason").to_list() == [
        "o.csv line 3: quantity_out_of_range (quantity='99999999999999999999')",
        "o.csv line 4: quantity_not_an_integer (quantity='２')",
    ]


def test_great_expectations_flags_the_same_rows_as_the_polars_translation():
    rows = [
        GOOD,
        with_(quantity="99999999999999999999"),
        with_(quantity="２"),
        with_(order_id="O\x007"),
        with_(order_id=""),
        with_(quantity="abc"),
        with_(quantity="-3"),
        with_(unit_price="12,50"),
        with_(currency="USD"),
        with_(order_ts="2026-08-01T10:00:00+08:00"),
        GOOD,
        with_(status="lost"),
        with_(order_ts="2026-02-30T10:00:00+08:00"),
    ]
    raw = read_orders_csv(orders_csv(*rows, tail=",EXTRA"), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series(["O1"]), SETTINGS)
    suite = rules.order_suite(DAY, SETTINGS)
    flags = rules.violations(prepared, suite).with_row_index()
    outcomes = run_suite(prepared, suite)
    assert sorted(o.rule for o in outcomes) == sorted(rules.rule_names(suite))
    for outcome in outcomes:
        ours = flags.filter(pl.col(outcome.rule)).get_column("index").to_list()
        assert sorted(outcome.unexpected_rows) == ours, outcome.rule
    assert sum(o.unexpected_count for o in outcomes) >= len(rows) - 1  # the suite did see the faults


def test_trimming_makes_blank_values_missing_and_leaves_the_bronze_frame_alone():
    raw = read_orders_csv(orders_csv(GOOD, with_(order_id=" O2 "), with_(order_id="   ")), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), SETTINGS)
    assert prepared.get_column("order_id").to_list() == ["O1", "O2", None]
    assert raw.get_column("order_id").to_list() == ["O1", " O2 ", "   "]


def test_the_gx_recheck_samples_big_partitions_and_keeps_small_ones_whole():
    frame = pl.DataFrame({"order_id": [f"O{i}" for i in range(50)]})
    assert rows_to_check(frame, 0).equals(frame)  # 0: no limit
    assert rows_to_check(frame, 50).equals(frame)
    sample = rows_to_check(frame, 10)
    assert sample.height == 10
    assert sample.get_column("order_id").n_unique() == 10
    assert set(sample.get_column("order_id")) <= set(frame.get_column("order_id"))
    assert rows_to_check(frame, 10).equals(sample)  # seeded: the same rows every run


def test_whitespace_and_quoted_commas_survive_the_fast_line_split():
    short_line = b"O7,C1,P1,books,1,2.00,CNY,2026-08-03T10:00:00+08:00\n"
    raw = read_orders_csv(orders_csv(with_(unit_price="12,50"), GOOD) + b"\n" + b" " * 30 + b"\n" + short_line, "o.csv")
    assert raw.blank_lines == 2  # the empty line and the whitespace-only one
    assert raw.frame.get_column("unit_price").to_list() == ["12,50", "10.50", "2.00"]
    assert raw.frame.get_column("field_count").to_list() == [9, 9, 8]
    assert raw.frame.get_column("line_number").to_list() == [2, 3, 6]


def test_a_review_of_an_order_never_validated_is_quarantined_as_unknown_order():
    lines = [json.dumps({**REVIEW, "review_id": f"R{n}", "order_id": order}) for n, order in enumerate(["O1", "O404"])]
    raw = read_reviews_jsonl("\n".join(lines).encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS, known_ids=pl.Series(["O1"]))
    outcome = rules.split(prepared, raw, rules.review_suite(DAY, SETTINGS), "review_id")
    assert outcome.accepted.get_column("review_id").to_list() == ["R0"]
    assert outcome.rejected.item(0, "reason") == "r.jsonl line 2: unknown_order (order_id='O404')"
