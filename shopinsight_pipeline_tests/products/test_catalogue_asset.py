"""The catalogue asset: a day's export in, `products` and `quarantined_products` written, every line
in one of them (a blocking check counted from the files), a re-run replacing the day."""

from datetime import timedelta

import polars as pl
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.sample import PRODUCT_ITEMS, SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets


def test_the_sample_lake_has_every_product_named_on_every_day(lake):
    storage = LakeStorage(root=str(lake.root))
    assert storage.partition_days("products") == lake.days
    products = storage.read_partition("products", lake.days[-1])
    assert products.height == 6 * 16 and products.get_column("product_id").n_unique() == 96
    assert storage.read_partition("quarantined_products", lake.days[-1]).is_empty()  # a clean day
    earbuds = products.filter(products["product_id"] == "P000").row(0, named=True)
    assert earbuds["category"] == "electronics" and earbuds["product_name"].endswith(PRODUCT_ITEMS["electronics"][0])


def test_bad_lines_are_quarantined_the_check_proves_conservation_and_a_rerun_replaces_the_day(tmp_path):
    spec = SampleSpec(days=2, orders_per_day=10, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    storage = LakeStorage(root=str(tmp_path))
    day = spec.start + timedelta(days=1)
    landing = storage.landing_file("products", day)
    lines = landing.read_text(encoding="utf-8").splitlines()
    lines += [lines[1], "P999,,toys,Panda Play,12.00"]  # a repeated id and a product without a name
    landing.write_text("\n".join(lines) + "\n", encoding="utf-8")

    for _ in range(2):  # the second run replaces the day: no row twice
        run = materialize_assets(
            tmp_path, DagsterInstance.ephemeral(), ["products", "quarantined_products"], partition_key=day.isoformat()
        )
        assert run.success
        assert storage.read_partition("products", day).height == 96
        quarantined = storage.read_partition("quarantined_products", day)
        assert sorted(rule for rules in quarantined["rejected_rules"] for rule in rules) == [
            "duplicate_product_id",
            "missing_product_name",
        ]
    assert all(reason.startswith(f"{landing.name} line ") for reason in quarantined["reason"])
    [check] = run.get_asset_check_evaluations()
    assert check.check_name == "catalogue_rows_conserved" and check.passed
    assert check.metadata["catalogue_lines"].value == 98
    [event] = [e for e in run.get_asset_materialization_events() if e.asset_key == AssetKey("quarantined_products")]
    assert "duplicate_product_id" in event.materialization.metadata["rejects_by_rule"].value


def test_a_day_without_a_catalogue_fails_naming_the_expected_file(tmp_path):
    spec = SampleSpec(days=1, orders_per_day=10, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    storage = LakeStorage(root=str(tmp_path))
    landing = storage.landing_file("products", spec.start)
    landing.unlink()
    error = failed_catalogue_step(tmp_path, spec.start)
    assert f"no products landing file for {spec.start.isoformat()}" in error and str(landing) in error


CATALOGUE_RULE = {
    "missing_product_name": "missing_product_name",
    "price_with_decimal_comma": "list_price_not_a_number",
    "duplicate_product_id": "duplicate_product_id",
}


def test_every_planted_catalogue_defect_is_quarantined_for_its_rule_and_nothing_else_is(lake):
    storage = LakeStorage(root=str(lake.root))
    planted = lake.manifest["catalogue_planted"]
    assert {entry["kind"] for entry in planted} == set(CATALOGUE_RULE)
    quarantined = pl.concat([storage.read_partition("quarantined_products", day) for day in lake.days])
    found = {
        (row["source_file"], row["line_number"]): row["rejected_rules"] for row in quarantined.iter_rows(named=True)
    }
    expected = {(entry["file"].split("/")[1], entry["line"]): CATALOGUE_RULE[entry["kind"]] for entry in planted}
    assert set(found) == set(expected)
    for place, rule in expected.items():
        assert rule in found[place], (place, found[place])
    day = next(day for day in lake.days if f"products_{day.isoformat()}.csv" in {f for f, _ in expected})
    assert storage.read_partition("products", day).height == 96 - 2  # the two broken products are unnamed that day


def test_a_catalogue_without_a_field_fails_the_step_naming_the_file_and_the_field(tmp_path):
    spec = SampleSpec(days=1, orders_per_day=10, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    landing = LakeStorage(root=str(tmp_path)).landing_file("products", spec.start)
    landing.write_text("product_id,product_name,category,list_price\nP000,Earbuds,electronics,10\n", encoding="utf-8")
    error = failed_catalogue_step(tmp_path, spec.start)
    assert f"{landing.name}: header" in error and "'brand'" in error


def failed_catalogue_step(root, day) -> str:
    """Materialize the day's catalogue, which must fail; the failed step's error."""
    run = materialize_assets(
        root, DagsterInstance.ephemeral(), ["products", "quarantined_products"], partition_key=day.isoformat()
    )
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)
