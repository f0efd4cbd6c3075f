"""The code location loads the way `dagster dev` loads it, with every asset, check, job, schedule."""

import importlib
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from dagster import AssetCheckKey, AssetKey, build_schedule_context

from shopinsight_pipeline.definitions import build_definitions, sentiment_labels_from_env
from shopinsight_pipeline.freshness import DAILY_GOLD, MODELS
from shopinsight_pipeline.schemas import GOLD_RULES
from shopinsight_pipeline.table_audit import AUDITS

ROOT = Path(__file__).resolve().parents[2]
ASSETS = {
    "raw_orders",
    "raw_reviews",
    "validated_orders",
    "quarantined_orders",
    "validated_reviews",
    "quarantined_reviews",
    "products",
    "quarantined_products",
    "daily_sales",
    "review_tokenizer",
    "review_token_shards",
    "sentiment_model",
    "review_scores",
    "aspect_tagger",
    "review_aspects",
    "aspect_sentiment",
    "product_sentiment",
    "category_trends",
    "sales_forecast",
    "insights",
    "insight_report",
    "customer_events",
    "customer_pseudonyms",
    "recommender_model",
    "customer_recommendations",
    "purchase_propensity",
    "raw_inventory",
    "validated_inventory",
    "quarantined_inventory",
    "product_demand_forecast",
    "inventory_plan",
}
CHECKS = {"rows_conserved", "reject_rate_within_threshold", "great_expectations_suite", "no_nulls_in_required_columns"}
ENTITIES = ("orders", "reviews")
JOBS = {"nightly_partition_job", "prepare_partition_job", "score_partition_job", "retrain_job"}


def workspace_module() -> str:
    [location] = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    return location["python_module"]["module_name"]


def test_workspace_module_defines_every_asset_check_job_and_schedule():
    defs = importlib.import_module(workspace_module()).defs
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == ASSETS
    expected_checks = {
        AssetCheckKey(AssetKey(f"validated_{entity}"), name)
        for entity in ("orders", "reviews", "inventory")
        for name in CHECKS
    }
    expected_checks.add(AssetCheckKey(AssetKey("validated_reviews"), "no_personal_data_in_text"))
    expected_checks.add(AssetCheckKey(AssetKey("sentiment_model"), "champion_challenger"))
    expected_checks.add(AssetCheckKey(AssetKey("products"), "catalogue_rows_conserved"))
    # freshness (freshness.py): every daily gold table and every model
    expected_checks |= {AssetCheckKey(AssetKey(name), "freshness_check") for name in (*DAILY_GOLD, *MODELS)}
    # write, audit, publish (gold_checks.py): the four audits of every gold table; raw: column drift
    expected_checks |= {AssetCheckKey(AssetKey(name), audit) for name in GOLD_RULES for audit in AUDITS}
    expected_checks |= {
        AssetCheckKey(AssetKey(raw), "landing_columns_as_declared")
        for raw in ("raw_orders", "raw_reviews", "raw_inventory")
    }
    assert set(graph.asset_check_keys) == expected_checks
    for name in JOBS:
        job = defs.resolve_job_def(name)
        assert (job.partitions_def is None) == (name == "retrain_job"), name
    nightly = defs.resolve_job_def("nightly_partition_job").asset_layer.selected_asset_keys
    assert {key.to_user_string() for key in nightly} == ASSETS - {
        "review_tokenizer",
        "sentiment_model",
        "aspect_tagger",
        "recommender_model",
    }
    schedule = defs.resolve_schedule_def("nightly_partition_schedule")
    assert schedule.cron_schedule == "30 2 * * *"
    assert schedule.job_name == "nightly_partition_job"
    assert defs.resolve_sensor_def("retrain_after_the_night").job_name == "retrain_job"  # no fixed retrain cron
    assert defs.resolve_sensor_def("landing_sensor").job_name == "nightly_partition_job"


def test_dagster_cli_validates_the_workspace():
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_nightly_schedule_runs_the_business_day_that_just_ended(tmp_path):
    defs = build_definitions(str(tmp_path))
    schedule = defs.resolve_schedule_def("nightly_partition_schedule")
    assert schedule.execution_timezone == "Asia/Shanghai"

    def tick(moment: datetime):
        context = build_schedule_context(scheduled_execution_time=moment, repository_def=defs.get_repository_def())
        return schedule.evaluate_tick(context)

    # 18:30 UTC on 31 August is 02:30 on 1 September in Shanghai: the day that ended is 31 August
    [request] = tick(datetime(2026, 8, 31, 18, 30, tzinfo=UTC)).run_requests
    assert request.partition_key == "2026-08-31"
    assert request.run_key == "2026-08-31"
    skipped = tick(datetime(2026, 7, 31, 18, 30, tzinfo=UTC))
    assert not skipped.run_requests
    assert "before the first partition 2026-08-01" in skipped.skip_message


