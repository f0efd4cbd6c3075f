"""Validation rules: each rule flags what it names, GX and polars agree, reasons name file and line."""

import json
import subprocess
import sys
import unicodedata
from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.ingest.landing import read_orders_csv, read_reviews_jsonl
from shopinsight_pipeline.schemas import (
    ORDER_FIELDS,
    QUARANTINED_ORDERS_SCHEMA,
    VALIDATED_ORDERS_SCHEMA,
    VALIDATED_REVIEWS_SCHEMA,
    conform,
)
from shopinsight_pipeline.validate import rules, split
from shopinsight_pipeline.validate.expectations import ExpectationOutcome, rows_to_check, run_suite
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
        (with_(unit_price="9" * 400), "too_long_unit_price,unit_price_out_of_range"),  # past any float: inf
        (with_(order_id="O\x001"), "control_character_in_order_id"),  # NUL
        (with_(customer_id="C\x1b[31m1"), "control_character_in_customer_id"),  # a terminal escape
        (with_(product_id="P1\x7f"), "control_character_in_product_id"),
        (with_(customer_id="C 1"), "space_in_customer_id"),  # a malformed key, never a customer
        (with_(customer_id="  C1  "), None),  # the ends are trimmed: a well-formed id
        (with_(product_id="P\u30001"), "space_in_product_id"),  # an ideographic space
        # Issue 25: C1 controls, every kind of space, invisible characters, values past their cap.
        (with_(order_id="O\x851"), "control_character_in_order_id"),  # NEL, a C1 control
        (with_(customer_id="C\x9b31m1"), "control_character_in_customer_id"),  # CSI, the C1 escape
        (with_(customer_id="C\u20031"), "space_in_customer_id"),  # an em space
        (with_(product_id="P\u202f1"), "space_in_product_id"),  # a narrow no-break space
        (with_(order_id="O\u200d1"), "invisible_character_in_order_id"),  # a zero-width joiner
        (with_(customer_id="C\u202e1"), "invisible_character_in_customer_id"),  # right-to-left override
        (with_(product_id="P\u00ad1"), "invisible_character_in_product_id"),  # a soft hyphen
        (with_(order_id="订单\u31641"), "invisible_character_in_order_id"),  # a Hangul filler
        (with_(order_id="O-订单-1"), None),  # CJK letters are letters
        (with_(customer_id="顧客_東京"), None),
        (with_(product_id="상품1"), None),  # Hangul syllables, not fillers
        (with_(order_id="O" * 64), None),
        (with_(order_id="O" * 65), "too_long_order_id"),
        (with_(category="x" * 257), "too_long_category"),
        (with_(category="图" * 256), None),  # characters are counted, not UTF-8 bytes (768 here)
        (with_(status="delivered" * 30), "too_long_status,unknown_status"),
        (with_(quantity="0" * 300 + "1"), "too_long_quantity"),  # parses as 1: only the cap catches it
        (with_(order_ts="2026-08-03T10:00:00." + "0" * 300 + "+08:00"), "too_long_order_ts"),
    ],
)
def test_each_rule_flags_what_it_names(row, rule):
    raw = read_orders_csv(orders_csv(row), "o.csv").frame
    assert [sorted(found) for found in flagged(raw)] == [rule.split(",") if rule else []]


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


def engines_agree(prepared: pl.DataFrame, suite) -> list[ExpectationOutcome]:
    """Assert that great-expectations and the polars translation flag the same rows for every rule
    of `suite`, and return GX's outcomes for the caller's own counts."""
    flags = rules.violations(prepared, suite).with_row_index()
    outcomes = run_suite(prepared, suite)
    assert sorted(o.rule for o in outcomes) == sorted(rules.rule_names(suite))
    for outcome in outcomes:
        ours = flags.filter(pl.col(outcome.rule)).get_column("index").to_list()
        assert sorted(outcome.unexpected_rows) == ours, outcome.rule
    return outcomes


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
        with_(order_id="O1\u200b"),  # issue 25: invisible, C1 and Zs characters, values past their cap
        with_(customer_id="C\x851"),
        with_(product_id="P\u20031"),
        with_(category="x" * 257),
        with_(quantity="0" * 300 + "1"),
    ]
    raw = read_orders_csv(orders_csv(*rows, tail=",EXTRA"), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series(["O1"]), SETTINGS)
    outcomes = engines_agree(prepared, rules.order_suite(DAY, SETTINGS))
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


