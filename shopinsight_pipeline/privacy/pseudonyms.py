"""Pseudonymous customers for analysts (issue 27.2): a keyed hash of the shop's customer id.

A pseudonym is `c_` and the first 16 hex digits of HMAC-SHA256(key, customer id): stable (the same
customer has the same pseudonym in every table and every night, so recommendations and propensities
join on it), and without the key neither reversible nor recomputable from a guessed id, which a
plain hash of a short id would be. The key is a deployment secret (SHOPINSIGHT_PSEUDONYM_KEY);
whoever holds it, and the restricted mapping table, can find the customer behind a pseudonym.
Pure polars, no Dagster.
"""

import hashlib
import hmac

import polars as pl

PREFIX = "c_"
DIGITS = 16  # 64 bits: a collision among a million customers has odds of about 1 in 36 million


def pseudonym(customer_id: str, key: bytes) -> str:
    return PREFIX + hmac.new(key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()[:DIGITS]


def pseudonyms_of(customer_ids: pl.Series, key: bytes) -> pl.Series:
    """The pseudonym of each id (nulls stay null), hashing each distinct id once."""
    distinct = customer_ids.drop_nulls().unique().to_list()
    mapping = {customer: pseudonym(customer, key) for customer in distinct}
    return customer_ids.replace_strict(mapping, default=None, return_dtype=pl.String).alias("customer_pseudonym")


def pseudonymized(frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """`frame` with its customer_id column replaced, in place, by customer_pseudonym."""
    position = frame.columns.index("customer_id")
    with_pseudonym = frame.with_columns(pseudonyms_of(frame.get_column("customer_id"), key)).drop("customer_id")
    columns = with_pseudonym.columns
    columns.insert(position, columns.pop(columns.index("customer_pseudonym")))
    return with_pseudonym.select(columns)


def mapping(customer_ids: pl.Series, key: bytes) -> pl.DataFrame:
    """The restricted table's rows: each distinct customer id and its pseudonym."""
    distinct = customer_ids.drop_nulls().unique().sort()
    return pl.DataFrame({"customer_id": distinct, "customer_pseudonym": pseudonyms_of(distinct, key)})
