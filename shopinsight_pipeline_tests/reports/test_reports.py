"""category_trends and sales_forecast as assets on the small lake (nine days: short history), and
the pure helpers the report assets share."""

import shutil
from datetime import date, timedelta

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance

from shopinsight_pipeline.reports.report import build_report, report_kpis
from shopinsight_pipeline.reports.sentiment import sentiment_notes, summarize_sentiment_day
from shopinsight_pipeline.reports.windows import days_missing, stack, written_or_empty
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
    by_type = event.materialization.metadata["by_type"].value
    assert list(by_type) == sorted(by_type)  # the same findings, the same metadata
    assert by_type == {kind: findings.get_column("type").to_list().count(kind) for kind in by_type}


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


DAY = date(2026, 8, 10)


def test_stack_puts_the_written_days_oldest_first_and_an_empty_window_gives_the_empty_frame():
    days = {"2026-08-10": pl.DataFrame({"x": [3]}), "2026-08-08": pl.DataFrame({"x": [1.5]})}
    assert stack(days).get_column("x").to_list() == [1.5, 3.0]  # relaxed: Int64 and Float64 meet
    assert stack({}).shape == (0, 0)
    empty = pl.DataFrame(schema={"x": pl.Int64})
    assert stack({}, empty) is empty


def test_days_missing_counts_the_gaps_since_the_first_written_day():
    assert days_missing({}, DAY) == 0
    assert days_missing({"2026-08-08": 1, "2026-08-10": 1}, DAY) == 1
    assert days_missing({"2026-08-08": 1}, DAY) == 2  # the run date itself not written
    assert days_missing({"2026-08-01": 1, "2026-08-10": 1}, DAY) == 8  # days before the first are not counted


def test_written_or_empty_notes_a_missing_partition():
    notes: list[str] = []
    frame = pl.DataFrame({"x": [1]})
    assert written_or_empty({DAY.isoformat(): frame}, "insights", DAY, notes) is frame and notes == []
    assert written_or_empty({}, "insights", DAY, notes).is_empty()
    assert notes == [f"insights has no partition for {DAY}: its findings are skipped"]


