"""Validation rules, written once as great-expectations suites, applied row by row with polars.

The suites (GX 1.x, built in code) are the single statement of what a valid row is. Each
expectation names its rule in `meta["rule"]`. `violations()` compiles the suite into polars
expressions with GX's own semantics (null passes every check except not-null), which is what lets
us quarantine a million rows in about a second; `expectations.run_suite()` runs the same suite
through GX itself, and the tests prove that both engines flag the same rows.

Validation works on a *prepared* frame: the bronze text columns trimmed (empty -> null), plus
typed columns parsed from them and flags for duplicates, so that every rule is a plain column
expectation.

Character classes are written as explicit code points (\\uXXXX, \\UXXXXXXXX), which Rust's regex and
Python's re read alike; \\p{Cf} would leave the answer to each engine's Unicode tables (Python
3.11's are Unicode 14, polars' 15), and Python's re has no \\p{...} at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import great_expectations as gx
import polars as pl

from shopinsight_pipeline.schemas import (
    INVENTORY_FIELDS,
    ORDER_FIELDS,
    ORDER_ID_COLUMNS,
    ORDER_STATUSES,
    QUARANTINED_INVENTORY_SCHEMA,
    QUARANTINED_ORDERS_SCHEMA,
    QUARANTINED_REVIEWS_SCHEMA,
    REVIEW_FIELDS,
    REVIEW_ID_COLUMNS,
    VALIDATED_INVENTORY_SCHEMA,
    VALIDATED_ORDERS_SCHEMA,
    VALIDATED_REVIEWS_SCHEMA,
)
from shopinsight_pipeline.validate.settings import RuleSettings

X = gx.expectations
# ASCII digits only: regex engines read \\d as any Unicode digit (full-width ２ included), which a
# cast then cannot parse. A value written with other digits is rejected, never normalised.
INTEGER = r"^-?[0-9]+$"
DECIMAL = r"^[0-9]+(?:\.[0-9]+)?$"
# C0 and C1 controls (Unicode category Cc): NUL, tab, newlines, escapes, NEL, CSI.
CONTROL_CHARACTERS = r"\x00-\x1F\x7F-\x9F"
# Every space separator (category Zs) but the plain space: no-break, ogham, en to hair spaces, narrow
# no-break, medium mathematical, ideographic.
OTHER_SPACES = r"\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000"
# Characters that show nothing, so that 'O1' and 'O1<U+200B>' look alike and differ as keys: all of
# category Cf as of Unicode 15 (soft hyphen, Arabic and Syriac marks, Mongolian vowel separator,
# zero-width space and joiners, direction marks, bidi embeddings and isolates, word joiner and
# invisible operators, BOM, interlinear annotation, Egyptian and shorthand format controls,
# musical beam marks, tags), the rest of Default_Ignorable_Code_Point (combining grapheme joiner,
# Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors, variation selectors and
# their supplement, unassigned ignorables), the line and paragraph separators, and the Braille
# blank, a favourite for invisible names.
INVISIBLE_CHARACTERS = (
    r"\u00AD\u034F\u0600-\u0605\u061C\u06DD\u070F\u0890\u0891\u08E2\u115F\u1160\u17B4\u17B5\u180B-\u180F"
    r"\u200B-\u200F\u2028-\u202E\u2060-\u206F\u2800\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFFB"
    r"\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF"
)
NO_CONTROL_CHARACTERS = rf"^[^{CONTROL_CHARACTERS}]*$"  # never part of an id
NO_SPACE = rf"^[^ {OTHER_SPACES}]*$"  # a space of any kind inside an id
NO_INVISIBLE_CHARACTERS = rf"^[^{INVISIBLE_CHARACTERS}]*$"
# A reason quotes at most this many characters of a value, and writes these as escapes (\u200b).
SHOWN_CHARS = 100
UNSEEN_CHARACTERS = rf"[{CONTROL_CHARACTERS}{OTHER_SPACES}{INVISIBLE_CHARACTERS}]"
_UNSEEN = re.compile(UNSEEN_CHARACTERS)
ISO_TIMESTAMP_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)$"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%z"


def _rule(expectation, rule: str):
    expectation.meta = {"rule": rule}
    return expectation


def _unparseable_timestamp(column: str):
    """Text that is present but no instant (2026-02-30T...), flagged in prepare."""
    return _rule(
        X.ExpectColumnValuesToBeInSet(column=f"{column}_unparseable", value_set=[False]), "unparseable_timestamp"
    )


def _clean_ids(columns: tuple[str, ...]) -> list:
    """Ids hold no control character, no space and no invisible character inside (ends are trimmed
    before): an id like 'C 0001' or 'O1<U+200B>' is a malformed key, not a customer or another order,
    and must never be joined on or recommended to. Nothing is removed: the row is quarantined."""
    checks = (
        (NO_CONTROL_CHARACTERS, "control_character_in"),
        (NO_SPACE, "space_in"),
        (NO_INVISIBLE_CHARACTERS, "invisible_character_in"),
    )
    return [
        _rule(X.ExpectColumnValuesToMatchRegex(column=c, regex=regex), f"{prefix}_{c}")
        for regex, prefix in checks
        for c in columns
    ]


def length_caps(fields: tuple[str, ...], id_columns: tuple[str, ...], settings: RuleSettings) -> dict[str, int]:
    """Each landing field's cap in characters: ids, review text, and the short fields."""
    return {
        field: settings.max_id_chars
        if field in id_columns
        else settings.max_review_text_chars
        if field == "review_text"
        else settings.max_field_chars
        for field in fields
    }