def test_the_sentiment_scheme_is_polarity_unless_the_deployment_says_three_class(monkeypatch):
    monkeypatch.delenv("SHOPINSIGHT_SENTIMENT_SCHEME", raising=False)
    assert sentiment_labels_from_env().scheme().labels == ("negative", "positive")
    monkeypatch.setenv("SHOPINSIGHT_SENTIMENT_SCHEME", "three_class")
    assert sentiment_labels_from_env().scheme().rating_to_label[3] == "neutral"
    monkeypatch.setenv("SHOPINSIGHT_SENTIMENT_SCHEME", "five_class")
    with pytest.raises(ValueError, match="five_class"):
        sentiment_labels_from_env()


def test_run_config_defaults_are_the_pure_settings_defaults():
    """One source of defaults per Config/Settings pair: the asset's run config, untouched, gives
    exactly the settings the pure modules default to (they drifted once: 5e-5 vs 1e-4)."""
    from shopinsight_pipeline.ml.baseline import TfidfSettings
    from shopinsight_pipeline.ml.train import TrainSettings
    from shopinsight_pipeline.reports.assets import ForecastConfig, TrendConfig
    from shopinsight_pipeline.reports.forecast import ForecastSettings
    from shopinsight_pipeline.reports.insight_assets import InsightConfig
    from shopinsight_pipeline.reports.insights import InsightSettings
    from shopinsight_pipeline.reports.trends import TrendSettings
    from shopinsight_pipeline.train.config import TrainingConfig
    from shopinsight_pipeline.validate.assets import ValidationConfig
    from shopinsight_pipeline.validate.rules import RuleSettings

    training = TrainingConfig()
    assert training.train_settings() == TrainSettings()
    assert training.tfidf_settings() == TfidfSettings()
    assert ValidationConfig().rule_settings() == RuleSettings(timezone=ValidationConfig().rule_settings().timezone)
    forecast = ForecastConfig()
    assert (forecast.horizon, forecast.backtest_days) == (ForecastSettings.horizon, ForecastSettings.backtest_days)
    assert TrendConfig().anomaly_threshold == TrendSettings().anomaly_threshold
    insight = InsightConfig()
    defaults = InsightSettings()
    assert (insight.language, insight.min_reviews, insight.significance) == (
        defaults.language,
        defaults.min_reviews,
        defaults.significance,
    )


def test_an_asset_graph_backfill_targets_the_same_days_of_both_tables_of_each_validation_asset(tmp_path):
    """What the UI checks before it launches a backfill of a multi-asset that cannot be split: the
    planned days of validated_X and quarantined_X agree (the validated table's look-back at its own
    earlier days must not spread the quarantine over later days), for the whole graph and for the
    validation assets alone."""
    from dagster._core.execution.asset_backfill import AssetBackfillData
    from dagster._core.instance import DagsterInstance

    graph = build_definitions(str(tmp_path)).resolve_asset_graph()
    days = ["2026-08-03", "2026-08-04"]
    validation = [AssetKey(f"{kind}_{entity}") for kind in ("raw", "validated", "quarantined") for entity in ENTITIES]
    for selection in (list(graph.get_all_asset_keys()), validation):
        planned = AssetBackfillData.from_asset_partitions(
            graph, days, selection, DagsterInstance.ephemeral(), datetime.now(UTC).timestamp(), False
        ).target_subset
        for entity in ENTITIES:
            validated, quarantined = AssetKey(f"validated_{entity}"), AssetKey(f"quarantined_{entity}")
            assert graph.get(validated).execution_set_asset_keys == {validated, quarantined}
            validated_days = set(planned.get_partitions_subset(validated).get_partition_keys())
            assert set(days) <= validated_days
            assert validated_days == set(planned.get_partitions_subset(quarantined).get_partition_keys())


def test_a_closed_history_ends_the_partitions_on_its_last_day_and_the_schedule_skips_after_it():
    """SHOPINSIGHT_END_DATE names the last day a lake holds (read when the code location loads)."""
    code = """
from datetime import datetime
from zoneinfo import ZoneInfo
from dagster import build_schedule_context
from shopinsight_pipeline.jobs import nightly_schedule
from shopinsight_pipeline.partitions import daily_partitions
print(daily_partitions.get_last_partition_key())
for night in ("2026-08-03T02:30", "2026-08-04T02:30"):
    moment = datetime.fromisoformat(night).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    print(type(nightly_schedule(build_schedule_context(scheduled_execution_time=moment))).__name__)
"""
    env = {**os.environ, "SHOPINSIGHT_START_DATE": "2026-08-01", "SHOPINSIGHT_END_DATE": "2026-08-02"}
    env.pop("SHOPINSIGHT_TIMEZONE", None)
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert printed.stdout.split() == ["2026-08-02", "RunRequest", "SkipReason"]


