"""Pseudonymous customers (issue 27.2): a keyed, stable pseudonym in gold, the key a deployment secret."""

import hashlib

import polars as pl
import pytest

from shopinsight_pipeline.privacy.pseudonyms import mapping, pseudonym, pseudonymized
from shopinsight_pipeline.resources import SAMPLE_PSEUDONYM_KEY, CustomerPseudonyms
from shopinsight_pipeline.storage import LakeStorage


def test_a_pseudonym_is_stable_keyed_and_not_a_plain_hash_of_the_id():
    assert pseudonym("C000123", b"key-1") == pseudonym("C000123", b"key-1")
    assert pseudonym("C000123", b"key-1") != pseudonym("C000123", b"key-2")  # without the key, not recomputable
    assert pseudonym("C000123", b"key-1") != pseudonym("C000124", b"key-1")
    plain = hashlib.sha256(b"C000123").hexdigest()
    assert pseudonym("C000123", b"key-1")[2:] not in plain
    assert pseudonym("C000123", b"key-1").startswith("c_") and len(pseudonym("C000123", b"k")) == 18


def test_a_table_keeps_its_layout_with_the_pseudonym_in_the_ids_place_and_joins_through_the_mapping():
    lists = pl.DataFrame({"run_date": [1, 1, 1], "customer_id": ["C1", "C2", "C1"], "rank": [1, 1, 2]})
    shown = pseudonymized(lists, b"k")
    assert shown.columns == ["run_date", "customer_pseudonym", "rank"]
    assert shown["customer_pseudonym"].to_list() == [
        pseudonym("C1", b"k"),
        pseudonym("C2", b"k"),
        pseudonym("C1", b"k"),
    ]
    restricted = mapping(pl.Series(["C2", "C1", None, "C1"]), b"k")
    assert restricted.rows() == [("C1", pseudonym("C1", b"k")), ("C2", pseudonym("C2", b"k"))]
    back = shown.join(restricted, on="customer_pseudonym")  # operations resolve a pseudonym to the shop's id
    assert back.sort("run_date", "rank", "customer_id")["customer_id"].to_list() == ["C1", "C2", "C1"]


def test_a_lake_that_is_not_the_sample_refuses_to_run_without_a_key(tmp_path):
    storage = LakeStorage(root=str(tmp_path))
    with pytest.raises(PermissionError, match="SHOPINSIGHT_PSEUDONYM_KEY is not set"):
        CustomerPseudonyms().key_for(storage)
    assert CustomerPseudonyms(key="a-long-secret").key_for(storage) == b"a-long-secret"
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "_planted.json").write_text("{}")  # the embedded sample's manifest
    assert CustomerPseudonyms().key_for(storage) == SAMPLE_PSEUDONYM_KEY.encode()
