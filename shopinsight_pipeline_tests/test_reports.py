"""category_trends and sales_forecast as assets on the small lake (nine days: short history)."""

import shutil

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import Lake, materialize_assets


@pytest.fixture(scope="module")
def lake(lake: Lake, tmp_path_factory) -> Lake:
    """A copy of the session's lake: these tests write report tables, which the pipeline tests'
    comparisons of whole lakes must not find, whichever module runs first."""
    root = tmp_path_factory.mktemp("reports-lake") / "root"
    shutil.copytree(lake.root, root)
    return Lake(root, lake.manifest, lake.days)


def test_trends_and_forecast_materialize_on_a_short_history_and_say_so(lake):
    day = lake.days[-1]
    names = ["category_trends", "sales_forecast"]
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert result.success
    storage = LakeStorage(root=str(lake.root))
    sales = storage.read_partition("daily_sales", day)
    trends = storage.read_partition("category_trends", day)
    assert sorted(trends.get_column("category")) == sorted(sales.get_column("category"))
    assert trends.get_column("revenue_ma28").is_null().all()  # nine days cannot fill a 28-day window
    assert trends.get_column("note").str.contains("only 9 days of history").all()
    joined = trends.join(sales, on="category", suffix="_sales")
    assert (joined.get_column("revenue") == joined.get_column("revenue_sales")).all()

    forecast = storage.read_partition("sales_forecast", day)
    assert forecast.height == 14 * trends.height
    assert (forecast.get_column("target_date") > day).all()
    assert set(forecast.get_column("revenue_method")) == {"seasonal_naive"}
    assert forecast.get_column("note").str.contains("fallback").all()
    bands = forecast.select(
        (pl.col("revenue_lo95") <= pl.col("revenue_lo80"))
        & (pl.col("revenue_lo80") <= pl.col("revenue"))
        & (pl.col("revenue") <= pl.col("revenue_hi80"))
        & (pl.col("revenue_hi80") <= pl.col("revenue_hi95"))
    ).to_series()
    assert bands.all()


def test_insights_materialize_without_sentiment_and_say_what_is_missing(lake):
    day = lake.days[-1]
    names = ["category_trends", "sales_forecast", "insights"]
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("insights")]
    notes = event.materialization.metadata["notes"].value
    assert "no product_sentiment" in notes
    assert "fewer than two categories with 56 days of history" in notes
    findings = LakeStorage(root=str(lake.root)).read_partition("insights", day)
    assert set(findings.get_column("type")) <= {"forecast_vs_last_period", "anomalous_day", "data_quality"}
    assert (findings.get_column("run_date") == day).all()


def test_insight_report_is_one_self_contained_page_with_chart_files(lake):
    day = lake.days[-1]
    names = ["category_trends", "sales_forecast", "insights", "insight_report"]
    result = materialize_assets(lake.root, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert result.success
    storage = LakeStorage(root=str(lake.root))
    folder = storage.report_dir(day)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"run date {day.isoformat()}" in page
    assert "<img" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened
    assert "no product_sentiment" in page  # the missing input is stated, not hidden
    assert "<h2>Customers</h2>" in page and "no customer findings for this date" in page
    for sentence in storage.read_partition("insights", day).get_column("sentence"):
        assert sentence.replace("&", "&amp;") in page
    pngs = sorted(p.name for p in folder.iterdir() if p.suffix == ".png")
    assert pngs == ["chart-1.png"]  # the forecast chart; no sentiment chart without scores
    assert (folder / "chart-1.png").read_bytes().startswith(b"\x89PNG")


def test_a_day_without_orders_still_gives_every_gold_table(lake, tmp_path):
    """The last day's orders file has only its header: zeros, not gaps, and no crash downstream."""
    import shutil

    from shopinsight_pipeline_tests.conftest import materialize_days

    shutil.copytree(lake.root / "landing", tmp_path / "landing")
    day = lake.days[-1]
    storage = LakeStorage(root=str(tmp_path))
    orders_file = storage.landing_file("orders", day)
    header = orders_file.read_text(encoding="utf-8").splitlines()[0]
    orders_file.write_text(header + "\n", encoding="utf-8")
    assert all(r.success for r in materialize_days(tmp_path, lake.days, DagsterInstance.ephemeral()))
    assert storage.read_partition("daily_sales", day).is_empty()

    names = ["category_trends", "sales_forecast", "insights", "insight_report"]
    result = materialize_assets(tmp_path, DagsterInstance.ephemeral(), names, partition_key=day.isoformat())
    assert result.success
    trends = storage.read_partition("category_trends", day)
    assert trends.height == storage.read_partition("daily_sales", lake.days[-2]).height  # every known category
    assert (trends.get_column("revenue") == 0).all() and (trends.get_column("units") == 0).all()
    assert storage.read_partition("sales_forecast", day).height == 14 * trends.height
    assert (storage.report_dir(day) / "report.html").is_file()
