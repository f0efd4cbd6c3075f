"""The lake the erasure tests work on (a copy each): the foundation lake with its customer tables
and category_trends, and the helpers that find a customer's traces in it."""

import hashlib
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets


@pytest.fixture(scope="package")
def customer_lake(lake, tmp_path_factory) -> Path:
    """A copy of the foundation lake with the customer tables of its last day (events, propensity,
    the restricted mapping): the erasure tests change it, each on its own copy."""
    root = tmp_path_factory.mktemp("customer-lake") / "root"
    shutil.copytree(lake.root, root)
    instance = DagsterInstance.ephemeral()
    for day in lake.days:
        assert materialize_assets(root, instance, ["customer_events"], partition_key=day.isoformat()).success
    for day in lake.days:  # a derived table an erasure re-materializes
        assert materialize_assets(root, instance, ["category_trends"], partition_key=day.isoformat()).success
    names = ["customer_pseudonyms", "purchase_propensity"]
    assert materialize_assets(root, instance, names, partition_key=lake.days[-1].isoformat()).success
    return root


def copy_of(customer_lake: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(customer_lake, root)
    return root


def a_reviewer(root: Path) -> str:
    """A customer with an order and a review in the validated tables (so every table holds them)."""
    storage = LakeStorage(root=str(root))
    orders = pl.concat(
        [storage.read_partition("validated_orders", d) for d in storage.partition_days("validated_orders")]
    )
    reviews = pl.concat(
        [storage.read_partition("validated_reviews", d) for d in storage.partition_days("validated_reviews")]
    )
    reviewed = orders.join(reviews.select("order_id"), on="order_id")
    return reviewed.get_column("customer_id").sort().item(0)


def traces(root: Path, needles: list[str]) -> list[str]:
    """Every place under the lake and the landing zone where one of `needles` is found: a text cell
    of any Parquet file (read, not grepped: dictionary pages compress), any other file's bytes."""
    found = []
    alternatives = "|".join(re.escape(needle) for needle in needles)
    pattern = re.compile(rf"(^|[^0-9A-Za-z_])({alternatives})($|[^0-9A-Za-z_])")  # the whole id, not a prefix
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            for name, dtype in frame.schema.items():
                if dtype == pl.String and frame.get_column(name).str.contains(pattern.pattern).fill_null(False).any():
                    found.append(f"{path.relative_to(root)}:{name}")
        elif pattern.search(path.read_bytes().decode("utf-8", "replace")):
            found.append(str(path.relative_to(root)))
    return found


def digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(str(p.relative_to(root)).encode() + p.read_bytes() for p in files)).hexdigest()