# Issue 25: ids that differ from a validated one by a character nobody can see.
CATEGORY = {
    cp: unicodedata.category(chr(cp)) for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) != "Cn"
}
FORMAT_CHARACTERS = [cp for cp, category in CATEGORY.items() if category == "Cf"]
# Not Cf, yet they show nothing: combining grapheme joiner, Hangul fillers, variation selectors and
# their supplement, the line and paragraph separators.
INVISIBLE_FRIENDS = [
    0x034F,
    0x115F,
    0x1160,
    0x3164,
    0xFFA0,
    *range(0xFE00, 0xFE10),
    *range(0xE0100, 0xE01F0),
    0x2028,
    0x2029,
]
# Default-ignorable, and rejected with them: Khmer inherent vowels, Mongolian free variation
# selectors; and the Braille blank, a favourite for names that look empty.
ALSO_INVISIBLE = [0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800]
SPACE_SEPARATORS = [cp for cp, category in CATEGORY.items() if category == "Zs"]
CONTROLS = [cp for cp, category in CATEGORY.items() if category == "Cc"]


def order_rows_flagged(column: str, values: list[str]) -> list[list[str]]:
    """The rules each order row breaks, one row per value of `column` (order ids kept distinct)."""
    rows = [with_(**{"order_id": f"O{n}", column: value}) for n, value in enumerate(values)]
    return flagged(read_orders_csv(orders_csv(*rows), "o.csv").frame)


