"""Lineage is declared once, by the inputs: each asset reads exactly the tables it declares."""

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage
from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets
from shopinsight_pipeline_tests.ml_lake import FAST_TRAINING


def test_every_asset_reads_exactly_the_tables_it_declares(ml_lake, tiny_model_dir, monkeypatch):
    """Lineage is declared once, by the inputs: materializing each asset alone, the lake tables it
    opens are its declared upstream tables (plus, for validation, its own outputs, which its checks
    count after writing) - no undeclared read, no declared input left unread."""
    last = ml_lake.days[-1].isoformat()
    assert materialize_assets(
        ml_lake.root, ml_lake.instance, ["sales_forecast", "insights"], partition_key=last
    ).success
    opened: list[str] = []
    original = LakeStorage.partition_files

    def recording(self, table, day, *arguments):
        opened.append(table)
        return original(self, table, day, *arguments)

    staged_or_published = LakeStorage.read_staged_or_published

    def recording_staged(self, table, day):  # validation reads a staged delivery before the published one
        opened.append(table)
        return staged_or_published(self, table, day)

    monkeypatch.setattr(LakeStorage, "partition_files", recording)
    monkeypatch.setattr(LakeStorage, "read_staged_or_published", recording_staged)
    definitions = build_definitions(str(ml_lake.root))
    graph = definitions.resolve_asset_graph()
    config = {
        "review_tokenizer": {"base_model_dir": str(tiny_model_dir)},
        "sentiment_model": FAST_TRAINING,
        **{op: op_config["config"] for op, op_config in PERMISSIVE["ops"].items()},
    }
    checked: set[str] = set()
    for assets_def in {  # parents first: recommendations need the recommender's value
        definitions.get_assets_def(key).op.name: definitions.get_assets_def(key) for key in graph.toposorted_asset_keys
    }.values():
        names = sorted(key.to_user_string() for key in assets_def.keys)
        op = assets_def.op.name
        opened.clear()
        run_config = {"ops": {op: {"config": config[op]}}} if op in config else {}
        run = materialize_assets(
            ml_lake.root, ml_lake.instance, names, run_config, partition_key=last if assets_def.partitions_def else None
        )
        assert run.success, op
        declared = {parent.to_user_string() for key in assets_def.keys for parent in graph.get(key).parent_keys}
        declared = (declared & set(TABLE_LAYERS)) - set(names)
        assert declared <= set(opened), f"{op} declares {sorted(declared - set(opened))} but never reads them"
        assert set(opened) <= declared | set(names), f"{op} reads undeclared {sorted(set(opened) - declared)}"
        checked.update(names)
    assert len(checked) == len(graph.get_all_asset_keys()) == 31
