"""The products dimension: a day's catalogue export split into valid products and quarantined lines.

A catalogue is small (a line per product: thousands, not millions), so it is read with Python's
csv module, which keeps a name with a comma or a quote whole, and judged line by line. Every line
ends in exactly one of the two tables (rows conserved); a rejected line keeps its text fields as
read, the rules it broke and a reason naming the file, the line and the rule.
"""

import csv
import io
import math
import re
from dataclasses import dataclass

import polars as pl

from shopinsight_pipeline.ingest.landing import LandingFileError, decode
from shopinsight_pipeline.schemas import PRODUCT_FIELDS, PRODUCTS_SCHEMA, QUARANTINED_PRODUCTS_SCHEMA

# The rules a catalogue line can break, in the order a reason lists them.
PRODUCT_RULES: tuple[str, ...] = (
    "wrong_field_count",
    "missing_product_id",
    "product_id_with_space",
    "missing_product_name",
    "missing_category",
    "list_price_not_a_number",
    "list_price_not_positive",
    "duplicate_product_id",
)
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class CatalogueSplit:
    """One catalogue file: its valid products (PRODUCTS_SCHEMA), its rejected lines
    (QUARANTINED_PRODUCTS_SCHEMA) and how many data lines it had."""

    products: pl.DataFrame
    quarantined: pl.DataFrame
    lines: int
    encoding: str

    def rejected_rules(self) -> list[str]:
        """Every rule broken, once per line that broke it."""
        return [rule for rules in self.quarantined.get_column("rejected_rules").to_list() for rule in rules]


def split_catalogue(data: bytes, source_file: str) -> CatalogueSplit:
    """Split a catalogue CSV (header: PRODUCT_FIELDS, any order) into products and quarantine.

    A product id given twice keeps its first line; the later ones are quarantined as
    duplicate_product_id, so a name never depends on which line a reader happens to see. A file
    whose header lacks a field, or whose bytes fit no known encoding, raises LandingFileError."""
    text, encoding = decode(data, source_file)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise LandingFileError(f"{source_file}: empty file, expected a header with {list(PRODUCT_FIELDS)}")
    header = [name.strip() for name in header]
    missing = [name for name in PRODUCT_FIELDS if name not in header]
    if missing:
        raise LandingFileError(f"{source_file}: header {header} lacks {missing}")
    position = {name: header.index(name) for name in PRODUCT_FIELDS}
    accepted: list[dict] = []
    rejected: list[dict] = []
    seen: set[str] = set()
    lines = 0
    line_number = reader.line_num + 1
    for values in reader:
        if not any(value.strip() for value in values):  # a blank line is no product
            line_number = reader.line_num + 1
            continue
        lines += 1
        fields = {name: values[i].strip() if i < len(values) else None for name, i in position.items()}
        broken = _broken_rules(fields, len(values), len(header), seen)
        lineage = {"source_file": source_file, "line_number": line_number}
        if broken:
            reason = "; ".join(_reason(rule, fields) for rule in broken)
            rejected.append(
                {**fields, **lineage, "rejected_rules": broken, "reason": f"{source_file} line {line_number}: {reason}"}
            )
        else:
            seen.add(str(fields["product_id"]))
            accepted.append({**fields, "list_price": float(str(fields["list_price"])), **lineage})
        line_number = reader.line_num + 1
    return CatalogueSplit(
        pl.DataFrame(accepted, schema=PRODUCTS_SCHEMA, orient="row")
        if accepted
        else pl.DataFrame(schema=PRODUCTS_SCHEMA),
        pl.DataFrame(rejected, schema=QUARANTINED_PRODUCTS_SCHEMA, orient="row")
        if rejected
        else pl.DataFrame(schema=QUARANTINED_PRODUCTS_SCHEMA),
        lines,
        encoding,
    )


def _broken_rules(fields: dict[str, str | None], found: int, expected: int, seen: set[str]) -> list[str]:
    broken = []
    if found != expected:
        broken.append("wrong_field_count")
    product_id, price = fields["product_id"], fields["list_price"]
    if not product_id:
        broken.append("missing_product_id")
    elif _SPACE.search(product_id):
        broken.append("product_id_with_space")
    if not fields["product_name"]:
        broken.append("missing_product_name")
    if not fields["category"]:
        broken.append("missing_category")
    if not price or not _DECIMAL.fullmatch(price):
        broken.append("list_price_not_a_number")
    elif not (math.isfinite(float(price)) and float(price) > 0):
        broken.append("list_price_not_positive")
    if product_id and product_id in seen:
        broken.append("duplicate_product_id")
    return broken


def _reason(rule: str, fields: dict[str, str | None]) -> str:
    column = {
        "missing_product_id": "product_id",
        "product_id_with_space": "product_id",
        "duplicate_product_id": "product_id",
        "missing_product_name": "product_name",
        "missing_category": "category",
        "list_price_not_a_number": "list_price",
        "list_price_not_positive": "list_price",
    }.get(rule)
    if column is None:
        return rule
    value = fields[column]
    return f"{rule} ({column}={'<missing>' if value is None else repr(value)})"


def product_labels(products: pl.DataFrame) -> dict[str, str]:
    """product_id -> name, for the places that show a name beside an id."""
    if products.is_empty():
        return {}
    return dict(products.select("product_id", "product_name").iter_rows())
