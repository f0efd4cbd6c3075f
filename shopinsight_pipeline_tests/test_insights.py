"""Insights from hand-made inputs: which findings, their order, and sentences built only from row numbers."""

import re
from datetime import date, timedelta

import polars as pl
import pytest

from shopinsight_pipeline.reports.insights import InsightInputs, InsightSettings, build_insights, two_proportion_p
from shopinsight_pipeline.schemas import TRENDS_SCHEMA

RUN = date(2026, 9, 30)


def sentiment_rows(product: str, start: date, days: int, reviews: int, negative_share: float) -> list[dict]:
    return [
        {
            "date": start + timedelta(days=i),
            "product_id": product,
            "reviews": reviews,
            "share_negative": negative_share,
            "model_rating_agreement": 0.9,
        }
        for i in range(days)
    ]


def inputs(**overrides) -> InsightInputs:
    trends = pl.DataFrame(
        {
            "date": [RUN] * 3,
            "category": ["toys", "books", "home"],
            "revenue": [900.0, 100.0, 120.0],
            "revenue_ma28": [100.0, 50.0, 80.0],
            "growth_28d": [0.4, -0.25, 0.05],
            "seasonal_residual": [700.0, 0.0, 1.0],
            "robust_z": [8.0, 0.0, 0.1],
            "anomaly": [True, False, False],
        }
    )
    forecast = pl.DataFrame({"horizon_day": list(range(1, 15)), "revenue": [110.0] * 14})
    recent_sales = pl.DataFrame({"date": [RUN - timedelta(days=i) for i in range(14)], "revenue": [100.0] * 14})
    earlier_start, recent_start = RUN - timedelta(days=34), RUN - timedelta(days=6)
    sentiment = pl.DataFrame(
        sentiment_rows("PJUMP", earlier_start, 28, 4, 0.25)
        + sentiment_rows("PJUMP", recent_start, 7, 3, 1.0)
        + sentiment_rows("PFEW", earlier_start, 28, 0, 0.0)
        + sentiment_rows("PFEW", recent_start, 1, 5, 1.0)
    )
    product_units = pl.DataFrame({"product_id": ["PJUMP", "POTHER", "PTHIRD", "PFEW"], "units": [500, 10, 20, 5]})
    quality = pl.DataFrame(
        {
            "date": [RUN - timedelta(days=i) for i in range(8)],
            "entity": ["orders"] * 8,
            "raw_rows": [100] * 8,
            "rejected_rows": [20] + [2] * 7,
        }
    )
    values = {
        "run_date": RUN,
        "trends": trends,
        "forecast": forecast,
        "recent_sales": recent_sales,
        "sentiment": sentiment,
        "product_units": product_units,
        "quality": quality,
    }
    return InsightInputs(**(values | overrides))


def test_findings_ranked_by_severity_with_the_expected_types():
    insights = build_insights(inputs())
    kinds = set(insights.get_column("type"))
    assert kinds >= {
        "fastest_growing_category",
        "fastest_falling_category",
        "forecast_vs_last_period",
        "negative_share_jump",
        "high_sales_poor_sentiment",
        "anomalous_day",
        "data_quality",
    }
    assert insights.get_column("rank").to_list() == list(range(1, insights.height + 1))
    order = insights.get_column("severity").replace_strict({"high": 0, "medium": 1, "low": 2}).to_list()
    assert order == sorted(order)
    growing = insights.filter(pl.col("type") == "fastest_growing_category").row(0, named=True)
    assert growing["entity"] == "toys"
    assert growing["value"] == pytest.approx(2800.0) and growing["reference"] == pytest.approx(2000.0)
    forecast = insights.filter(pl.col("type") == "forecast_vs_last_period").row(0, named=True)
    assert (
        forecast["sentence"] == "Revenue of the next 14 days is forecast at 1,540, +10.0% vs the last 14 days (1,400)."
    )


def test_minimum_evidence_keeps_thin_products_out():
    insights = build_insights(inputs())
    assert "PFEW" not in insights.filter(pl.col("type") == "negative_share_jump").get_column("entity").to_list()
    assert "PJUMP" in insights.filter(pl.col("type") == "negative_share_jump").get_column("entity").to_list()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_number_in_a_sentence_is_in_the_row(language):
    insights = build_insights(inputs(), InsightSettings(language=language))
    for row in insights.iter_rows(named=True):
        rest = row["sentence"].replace(row["entity"], "")
        for number in sorted(row["numbers"], key=len, reverse=True):
            rest = rest.replace(number, "")
        assert not re.search(r"\d", rest), row["sentence"]
    if language == "zh":
        assert all(re.search(r"[\u4e00-\u9fff]", s) for s in insights.get_column("sentence"))


def test_two_proportion_p_value_by_hand():
    # 21/21 vs 0/56: pooled 21/77; z = 1 / sqrt(p(1-p)(1/21+1/56)) ~= 8.77 -> p far below 0.001
    assert two_proportion_p(21, 21, 0, 56) < 1e-10
    assert two_proportion_p(5, 10, 5, 10) == pytest.approx(0.5)


def test_empty_inputs_give_an_empty_table_with_notes():
    empty = inputs(
        trends=pl.DataFrame(schema=TRENDS_SCHEMA),
        forecast=pl.DataFrame(),
        recent_sales=pl.DataFrame(),
        sentiment=pl.DataFrame(),
        product_units=pl.DataFrame(),
        quality=pl.DataFrame(
            schema={"date": pl.Date, "entity": pl.String, "raw_rows": pl.Int64, "rejected_rows": pl.Int64}
        ),
    )
    insights = build_insights(empty)
    assert insights.is_empty()
    assert any("no product_sentiment" in note for note in empty.notes)