def _not_too_long(fields: tuple[str, ...], id_columns: tuple[str, ...], settings: RuleSettings) -> list:
    """A value over its column's cap is quarantined as too_long_<column>, never cut to fit."""
    return [
        _rule(X.ExpectColumnValueLengthsToBeBetween(column=c, max_value=cap), f"too_long_{c}")
        for c, cap in length_caps(fields, id_columns, settings).items()
    ]


def order_suite(day: date, settings: RuleSettings) -> gx.ExpectationSuite:
    """What a valid order row of partition `day` is.

    Range rules see the numbers parsed as floats, so a value too long for an integer column
    (99999999999999999999) is out of range rather than a null that passes every rule.
    """
    expectations = [_rule(X.ExpectColumnValuesToNotBeNull(column=c), f"missing_{c}") for c in ORDER_FIELDS]
    expectations += _clean_ids(ORDER_ID_COLUMNS)
    expectations += _not_too_long(ORDER_FIELDS, ORDER_ID_COLUMNS, settings)
    expectations += [
        _rule(X.ExpectColumnValuesToBeNull(column="decode_error"), "invalid_utf8"),
        _rule(X.ExpectColumnValuesToBeBetween(column="field_count", min_value=9, max_value=9), "wrong_field_count"),
        _rule(X.ExpectColumnValuesToMatchRegex(column="quantity", regex=INTEGER), "quantity_not_an_integer"),
        _rule(
            X.ExpectColumnValuesToBeBetween(column="quantity_value", min_value=1, max_value=settings.max_quantity),
            "quantity_out_of_range",
        ),
        _rule(X.ExpectColumnValuesToMatchRegex(column="unit_price", regex=DECIMAL), "unit_price_not_a_number"),
        _rule(
            X.ExpectColumnValuesToBeBetween(
                column="unit_price_value", min_value=0.01, max_value=settings.max_unit_price
            ),
            "unit_price_out_of_range",
        ),
        _rule(
            X.ExpectColumnValuesToBeInSet(column="currency", value_set=list(settings.currencies)), "unknown_currency"
        ),
        _rule(X.ExpectColumnValuesToBeInSet(column="status", value_set=list(ORDER_STATUSES)), "unknown_status"),
        _rule(X.ExpectColumnValuesToMatchRegex(column="order_ts", regex=ISO_TIMESTAMP_WITH_OFFSET), "bad_timestamp"),
        _unparseable_timestamp("order_ts"),
        _rule(
            X.ExpectColumnValuesToBeBetween(column="local_date", min_value=day, max_value=day),
            "timestamp_outside_partition_day",
        ),
        _rule(X.ExpectColumnValuesToBeInSet(column="repeated_in_file", value_set=[False]), "duplicate_order_id"),
        _rule(
            X.ExpectColumnValuesToBeInSet(column="seen_on_earlier_day", value_set=[False]),
            "order_id_seen_on_earlier_day",
        ),
    ]
    return _suite(f"orders_{day.isoformat()}", expectations)


