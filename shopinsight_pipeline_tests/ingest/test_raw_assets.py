"""raw_orders, raw_reviews and raw_inventory as assets: one day's landing file in, every line kept, the file and
its encoding in the metadata, and a missing file named."""

import json
from datetime import timedelta

from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.ingest.landing import column_drift
from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets, materialize_days


def test_each_raw_asset_keeps_every_line_of_its_landing_file_and_names_it(tmp_path):
    spec = SampleSpec(days=6, orders_per_day=30, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    day = spec.start + timedelta(days=5)  # reviews follow deliveries: the first days have none
    names = ["raw_orders", "raw_reviews", "raw_inventory"]
    run = materialize_assets(tmp_path, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert run.success
    storage = LakeStorage(root=str(tmp_path))
    sources = (("raw_orders", "orders", 1), ("raw_reviews", "reviews", 0), ("raw_inventory", "inventory", 1))
    for name, source, header_lines in sources:
        landing = storage.landing_file(source, day)
        lines = [line for line in landing.read_text(encoding="utf-8").splitlines() if line.strip()]
        [event] = [e for e in run.get_asset_materialization_events() if e.asset_key == AssetKey(name)]
        metadata = {key: getattr(value, "value", value) for key, value in event.materialization.metadata.items()}
        assert metadata["dagster/row_count"] == len(lines) - header_lines > 0, name
        assert metadata["source_file"] == str(landing)
        assert metadata["encoding"] == "utf-8" and metadata["invalid_utf8_lines"] == 0
        staged = storage.read_staged_or_published(name, day)  # published with validation, read staged here
        assert staged.height == len(lines) - header_lines


def test_missing_landing_file_fails_naming_the_expected_path(lake, tmp_path):
    (tmp_path / "landing").mkdir()
    [result] = materialize_days(tmp_path, lake.days[:1], DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert any(f"no {source} landing file for 2026-08-01" in message for source in ("orders", "reviews", "products"))
    assert str(tmp_path / "landing") in message


def test_a_day_without_its_stock_count_fails_naming_the_file_it_expected(tmp_path):
    spec = SampleSpec(days=2, orders_per_day=30, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    storage = LakeStorage(root=str(tmp_path))
    missing = storage.landing_file("inventory", spec.start)
    missing.unlink()
    run = materialize_assets(
        tmp_path, DagsterInstance.ephemeral(), ["raw_inventory"], partition_key=spec.start.isoformat()
    )
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"no inventory landing file for {spec.start.isoformat()}: expected {missing}" in str(
        failure.event_specific_data.error
    )


def test_a_column_added_or_dropped_upstream_fails_the_schema_change_check_naming_it(tmp_path):
    """Issue 26.5: an export whose columns change warns on the raw table before validation quarantines."""
    spec = SampleSpec(days=6, orders_per_day=30, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    day = spec.start + timedelta(days=5)
    names = ["raw_orders", "raw_reviews"]
    instance = DagsterInstance.ephemeral()

    def checks() -> dict[str, object]:
        run = materialize_assets(tmp_path, instance, names, partition_key=day.isoformat())
        assert run.success  # a warning, not a blocking failure: the rows still land in bronze
        return {e.asset_key.path[-1]: e for e in run.get_asset_check_evaluations()}

    unchanged = checks()
    assert unchanged["raw_orders"].passed and unchanged["raw_reviews"].passed
    storage = LakeStorage(root=str(tmp_path))
    orders = storage.landing_file("orders", day)
    lines = orders.read_text(encoding="utf-8").splitlines()
    orders.write_text("\n".join([lines[0] + ",coupon"] + [line + ",SAVE5" for line in lines[1:]]) + "\n", "utf-8")
    reviews = storage.landing_file("reviews", day)
    records = [json.loads(line) for line in reviews.read_text(encoding="utf-8").splitlines() if line.strip()]
    renamed = [{("text" if key == "review_text" else key): value for key, value in r.items()} for r in records]
    reviews.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in renamed), "utf-8")

    changed = checks()
    assert not changed["raw_orders"].passed and changed["raw_orders"].severity.value == "WARN"
    key = day.isoformat()
    assert changed["raw_orders"].metadata["changed_days"].value == {key: {"added": ["coupon"], "missing": []}}
    assert changed["raw_reviews"].metadata["changed_days"].value == {
        key: {"added": ["text"], "missing": ["review_text"]}
    }


def test_column_drift_judges_the_delivered_columns_against_the_declared():
    declared = ("a", "b", "c")
    assert column_drift(declared, ("c", "a", "b")) == {"added": [], "missing": []}  # order is not a change
    assert column_drift(declared, ("a", "b", "c", "d")) == {"added": ["d"], "missing": []}
    assert column_drift(declared, ("a", "x")) == {"added": ["x"], "missing": ["b", "c"]}
    assert column_drift(declared, ()) == {"added": [], "missing": []}  # an empty file delivers nothing to judge
