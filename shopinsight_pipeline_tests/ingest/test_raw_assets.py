"""raw_orders and raw_reviews as assets: one day's landing file in, every line kept, the file and
its encoding in the metadata, and a missing file named."""

from datetime import timedelta

from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.sample import SampleSpec, write_sample
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets, materialize_days


def test_each_raw_asset_keeps_every_line_of_its_landing_file_and_names_it(tmp_path):
    spec = SampleSpec(days=6, orders_per_day=30, dirty_rate=0.0)
    write_sample(tmp_path, spec)
    day = spec.start + timedelta(days=5)  # reviews follow deliveries: the first days have none
    names = ["raw_orders", "raw_reviews"]
    run = materialize_assets(tmp_path, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert run.success
    storage = LakeStorage(root=str(tmp_path))
    for name, source, header_lines in (("raw_orders", "orders", 1), ("raw_reviews", "reviews", 0)):
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