def scores(
    ratings: dict[str, list[int]], rating_label=lambda r: "positive" if r > 3 else "negative" if r < 3 else None
):
    rows = [
        {
            "review_date": DAY,
            "product_id": product,
            "rating": rating,
            "rating_label": rating_label(rating),
            "predicted_label": "negative" if rating <= 3 else "positive",
            "prob_negative": 0.8 if rating <= 3 else 0.1,
            "prob_positive": 0.2 if rating <= 3 else 0.9,
            "model_version": "v1",
        }
        for product, product_ratings in ratings.items()
        for rating in product_ratings
    ]
    schema = {
        "review_date": pl.Date,
        "product_id": pl.String,
        "rating": pl.Int64,
        "rating_label": pl.String,
        "predicted_label": pl.String,
        "prob_negative": pl.Float64,
        "prob_positive": pl.Float64,
        "model_version": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def test_sentiment_notes_explain_products_with_only_neutral_reviews():
    assert sentiment_notes(scores({}), DAY) == f"no validated reviews on {DAY}: the partition is empty"
    assert sentiment_notes(scores({"P1": [5, 1]}), DAY) == "none"
    note = sentiment_notes(scores({"P1": [3, 3], "P2": [5]}), DAY)
    assert note.startswith(f"1 of 2 products have only neutral (3-star) reviews on {DAY}: 3 stars name no class")
    three_class = sentiment_notes(scores({"P1": [3]}, rating_label=lambda r: "neutral"), DAY)
    assert three_class.endswith("their agreement measures the model's neutral class alone")


def test_sentiment_of_a_day_has_the_numbers_of_its_metadata():
    result = summarize_sentiment_day(scores({"P1": [5, 1], "P2": [4]}), ["negative", "positive"], DAY)
    assert result.reviews == 3 and result.note == "none"
    assert result.mean_agreement == pytest.approx(1.0)
    empty = summarize_sentiment_day(scores({}), ["negative", "positive"], DAY)
    assert (empty.reviews, empty.mean_agreement, empty.table.height) == (0, 0.0, 0)


def test_report_kpis_of_a_week():
    sales = pl.DataFrame({"revenue": [1000.4, 2000.0], "orders": [1200, 30]})
    sentiment = pl.DataFrame({"reviews": [10, 30], "share_negative": [0.5, 0.1]})
    forecast = pl.DataFrame({"horizon_day": [1, 2], "revenue": [10.0, 20.0]})
    findings = pl.DataFrame({"severity": ["high", "low", "high"]})
    assert report_kpis(sales, sentiment, forecast, findings) == {
        "revenue, last 7 days": "3,000",
        "orders, last 7 days": "1,230",
        "reviews, last 7 days": "40",
        "negative reviews (model)": "20.0%",
        "forecast revenue, next 2 days": "30",
        "high-severity findings": "2",
    }
    empty = pl.DataFrame()
    assert report_kpis(empty, empty, empty, empty) == {
        "revenue, last 7 days": "n/a",
        "orders, last 7 days": "n/a",
        "reviews, last 7 days": "n/a",
        "high-severity findings": "0",
    }


def test_a_report_without_inputs_is_a_page_that_says_what_is_missing():
    quality = pl.DataFrame(
        {
            "date": [DAY, DAY - timedelta(days=9)],
            "entity": ["orders"] * 2,
            "raw_rows": [100] * 2,
            "rejected_rows": [5] * 2,
        }
    )
    report = build_report(
        DAY,
        insights_today={},
        forecast_today={},
        recent_sales={},
        recent_sentiment={},
        recent_orders={},
        quality=quality,
    )
    assert list(report.files) == ["report.html"] and report.charts == {} and report.findings == 0
    assert report.notes == [
        f"insights has no partition for {DAY}: its findings are skipped",
        f"sales_forecast has no partition for {DAY}: its findings are skipped",
        "no product_sentiment in the last 56 days: no sentiment chart",
        f"aspect_sentiment has no partition for {DAY}: its findings are skipped",
    ]
    assert "no aspect mentions in the last 28 days" in report.files["report.html"].decode("utf-8")
    page = report.files["report.html"].decode("utf-8")
    assert "<td>0.05</td>" in page  # the run date's reject rate
    assert (DAY - timedelta(days=9)).isoformat() not in page  # outside the 8 days of the quality section


def test_the_report_says_why_customers_complain_with_a_chart_and_the_week_s_surges():
    aspects = pl.DataFrame(
        {
            "date": [DAY] * 3,
            "category": ["home", "home", "toys"],
            "product_id": ["P1", "P2", "P3"],
            "aspect": ["packaging", "packaging", "logistics"],
            "mentions_28d": [10, 6, 4],
            "negative_mentions_28d": [8, 0, 1],
        }
    )
    surge = pl.DataFrame(
        {
            "entity": ["P1", "home"],
            "entity_name": ["Oakridge bath towel", None],
            "sentence": [
                "Complaints about packaging of P1 (Oakridge bath towel) rose: ... wrote \u201cbox crushed\u201d",
                "Complaints about packaging of home rose: ...",
            ],
        }
    ).with_columns(rank=pl.Series([1, 2]), severity=pl.Series(["high", "medium"]), type=pl.lit("aspect_negative_surge"))
    report = build_report(
        DAY,
        insights_today={DAY.isoformat(): surge},
        forecast_today={},
        recent_sales={},
        recent_sentiment={},
        recent_orders={},
        quality=pl.DataFrame(
            schema={"date": pl.Date, "entity": pl.String, "raw_rows": pl.Int64, "rejected_rows": pl.Int64}
        ),
        aspects_today={DAY.isoformat(): aspects},
    )
    page = report.files["report.html"].decode("utf-8")
    complaints = page[page.index("<h2>Why customers complain</h2>") :]
    assert complaints.index('alt="Negative share of aspect mentions by category"') < complaints.index("surges")
    assert "box crushed" in complaints  # the surge's sentence with its quotes
    # what each surge is about: a product by its id and name, a category by its name
    assert "<td>P1 (Oakridge bath towel)</td>" in complaints and "<td>home</td>" in complaints
    assert "Negative share of aspect mentions by category" in report.charts
    assert len(report.files) == 2  # the page and the chart's PNG


def test_complaints_by_category_add_up_the_products_of_a_category():
    from shopinsight_pipeline.reports.report import complaints_by_category

    aspects = pl.DataFrame(
        {
            "category": ["home", "home", "toys", "toys"],
            "aspect": ["packaging", "packaging", "logistics", "price"],
            "mentions_28d": [10, 6, 4, 0],
            "negative_mentions_28d": [8, 0, 1, 0],
        }
    )
    assert complaints_by_category(aspects).rows() == [("home", "packaging", 16, 8), ("toys", "logistics", 4, 1)]