def review_suite(day: date, settings: RuleSettings) -> gx.ExpectationSuite:
    """What a valid review row of partition `day` is."""
    expectations = [
        _rule(X.ExpectColumnValuesToBeNull(column="decode_error"), "invalid_utf8"),
        _rule(X.ExpectColumnValuesToBeNull(column="parse_error"), "unparseable_line"),
        _rule(X.ExpectColumnValuesToBeNull(column="type_errors"), "wrong_json_type"),
        _rule(X.ExpectColumnValuesToBeNull(column="repeated_keys"), "ambiguous_repeated_key"),
        _rule(X.ExpectColumnValuesToBeNull(column="extra_fields"), "unknown_field"),
    ]
    for column in REVIEW_FIELDS:
        rule = "empty_review_text" if column == "review_text" else f"missing_{column}"
        expectations.append(_rule(X.ExpectColumnValuesToNotBeNull(column=column), rule))
    expectations += _clean_ids(REVIEW_ID_COLUMNS)
    expectations += _not_too_long(REVIEW_FIELDS, REVIEW_ID_COLUMNS, settings)
    expectations += [
        _rule(X.ExpectColumnValuesToMatchRegex(column="rating", regex=INTEGER), "rating_not_an_integer"),
        _rule(X.ExpectColumnValuesToBeBetween(column="rating_value", min_value=1, max_value=5), "rating_out_of_range"),
        _rule(X.ExpectColumnValuesToMatchRegex(column="review_ts", regex=ISO_TIMESTAMP_WITH_OFFSET), "bad_timestamp"),
        _unparseable_timestamp("review_ts"),
        _rule(
            X.ExpectColumnValuesToBeBetween(column="local_date", min_value=day, max_value=day),
            "timestamp_outside_partition_day",
        ),
        _rule(X.ExpectColumnValuesToBeInSet(column="order_unknown", value_set=[False]), "unknown_order"),
        _rule(X.ExpectColumnValuesToBeInSet(column="repeated_in_file", value_set=[False]), "duplicate_review_id"),
        _rule(
            X.ExpectColumnValuesToBeInSet(column="seen_on_earlier_day", value_set=[False]),
            "review_id_seen_on_earlier_day",
        ),
    ]
    return _suite(f"reviews_{day.isoformat()}", expectations)


INVENTORY_ID_COLUMNS = ("product_id",)
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
MAX_UNITS = 1_000_000_000  # more units of one product than any shop holds: a broken export
MAX_LEAD_TIME_DAYS = 365


def inventory_suite(day: date, settings: RuleSettings) -> gx.ExpectationSuite:
    """What a valid stock row of partition `day` is: a known product once, counts that are whole
    and not negative, and an arrival date for whatever is on order."""
    required = [field for field in INVENTORY_FIELDS if field != "expected_arrival"]
    expectations = [_rule(X.ExpectColumnValuesToNotBeNull(column=c), f"missing_{c}") for c in required]
    expectations += _clean_ids(INVENTORY_ID_COLUMNS)
    expectations += _not_too_long(INVENTORY_FIELDS, INVENTORY_ID_COLUMNS, settings)
    width = len(INVENTORY_FIELDS)
    expectations += [
        _rule(X.ExpectColumnValuesToBeNull(column="decode_error"), "invalid_utf8"),
        _rule(
            X.ExpectColumnValuesToBeBetween(column="field_count", min_value=width, max_value=width), "wrong_field_count"
        ),
    ]
    for column in ("on_hand", "on_order", "lead_time_days"):
        limit = MAX_LEAD_TIME_DAYS if column == "lead_time_days" else MAX_UNITS
        expectations += [
            _rule(X.ExpectColumnValuesToMatchRegex(column=column, regex=INTEGER), f"{column}_not_an_integer"),
            _rule(
                X.ExpectColumnValuesToBeBetween(column=f"{column}_value", min_value=0, max_value=limit),
                f"{column}_out_of_range",
            ),
        ]
    expectations += [
        _rule(X.ExpectColumnValuesToMatchRegex(column="unit_cost", regex=DECIMAL), "unit_cost_not_a_number"),
        _rule(
            X.ExpectColumnValuesToBeBetween(column="unit_cost_value", min_value=0, max_value=settings.max_unit_price),
            "unit_cost_out_of_range",
        ),
        _rule(X.ExpectColumnValuesToMatchRegex(column="expected_arrival", regex=ISO_DATE), "bad_arrival_date"),
        _rule(
            X.ExpectColumnValuesToBeInSet(column="expected_arrival_unparseable", value_set=[False]),
            "unparseable_arrival_date",
        ),
        _rule(
            X.ExpectColumnValuesToBeInSet(column="on_order_without_arrival", value_set=[False]),
            "on_order_without_arrival",
        ),
        _rule(X.ExpectColumnValuesToBeInSet(column="product_unknown", value_set=[False]), "unknown_product"),
        _rule(X.ExpectColumnValuesToBeInSet(column="repeated_in_file", value_set=[False]), "duplicate_product"),
    ]
    return _suite(f"inventory_{day.isoformat()}", expectations)