def review_rows_flagged(column: str, values: list[str]) -> list[list[str]]:
    """The same for reviews; JSON escapes every character, so newlines and 0x1f travel too."""
    records = [{**REVIEW, "review_id": f"R{n}", column: value} for n, value in enumerate(values)]
    raw = read_reviews_jsonl("\n".join(json.dumps(r) for r in records).encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    flags = rules.violations(prepared, rules.review_suite(DAY, SETTINGS))
    return [[rule for rule, bad in row.items() if bad] for row in flags.iter_rows(named=True)]


def wrongly_flagged(code_points: list[int], found: list[list[str]], rule: str) -> dict[str, list[str]]:
    return {f"U+{cp:04X}": rules for cp, rules in zip(code_points, found, strict=True) if rules != [rule]}


@pytest.mark.parametrize(
    ("order_id", "shown"),
    [
        ("O_DUP\u200b", r"O_DUP\u200b"),  # a zero-width space after
        ("\u200bO_DUP", r"\u200bO_DUP"),  # and before
        ("O_\u200fDUP", r"O_\u200fDUP"),  # a right-to-left mark
        ("O_\u2060DUP", r"O_\u2060DUP"),  # a word joiner
        ("O_\ufeffDUP", r"O_\ufeffDUP"),  # a byte order mark
    ],
)
def test_an_id_with_an_invisible_character_is_quarantined_as_it_came(order_id, shown):
    raw = read_orders_csv(orders_csv(with_(order_id="O_DUP"), with_(order_id=order_id)), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.order_suite(DAY, SETTINGS), "order_id")
    assert outcome.accepted.get_column("order_id").to_list() == ["O_DUP"]
    assert outcome.rejected.get_column("rejected_rules").to_list() == [["invisible_character_in_order_id"]]
    assert outcome.rejected.get_column("order_id").to_list() == [order_id]  # nothing removed
    # the reason writes the character as an escape: quoted as it is, it would read 'O_DUP'
    assert outcome.rejected.item(0, "reason") == f"o.csv line 3: invisible_character_in_order_id (order_id='{shown}')"


def test_every_format_character_inside_an_id_is_invisible_character():
    """Derived from unicodedata, not from the rule: every Cf code point, in each id column."""
    assert len(FORMAT_CHARACTERS) >= 161  # Unicode 14 has 161; later versions add some
    values = [f"X{chr(cp)}1" for cp in FORMAT_CHARACTERS]
    for column in ("order_id", "customer_id", "product_id"):
        found = order_rows_flagged(column, values)
        assert wrongly_flagged(FORMAT_CHARACTERS, found, f"invisible_character_in_{column}") == {}, column
    found = review_rows_flagged("review_id", values)
    assert wrongly_flagged(FORMAT_CHARACTERS, found, "invisible_character_in_review_id") == {}


def test_invisible_friends_of_the_format_characters_are_rejected_too():
    friends = INVISIBLE_FRIENDS + ALSO_INVISIBLE
    found = order_rows_flagged("product_id", [f"P{chr(cp)}1" for cp in friends])
    assert wrongly_flagged(friends, found, "invisible_character_in_product_id") == {}


def test_every_space_separator_and_control_character_inside_an_id_is_named():
    assert len(SPACE_SEPARATORS) == 17 and len(CONTROLS) == 65  # C0, DEL and C1
    found = review_rows_flagged("order_id", [f"O{chr(cp)}1" for cp in SPACE_SEPARATORS])
    assert wrongly_flagged(SPACE_SEPARATORS, found, "space_in_order_id") == {}
    found = review_rows_flagged("product_id", [f"P{chr(cp)}1" for cp in CONTROLS])
    assert wrongly_flagged(CONTROLS, found, "control_character_in_product_id") == {}


def test_letters_marks_and_symbols_of_every_script_still_make_an_id():
    """The other side: a sample of every assigned character that is no control, separator or
    format character, and not one of the invisible friends, passes the id rules."""
    rejected = set(FORMAT_CHARACTERS + INVISIBLE_FRIENDS + ALSO_INVISIBLE + SPACE_SEPARATORS + CONTROLS)
    visible = [cp for cp, category in CATEGORY.items() if category[0] in "LMNPS" and cp not in rejected]
    sample = visible[:: max(1, len(visible) // 3000)] + [ord(c) for c in "订单東京고객ｶﾅ٣é"]
    found = order_rows_flagged("customer_id", [f"C{chr(cp)}1" for cp in sample])
    assert {f"U+{cp:04X}": rules for cp, rules in zip(sample, found, strict=True) if rules} == {}


@pytest.mark.parametrize(
    ("column", "cap"), [("review_id", 64), ("order_id", 64), ("rating", 256), ("review_text", 10_000)]
)
def test_review_fields_over_their_default_cap_are_too_long(column, cap):
    values = ["7" * cap, "7" * (cap + 1)] if column == "rating" else ["好" * cap, "好" * (cap + 1)]
    found = review_rows_flagged(column, values)
    assert found[0] == ([] if column != "rating" else ["rating_out_of_range"])
    assert f"too_long_{column}" in found[1]


def test_the_length_caps_are_settings():
    settings = rules.RuleSettings(max_id_chars=3, max_field_chars=25, max_review_text_chars=2)
    rows = [with_(order_id="O12"), with_(order_id="O123"), with_(order_id="O13", category="x" * 26)]
    raw = read_orders_csv(orders_csv(*rows), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), settings)
    flags = rules.violations(prepared, rules.order_suite(DAY, settings))
    assert [[rule for rule, bad in row.items() if bad] for row in flags.iter_rows(named=True)] == [
        [],
        ["too_long_order_id"],
        ["too_long_category"],
    ]
    assert "too_long_review_text" in rules.rule_names(rules.review_suite(DAY, settings))
    with pytest.raises(ValueError, match="max_id_chars must be at least 1"):
        rules.RuleSettings(max_id_chars=0)


def test_a_50_mb_category_is_quarantined_and_its_reason_stays_short():
    huge = "x" * (50 * 1024 * 1024)
    raw = read_orders_csv(orders_csv(GOOD, with_(order_id="O2", category=huge)), "o.csv").frame
    prepared = rules.prepare_orders(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcome = rules.split(prepared, raw, rules.order_suite(DAY, SETTINGS), "order_id")
    assert outcome.accepted.get_column("order_id").to_list() == ["O1"]
    assert outcome.rejected.get_column("rejected_rules").to_list() == [["too_long_category"]]
    assert outcome.rejected.item(0, "category") == huge  # the quarantined row keeps it whole
    shown = "x" * 100
    assert outcome.rejected.item(0, "reason") == (
        f"o.csv line 3: too_long_category (category='{shown}…' (52428800 characters))"
    )


def test_great_expectations_and_polars_agree_on_every_character_and_cap():
    """Both engines read the character classes and the caps alike, code point by code point."""
    special = FORMAT_CHARACTERS + INVISIBLE_FRIENDS + ALSO_INVISIBLE + SPACE_SEPARATORS + CONTROLS
    ids = [f"R{chr(cp)}1" for cp in special] + ["R-订单", "상품1", "R" * 64, "R" * 65]
    texts = ["好" * 10_000, "好" * 10_001, "x" * 257]
    records = [{**REVIEW, "review_id": f"R{n}", "product_id": value} for n, value in enumerate(ids)]
    records += [{**REVIEW, "review_id": f"T{n}", "review_text": text} for n, text in enumerate(texts)]
    records.append({**REVIEW, "review_id": "T9", "rating": "0" * 300 + "5"})
    raw = read_reviews_jsonl("\n".join(json.dumps(r) for r in records).encode(), "r.jsonl").frame
    prepared = rules.prepare_reviews(raw, pl.Series([], dtype=pl.String), SETTINGS)
    outcomes = engines_agree(prepared, rules.review_suite(DAY, SETTINGS))
    by_rule = {o.rule: o.unexpected_count for o in outcomes}
    assert by_rule["invisible_character_in_product_id"] == len(FORMAT_CHARACTERS + INVISIBLE_FRIENDS + ALSO_INVISIBLE)
    assert by_rule["space_in_product_id"] == len(SPACE_SEPARATORS)
    # a newline or a tab at the end is trimmed, inside it is a control character
    assert by_rule["control_character_in_product_id"] == len(CONTROLS)
    assert by_rule["too_long_product_id"] == 1
    assert by_rule["too_long_review_text"] == 1
    assert by_rule["too_long_rating"] == 1


# The per-day split (validate/split.py): what the validation assets write, without Dagster.
NEXT_DAY = date(2026, 8, 4)
NO_IDS = pl.Series([], dtype=pl.String)


def test_a_day_split_keeps_every_row_once_and_names_why_each_reject_was_rejected():
    rows = [
        GOOD,
        with_(order_id="O2", quantity="abc"),
        with_(order_id="O3"),
        with_(order_id="O3"),  # a duplicate in the file
        with_(order_id="O4", currency="USD", status="lost"),
        with_(order_id="O5"),  # validated on an earlier day
    ]
    raw = read_orders_csv(orders_csv(*rows), "o.csv").frame
    day = split.split_day("orders", DAY, raw, pl.Series(["O5"]), SETTINGS)
    assert day.raw_rows == raw.height == day.validated.height + day.quarantined.height
    lines = day.validated.get_column("line_number").to_list() + day.quarantined.get_column("line_number").to_list()
    assert sorted(lines) == raw.get_column("line_number").to_list()  # each row once: none lost, none twice
    assert day.validated.schema == pl.Schema(VALIDATED_ORDERS_SCHEMA)
    assert day.quarantined.schema == pl.Schema(QUARANTINED_ORDERS_SCHEMA)
    assert day.validated.get_column("order_id").to_list() == ["O1", "O3"]
    assert day.accepted.height == day.validated.height  # the prepared rows GX re-checks
    assert day.quarantined.get_column("rejected_rules").to_list() == [
        ["quantity_not_an_integer"],
        ["duplicate_order_id"],
        ["unknown_currency", "unknown_status"],
        ["order_id_seen_on_earlier_day"],
    ]
    assert day.quarantined.get_column("reason").to_list() == [
        "o.csv line 3: quantity_not_an_integer (quantity='abc')",
        "o.csv line 5: duplicate_order_id (order_id='O3')",
        "o.csv line 6: unknown_currency (currency='USD'); unknown_status (status='lost')",
        "o.csv line 7: order_id_seen_on_earlier_day (order_id='O5')",
    ]
    assert day.rejects_by_rule == {
        "quantity_not_an_integer": 1,
        "duplicate_order_id": 1,
        "unknown_currency": 1,
        "unknown_status": 1,
        "order_id_seen_on_earlier_day": 1,
    }
    assert day.reject_rate == 4 / 6
    assert day.suite.name == f"orders_{DAY.isoformat()}"


def test_a_day_split_of_reviews_checks_the_orders_they_name():
    lines = [json.dumps({**REVIEW, "review_id": f"R{n}", "order_id": order}) for n, order in enumerate(["O1", "O9"])]
    raw = read_reviews_jsonl("\n".join(lines).encode(), "r.jsonl").frame
    day = split.split_day("reviews", DAY, raw, NO_IDS, SETTINGS, known_ids=pl.Series(["O1"]))
    assert day.validated.schema == pl.Schema(VALIDATED_REVIEWS_SCHEMA)
    assert day.validated.get_column("review_id").to_list() == ["R0"]
    assert day.quarantined.get_column("reason").to_list() == ["r.jsonl line 2: unknown_order (order_id='O9')"]
    unchecked = split.split_day("reviews", DAY, raw, NO_IDS, SETTINGS)  # no known ids: not checked
    assert unchecked.validated.height == 2


def test_a_run_checks_each_day_against_the_days_before_it_and_replaces_its_own_days():
    first = read_orders_csv(orders_csv(GOOD, with_(order_id="O2", quantity="abc")), "a.csv").frame
    # O1 again on the next day: validated the day before, in this same run
    second = read_orders_csv(orders_csv(with_(order_id="O1", order_ts="2026-08-04T10:00:00+08:00")), "b.csv").frame
    earlier = {
        "2026-08-02": pl.LazyFrame({"order_id": ["O7"]}),  # an earlier run's day before this run
        DAY.isoformat(): pl.LazyFrame({"order_id": ["O2"]}),  # an earlier run's version of a day of this run
    }
    raw_rows = {DAY.isoformat(): first, NEXT_DAY.isoformat(): second}
    logged: list[str] = []
    run = split.split_run("orders", [DAY, NEXT_DAY], raw_rows, earlier, SETTINGS, log=logged.append)
    assert run.dates() == [DAY, NEXT_DAY]
    assert run.earlier_days_checked == 1  # 2026-08-02 only: this run replaces 2026-08-03
    assert run.validated()[DAY.isoformat()].get_column("order_id").to_list() == ["O1"]
    assert run.quarantined()[NEXT_DAY.isoformat()].get_column("rejected_rules").to_list() == [
        ["order_id_seen_on_earlier_day"]
    ]
    assert run.rejects_by_rule == {"quantity_not_an_integer": 1, "order_id_seen_on_earlier_day": 1}
    assert run.reject_rate == 1.0  # the worst day's
    assert run.first_reasons(1) == ["a.csv line 3: quantity_not_an_integer (quantity='abc')"]
    assert "| order_id_seen_on_earlier_day | 1 " in run.rejects_table()
    assert logged == [
        "2026-08-03: 2 raw -> 1 validated, 1 quarantined (50.0%)",
        "2026-08-04: 1 raw -> 0 validated, 1 quarantined (100.0%)",
    ]


def test_a_run_of_reviews_names_only_orders_within_the_look_back():
    record = json.dumps({**REVIEW, "review_ts": "2026-08-04T09:00:00+08:00"})
    raw = read_reviews_jsonl(record.encode(), "r.jsonl").frame
    orders = {DAY.isoformat(): pl.LazyFrame({"order_id": ["O1"]})}  # the order was validated a day earlier
    for lookback, rules_broken in ((1, []), (0, [["unknown_order"]])):
        run = split.split_run(
            "reviews", [NEXT_DAY], {NEXT_DAY.isoformat(): raw}, {}, SETTINGS, orders, order_lookback_days=lookback
        )
        assert run.quarantined()[NEXT_DAY.isoformat()].get_column("rejected_rules").to_list() == rules_broken


def test_a_run_without_rejects_says_so():
    raw = read_orders_csv(orders_csv(GOOD), "o.csv").frame
    run = split.split_run("orders", [DAY], {DAY.isoformat(): raw}, {}, SETTINGS)
    assert (run.rejects_by_rule, run.rejects_table(), run.first_reasons(10), run.reject_rate) == (
        {},
        "no rejected rows",
        [],
        0.0,
    )


def test_the_split_imports_no_dagster():
    """validate/split.py is the pure core of validation: benchmarks and tests use it without Dagster."""
    program = "import sys, shopinsight_pipeline.validate.split; print('dagster' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert completed.stdout.strip().splitlines()[-1] == "False"
