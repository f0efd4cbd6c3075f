"""Trend and forecast functions on series whose answers are known by construction."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.reports.forecast import (
    ForecastSettings,
    accuracy,
    backtest,
    forecast_series,
    sales_forecast,
    seasonal_naive,
)
from shopinsight_pipeline.reports.trends import category_trends, complete_daily_grid

WEEK = np.array([100, 80, 90, 95, 120, 200, 180], dtype=float)


def sales_frame(values: dict[str, list[float]], start: date = date(2026, 8, 1)) -> pl.DataFrame:
    rows = [
        {"date": start + timedelta(days=i), "category": category, "revenue": value, "units": int(value // 10)}
        for category, series in values.items()
        for i, value in enumerate(series)
    ]
    return pl.DataFrame(rows)


def test_seasonal_naive_repeats_the_last_week():
    history = np.tile(WEEK, 3)
    result = seasonal_naive(history, 10, 7)
    assert result.mean.tolist() == [*WEEK.tolist(), *WEEK[:3].tolist()]
    low, high = result.bounds[0.95]
    assert (low == result.mean).all() and (high == result.mean).all()  # a perfectly weekly series: no spread


def test_accuracy_metrics_by_hand():
    metrics = accuracy(np.array([10.0, 0.0, 20.0]), np.array([12.0, 0.0, 10.0]), scale=4.0)
    assert metrics["mae"] == pytest.approx(12 / 3)
    assert metrics["smape"] == pytest.approx(100 * (2 * 2 / 22 + 0 + 2 * 10 / 30) / 3)
    assert metrics["mase"] == pytest.approx(1.0)


def test_model_beats_seasonal_naive_on_a_trending_weekly_series():
    rng = np.random.default_rng(0)
    days = 63
    history = np.tile(WEEK, days // 7) + np.arange(days) * 3.0 + rng.normal(0, 4, days)
    result = backtest(history, ForecastSettings())
    assert result["method"]["mase"] < result["seasonal_naive"]["mase"]
    forecast = forecast_series(history, ForecastSettings())
    assert forecast.method == "ets_damped_additive"
    low80, high80 = forecast.bounds[0.8]
    low95, high95 = forecast.bounds[0.95]
    assert (low95 <= low80).all() and (low80 <= forecast.mean).all() and (forecast.mean <= high80).all()
    assert (high80 <= high95).all()


@pytest.mark.parametrize(
    ("history", "method", "note"),
    [
        (np.array([5.0]), "naive", "1 days of history"),
        (np.tile(WEEK, 2), "seasonal_naive", "14 days of history"),
        (np.zeros(60), "seasonal_naive", "constant series"),
    ],
)
def test_short_and_degenerate_histories_fall_back_and_say_so(history, method, note):
    result = forecast_series(history, ForecastSettings())
    assert result.method == method
    assert note in result.note
    assert len(result.mean) == 14 and np.isfinite(result.mean).all()


def test_sales_forecast_rows_and_a_new_category():
    grid = complete_daily_grid(
        sales_frame({"old": list(np.tile(WEEK, 8)), "new": [50.0, 60.0]}, start=date(2026, 8, 1)),
        date(2026, 8, 1),
        date(2026, 9, 25),
    )
    assert grid.filter(pl.col("category") == "new").get_column("revenue").sum() == 110.0  # zeros fill the gap
    forecast, backtests = sales_forecast(grid, date(2026, 9, 25))
    assert forecast.height == 28
    assert forecast.filter(pl.col("category") == "old").get_column("target_date").min() == date(2026, 9, 26)
    assert set(backtests) == {"old", "new"}
    assert (forecast.get_column("revenue_lo95") >= 0).all()


def test_trends_moving_averages_growth_and_an_anomaly():
    series = np.tile(WEEK, 8) + np.random.default_rng(1).normal(0, 3, 56)
    series[-1] = WEEK[-1] * 4  # the last day breaks the weekly pattern
    sales = sales_frame({"books": list(series)})
    day = date(2026, 8, 1) + timedelta(days=len(series) - 1)
    [row] = category_trends(sales, day).to_dicts()
    assert row["revenue_ma7"] == pytest.approx(series[-7:].mean())
    assert row["revenue_ma28"] == pytest.approx(series[-28:].mean())
    assert row["wow_growth"] == pytest.approx(series[-7:].sum() / series[-14:-7].sum() - 1)
    assert row["growth_28d"] == pytest.approx(series[-28:].sum() / series[-56:-28].sum() - 1)
    assert row["anomaly"] is True
    [previous] = category_trends(sales, day - timedelta(days=1)).to_dicts()
    assert previous["anomaly"] is False


def test_trends_with_one_day_of_history_still_give_a_row_with_a_note():
    sales = sales_frame({"toys": [10.0]})
    [row] = category_trends(sales, date(2026, 8, 1)).to_dicts()
    assert row["revenue"] == 10.0
    assert row["revenue_ma7"] is None
    assert "only 1 days of history" in row["note"]


def test_a_category_first_sold_on_the_run_date_has_one_day_of_history_not_weeks_of_zeros():
    old = list(np.tile(WEEK, 8))
    run_date = date(2026, 8, 1) + timedelta(days=len(old) - 1)
    sales = pl.concat(
        [sales_frame({"old": old}), sales_frame({"garden": [70.0]}, start=run_date)], how="vertical_relaxed"
    )
    rows = {row["category"]: row for row in category_trends(sales, run_date).to_dicts()}
    assert rows["garden"]["revenue"] == 70.0
    assert "only 1 days of history" in rows["garden"]["note"]
    assert rows["garden"]["wow_growth"] is None and rows["garden"]["revenue_ma7"] is None
    assert rows["old"]["note"] is None

    grid = complete_daily_grid(sales, run_date - timedelta(days=90), run_date)
    assert grid.filter(pl.col("category") == "garden").height == 1
    forecast, _ = sales_forecast(grid, run_date)
    garden = forecast.filter(pl.col("category") == "garden")
    assert garden.height == 14
    assert set(garden.get_column("revenue_method")) == {"naive"}
    assert garden.get_column("note").str.contains("1 days of history").all()
    assert (garden.get_column("revenue") == 70.0).all()


def test_growth_is_null_not_infinite_after_a_period_without_sales():
    series = [0.0] * 7 + [10.0] * 7
    [row] = category_trends(sales_frame({"toys": series}), date(2026, 8, 14)).to_dicts()
    assert row["wow_growth"] is None