def _suite(name: str, expectations: list) -> gx.ExpectationSuite:
    """A suite held in code; GX only needs a context when a suite is saved, which we never do."""
    return gx.ExpectationSuite(name=name, expectations=expectations)


def rule_of(expectation: gx.expectations.Expectation) -> str:
    """The rule name each expectation we build carries in its meta."""
    return (expectation.meta or {})["rule"]


def column_of(expectation: gx.expectations.Expectation) -> str:
    """Every expectation we build checks one column."""
    return expectation.column  # type: ignore[attr-defined]


def rule_names(suite: gx.ExpectationSuite) -> list[str]:
    return [rule_of(expectation) for expectation in suite.expectations]


def _trimmed(frame: pl.DataFrame, columns: tuple[str, ...]) -> list[pl.Expr]:
    """Surrounding whitespace removed and empty values made null (missing), in `columns`.

    Stripping copies every string, and clean exports rarely need it: strip only the columns
    where some value has whitespace at an end (one parallel pass finds them).
    """
    stripped = {name: pl.col(name).str.strip_chars() for name in columns}
    padded = frame.select(
        [(stripped[name].str.len_bytes() != pl.col(name).str.len_bytes()).any().alias(name) for name in columns]
    ).row(0, named=True)
    trimmed = []
    for name in columns:
        value = stripped[name] if padded[name] else pl.col(name)
        trimmed.append(pl.when(value != "").then(value).alias(name))
    return trimmed


def _parsed_timestamp(column: str, timezone: str) -> list[pl.Expr]:
    text = pl.col(column)
    # the rare "Z" suffix becomes an offset; the test is much cheaper than a regex replace on all rows
    with_offset = pl.when(text.str.ends_with("Z")).then(text.str.replace(r"Z$", "+00:00")).otherwise(text)
    utc = with_offset.str.to_datetime(_TIMESTAMP_FORMAT, time_zone="UTC", strict=False)
    return [
        utc.alias(f"{column}_value"),
        # well-formed text that is still no instant; malformed text is bad_timestamp's business
        (text.str.contains(ISO_TIMESTAMP_WITH_OFFSET) & utc.is_null()).fill_null(False).alias(f"{column}_unparseable"),
        utc.dt.convert_time_zone(timezone).dt.date().alias("local_date"),
    ]


def _duplicate_flags(id_column: str, earlier_ids: pl.Series) -> list[pl.Expr]:
    """First occurrence in the file wins; ids already validated on an earlier day never do."""
    present = pl.col(id_column).is_not_null()
    return [
        (present & ~pl.col(id_column).is_first_distinct()).alias("repeated_in_file"),
        (present & pl.col(id_column).is_in(earlier_ids.implode())).alias("seen_on_earlier_day"),
    ]