def test_every_asset_is_found_by_its_name_where_it_is_defined_and_tested():
    """grep an asset's name: one wrapper module spells it where it is defined (no names built from
    strings), and the tests of that stage (shopinsight_pipeline_tests/<stage>/) name it."""
    wrappers = [path for path in (ROOT / "shopinsight_pipeline").rglob("*.py") if path.stem.endswith("assets")]
    for name in sorted(ASSETS):
        definition = re.compile(
            rf'^def {name}\(|^{name} = \w+\("{name}"|(validated|quarantined)="{name}"|^ +"{name}": AssetOut\(', re.M
        )
        [module] = [path for path in wrappers if definition.search(path.read_text(encoding="utf-8"))]
        stage_tests = ROOT / "shopinsight_pipeline_tests" / module.parent.name
        assert any(name in path.read_text(encoding="utf-8") for path in stage_tests.glob("test_*.py")), (
            f"{name} is defined in {module.relative_to(ROOT)} but no test in {stage_tests.relative_to(ROOT)} names it"
        )


def test_the_location_has_one_name_wherever_dagster_is_started():
    """workspace.yaml names the location (run history and schedule state do not split by how Dagster
    was started), as pyproject's [tool.dagster] does, and make run files its runs under that name."""
    import tomllib

    from shopinsight_pipeline.devtools.location_runs import LOCATION_NAME

    [location] = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    named = location["python_module"]["location_name"]
    assert named == tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["code_location_name"]
    assert named == LOCATION_NAME


def test_every_asset_shows_an_owner_its_layer_and_every_table_its_columns_from_the_schemas():
    """The catalog (issue 26.5): what an analyst sees on an asset's page comes from schemas.py and
    storage.py, the one place each is written."""
    from dagster import AssetKey

    from shopinsight_pipeline.ml.text import LabelScheme
    from shopinsight_pipeline.schemas import column_descriptions, file_schema
    from shopinsight_pipeline.storage import TABLE_LAYERS

    graph = build_definitions("data").resolve_asset_graph()
    for name in ASSETS:
        node = graph.get(AssetKey(name))
        assert node.owners and node.tags["layer"] in {"bronze", "silver", "gold", "restricted", "models", "reports"}, (
            name
        )
        if name in TABLE_LAYERS:
            assert node.tags["layer"] == TABLE_LAYERS[name], name
            columns = node.metadata["dagster/column_schema"].columns
            documented = file_schema(name, LabelScheme().labels)
            assert [(c.name, c.type) for c in columns] == [(n, str(t)) for n, t in documented.items()], name
            described = column_descriptions(name, LabelScheme().labels)
            assert [c.description for c in columns] == list(described.values()), name
            assert all(c.description for c in columns), name
        # where code decides the result: a version, and a link to the code that defines the asset
        assert node.code_version and len(node.code_version) == 12, name
        [reference] = node.metadata["dagster/code_references"].code_references
        assert Path(reference.file_path).is_file() and reference.line_number > 0, name
    assert graph.get(AssetKey("sentiment_model")).tags["layer"] == "models"


def test_a_code_version_changes_with_the_code_that_computes_the_asset_and_only_there(tmp_path, monkeypatch):
    import shutil

    from shopinsight_pipeline import definitions

    before = {name: definitions.code_version(name, module) for name, module in VERSIONED.items()}
    copy = tmp_path / "shopinsight_pipeline"
    shutil.copytree(definitions.PACKAGE, copy)
    with (copy / "reports" / "sales.py").open("a", encoding="utf-8") as sales:
        sales.write("\n# revenue is now net of returns\n")
    monkeypatch.setattr(definitions, "PACKAGE", copy)
    after = {name: definitions.code_version(name, module) for name, module in VERSIONED.items()}
    assert after["daily_sales"] != before["daily_sales"]
    assert after["category_trends"] == before["category_trends"]  # downstream: stale, not changed


VERSIONED = {"daily_sales": "reports/assets.py", "category_trends": "reports/assets.py"}


def test_the_readme_column_reference_is_the_one_the_schemas_generate():
    from shopinsight_pipeline.devtools import readme_columns

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_columns.with_reference(readme), (
        "README.md's column reference differs from schemas.py/column_docs.py: "
        "run python -m shopinsight_pipeline.devtools.readme_columns"
    )
    for table in ("raw_orders", "daily_sales", "review_scores"):  # every layer is there, class columns once
        assert f"#### `{table}` (" in readme
    assert "| `prob_<class>` |" in readme