def prepare_orders(
    raw_orders: pl.DataFrame,
    earlier_order_ids: pl.Series,
    settings: RuleSettings,
    known_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Bronze orders plus the trimmed, parsed and flag columns the order suite checks. Orders
    refer to no other table, so `known_ids` is not used."""
    # one lazy query: polars runs the columns' work in parallel and parses each timestamp once
    return (
        raw_orders.lazy()
        .with_columns(_trimmed(raw_orders, ORDER_FIELDS))
        .with_columns(
            # floats: an overflowing integer is a big number for the range rule, not a null
            pl.col("quantity").cast(pl.Float64, strict=False).alias("quantity_value"),
            pl.col("unit_price").cast(pl.Float64, strict=False).alias("unit_price_value"),
            *_parsed_timestamp("order_ts", settings.timezone),
            *_duplicate_flags("order_id", earlier_order_ids),
        )
        .collect()
    )


def prepare_reviews(
    raw_reviews: pl.DataFrame,
    earlier_review_ids: pl.Series,
    settings: RuleSettings,
    known_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Bronze reviews plus the trimmed, parsed and flag columns the review suite checks.
    `known_ids` are the validated order ids a review may refer to (the look-back window); None
    means the reference is not checked (unit tests of other rules)."""
    order = pl.col("order_id")
    unknown = (order.is_not_null() & ~order.is_in(known_ids.implode())) if known_ids is not None else pl.lit(False)
    return (
        raw_reviews.lazy()
        .with_columns(_trimmed(raw_reviews, REVIEW_FIELDS))
        .with_columns(
            pl.col("rating").cast(pl.Float64, strict=False).alias("rating_value"),
            unknown.alias("order_unknown"),
            *_parsed_timestamp("review_ts", settings.timezone),
            *_duplicate_flags("review_id", earlier_review_ids),
        )
        .collect()
    )


def prepare_inventory(
    raw_inventory: pl.DataFrame,
    earlier_ids: pl.Series,
    settings: RuleSettings,
    known_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Bronze stock rows plus the parsed and flag columns the inventory suite checks. A product is
    counted every day, so ids of earlier days are no duplicates (`earlier_ids` is not used);
    `known_ids` are the products of the day's catalogue (None: not checked)."""
    product = pl.col("product_id")
    unknown = (product.is_not_null() & ~product.is_in(known_ids.implode())) if known_ids is not None else pl.lit(False)
    arrival = pl.col("expected_arrival")
    parsed_arrival = arrival.str.to_date("%Y-%m-%d", strict=False)
    on_order = pl.col("on_order").cast(pl.Float64, strict=False)
    return (
        raw_inventory.lazy()
        .with_columns(_trimmed(raw_inventory, INVENTORY_FIELDS))
        .with_columns(
            *[pl.col(c).cast(pl.Float64, strict=False).alias(f"{c}_value") for c in ("on_hand", "lead_time_days")],
            on_order.alias("on_order_value"),
            pl.col("unit_cost").cast(pl.Float64, strict=False).alias("unit_cost_value"),
            parsed_arrival.alias("arrival_value"),
            (arrival.str.contains(ISO_DATE) & parsed_arrival.is_null())
            .fill_null(False)
            .alias("expected_arrival_unparseable"),
            ((on_order > 0) & arrival.is_null()).fill_null(False).alias("on_order_without_arrival"),
            unknown.alias("product_unknown"),
            (product.is_not_null() & ~product.is_first_distinct()).alias("repeated_in_file"),
        )
        .collect()
    )


def _violation(expectation) -> pl.Expr:
    """True where the row breaks `expectation`, with GX semantics for nulls."""
    kind = type(expectation).__name__
    column = pl.col(expectation.column)
    if kind == "ExpectColumnValuesToNotBeNull":
        return column.is_null()
    if kind == "ExpectColumnValuesToBeNull":
        return column.is_not_null()
    if kind == "ExpectColumnValuesToBeInSet":
        return column.is_not_null() & ~column.is_in(list(expectation.value_set))
    if kind == "ExpectColumnValuesToMatchRegex":
        return column.is_not_null() & ~column.str.contains(expectation.regex)
    if kind == "ExpectColumnValuesToBeBetween":
        return column.is_not_null() & ~column.is_between(expectation.min_value, expectation.max_value)
    if kind == "ExpectColumnValueLengthsToBeBetween":  # characters, as pandas' str.len counts them
        length = column.str.len_chars()
        low, high = expectation.min_value, expectation.max_value
        too_short = length < low if low is not None else pl.lit(False)
        too_long = length > high if high is not None else pl.lit(False)
        return column.is_not_null() & (too_short | too_long)
    raise NotImplementedError(f"no polars translation for {kind}; add one in rules._violation")


def violations(prepared: pl.DataFrame, suite: gx.ExpectationSuite) -> pl.DataFrame:
    """One boolean column per rule: does this row break it?"""
    return prepared.select([_violation(e).fill_null(False).alias(rule_of(e)) for e in suite.expectations])


@dataclass
class Split:
    """The outcome of validating one partition."""

    accepted: pl.DataFrame  # prepared rows that broke no rule
    rejected: pl.DataFrame  # bronze rows plus rejected_rules and reason
    rejects_by_rule: dict[str, int]


def split(prepared: pl.DataFrame, raw: pl.DataFrame, suite: gx.ExpectationSuite, id_column: str) -> Split:
    """Partition rows into accepted and rejected; every rejected row says which rules and why.

    The reason quotes the bronze value behind each broken rule, e.g.
    "orders_2026-08-03.csv line 17: quantity_not_an_integer (quantity='abc')" (see `quoted`).
    """
    flags = violations(prepared, suite)
    rules = flags.columns
    shown_columns = {rule_of(e): _bronze_column(column_of(e), raw.columns, id_column) for e in suite.expectations}
    quoted_columns = sorted({column for column in shown_columns.values() if column is not None})
    bad = flags.select(pl.any_horizontal(pl.col(rules))).to_series()
    rejects_by_rule = {rule: int(count) for rule, count in flags.sum().row(0, named=True).items() if count}
    # boolean masks, not joins: rejects are a few percent of a partition that can hold millions
    failing = flags.filter(bad).rename({rule: f"_{rule}" for rule in rules})
    # concat_str skips the nulls of rules a row did not break (much faster than concat_list)
    broken = [pl.when(pl.col(f"_{rule}")).then(pl.lit(rule)) for rule in rules]
    reason_parts = [pl.when(pl.col(f"_{rule}")).then(_reason_part(rule, shown_columns.get(rule))) for rule in rules]
    rejected = pl.concat([raw.filter(bad), failing], how="horizontal")
    shown_values = [quoted(rejected.get_column(column)).alias(f"_quoted_{column}") for column in quoted_columns]
    rejected = (
        rejected.with_columns(shown_values)
        .with_columns(
            pl.concat_str(broken, separator=",", ignore_nulls=True).str.split(",").alias("rejected_rules"),
            pl.format(
                "{} line {}: {}",
                pl.col("source_file"),
                pl.col("line_number"),
                pl.concat_str(reason_parts, separator="; ", ignore_nulls=True),
            ).alias("reason"),
        )
        .drop([f"_{rule}" for rule in rules] + [f"_quoted_{column}" for column in quoted_columns])
    )
    accepted = prepared.filter(~bad)
    return Split(accepted, rejected, rejects_by_rule)


def validated_orders_frame(accepted: pl.DataFrame) -> pl.DataFrame:
    """Typed silver orders from rows that passed the order suite."""
    return accepted.select(
        "order_id",
        "customer_id",
        "product_id",
        "category",
        pl.col("quantity_value").cast(pl.Int32).alias("quantity"),
        pl.col("unit_price_value").alias("unit_price"),
        "currency",
        pl.col("order_ts_value").alias("order_ts"),
        pl.col("local_date").alias("order_date"),
        "status",
        (pl.col("quantity_value") * pl.col("unit_price_value")).round(2).alias("line_total"),
        "source_file",
        "line_number",
    )


def validated_reviews_frame(accepted: pl.DataFrame) -> pl.DataFrame:
    """Typed silver reviews from rows that passed the review suite."""
    return accepted.select(
        "review_id",
        "order_id",
        "product_id",
        pl.col("rating_value").cast(pl.Int8).alias("rating"),
        "review_text",
        pl.col("review_ts_value").alias("review_ts"),
        pl.col("local_date").alias("review_date"),
        "source_file",
        "line_number",
    )


def validated_inventory_frame(accepted: pl.DataFrame) -> pl.DataFrame:
    """Typed silver stock rows (the day they were counted is added by the split: day_column)."""
    return accepted.select(
        "product_id",
        *[pl.col(f"{c}_value").cast(pl.Int32).alias(c) for c in ("on_hand", "on_order")],
        pl.col("arrival_value").alias("expected_arrival"),
        pl.col("lead_time_days_value").cast(pl.Int32).alias("lead_time_days"),
        pl.col("unit_cost_value").alias("unit_cost"),
        "source_file",
        "line_number",
    )


@dataclass(frozen=True)
class EntityRules:
    """What validating one entity takes; the split looks these up by entity in ENTITY_RULES, so
    every function is referenced by name in code (found by grep and type-checked), not by string."""

    id_column: str
    suite: Callable[[date, RuleSettings], gx.ExpectationSuite]
    # (bronze rows, ids validated on earlier days, settings, ids the rows may refer to) -> prepared
    prepare: Callable[[pl.DataFrame, pl.Series, RuleSettings, pl.Series | None], pl.DataFrame]
    to_validated: Callable[[pl.DataFrame], pl.DataFrame]
    validated_schema: dict[str, pl.DataType]
    quarantined_schema: dict[str, pl.DataType]
    referenced_column: str | None = None  # the id the rows name in `referenced` (reviews: an order)
    reference_optional: bool = False  # no referenced partition at all: the reference is not checked
    day_column: str | None = None  # a column of the validated table that holds the partition's day


ENTITY_RULES: dict[str, EntityRules] = {
    "orders": EntityRules(
        "order_id",
        order_suite,
        prepare_orders,
        validated_orders_frame,
        VALIDATED_ORDERS_SCHEMA,
        QUARANTINED_ORDERS_SCHEMA,
    ),
    "reviews": EntityRules(
        "review_id",
        review_suite,
        prepare_reviews,
        validated_reviews_frame,
        VALIDATED_REVIEWS_SCHEMA,
        QUARANTINED_REVIEWS_SCHEMA,
        referenced_column="order_id",
    ),
    "inventory": EntityRules(
        "product_id",
        inventory_suite,
        prepare_inventory,
        validated_inventory_frame,
        VALIDATED_INVENTORY_SCHEMA,
        QUARANTINED_INVENTORY_SCHEMA,
        referenced_column="product_id",
        reference_optional=True,  # a day without a catalogue still has its stock counted
        day_column="date",
    ),
}


# Validated columns that may be null by design (everything else is required).
OPTIONAL_COLUMNS = frozenset({"expected_arrival"})  # nothing on order: no arrival date


def required_nulls(validated: pl.DataFrame) -> dict[str, int]:
    """Nulls per column of a validated table, where none may be: every column of the validated
    schemas but OPTIONAL_COLUMNS is required, so anything here is a rule that let a value through."""
    counts = validated.null_count().row(0, named=True) if validated.width else {}
    return {column: int(count) for column, count in counts.items() if count and column not in OPTIONAL_COLUMNS}


def _bronze_column(checked: str, bronze_columns: list[str], id_column: str) -> str | None:
    """The landing value a rule on prepared column `checked` is about."""
    if checked in ("repeated_in_file", "seen_on_earlier_day"):
        return id_column
    if checked == "order_unknown":
        return "order_id"
    if checked == "product_unknown":
        return "product_id"
    if checked == "on_order_without_arrival":
        return "on_order"
    if checked.endswith("_unparseable"):
        return checked.removesuffix("_unparseable")
    if checked == "local_date":
        return next(c for c in bronze_columns if c.endswith("_ts"))
    base = checked.removesuffix("_value")
    return base if base in bronze_columns else None


def _reason_part(rule: str, column: str | None) -> pl.Expr:
    if column is None:
        return pl.lit(rule)
    return pl.format("{} ({}={})", pl.lit(rule), pl.lit(column), pl.col(f"_quoted_{column}").fill_null("<missing>"))


def quoted(values: pl.Series) -> pl.Series:
    """Values as a reason quotes them: 'abc'. Controls, spaces other than ' ' and invisible
    characters are written as escapes ('O1\\u200b'), since a reason that shows 'O1' for the key
    'O1<U+200B>' explains nothing; a value over SHOWN_CHARS is cut, its length said ('xx…' (52428800
    characters)), so that a 50 MB field does not make a 50 MB reason in the quarantine table and the
    asset metadata. The quarantined row keeps the value itself, whole."""
    text = values.cast(pl.String)
    quoted_values = "'" + text + "'"
    # one vectorised pass finds the few values that need Python's hand
    odd = (text.str.contains(UNSEEN_CHARACTERS) | (text.str.len_chars() > SHOWN_CHARS)).fill_null(False)
    if not odd.any():
        return quoted_values
    positions = odd.arg_true()
    return quoted_values.scatter(positions, [_quoted_one(value) for value in text.gather(positions).to_list()])


def _quoted_one(value: str) -> str:
    shown = _UNSEEN.sub(lambda found: ascii(found.group())[1:-1], value[:SHOWN_CHARS])
    if len(value) <= SHOWN_CHARS:
        return f"'{shown}'"
    return f"'{shown}…' ({len(value)} characters)"
