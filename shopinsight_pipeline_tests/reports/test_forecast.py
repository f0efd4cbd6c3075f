"""Trend and forecast functions on series whose answers are known by construction."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from shopinsight_pipeline.reports.forecast import (
    ForecastSettings,
    accuracy,
    backtest,
    backtest_table,
    forecast_day,
    forecast_sales,
    forecast_series,
    seasonal_naive,
)
from shopinsight_pipeline.reports.trends import complete_daily_grid, summarize_category_trends, summarize_trends_day

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
    forecast, backtests = forecast_sales(grid, date(2026, 9, 25))
    assert forecast.height == 28
    assert forecast.filter(pl.col("category") == "old").get_column("target_date").min() == date(2026, 9, 26)
    assert set(backtests) == {"old", "new"}
    assert (forecast.get_column("revenue_lo95") >= 0).all()


def test_trends_moving_averages_growth_and_an_anomaly():
    series = np.tile(WEEK, 8) + np.random.default_rng(1).normal(0, 3, 56)
    series[-1] = WEEK[-1] * 4  # the last day breaks the weekly pattern
    sales = sales_frame({"books": list(series)})
    day = date(2026, 8, 1) + timedelta(days=len(series) - 1)
    [row] = summarize_category_trends(sales, day).to_dicts()
    assert row["revenue_ma7"] == pytest.approx(series[-7:].mean())
    assert row["revenue_ma28"] == pytest.approx(series[-28:].mean())
    assert row["wow_growth"] == pytest.approx(series[-7:].sum() / series[-14:-7].sum() - 1)
    assert row["growth_28d"] == pytest.approx(series[-28:].sum() / series[-56:-28].sum() - 1)
    assert row["anomaly"] is True
    [previous] = summarize_category_trends(sales, day - timedelta(days=1)).to_dicts()
    assert previous["anomaly"] is False


def test_trends_with_one_day_of_history_still_give_a_row_with_a_note():
    sales = sales_frame({"toys": [10.0]})
    [row] = summarize_category_trends(sales, date(2026, 8, 1)).to_dicts()
    assert row["revenue"] == 10.0
    assert row["revenue_ma7"] is None
    assert "only 1 days of history" in row["note"]


def test_a_category_first_sold_on_the_run_date_has_one_day_of_history_not_weeks_of_zeros():
    old = list(np.tile(WEEK, 8))
    run_date = date(2026, 8, 1) + timedelta(days=len(old) - 1)
    sales = pl.concat(
        [sales_frame({"old": old}), sales_frame({"garden": [70.0]}, start=run_date)], how="vertical_relaxed"
    )
    rows = {row["category"]: row for row in summarize_category_trends(sales, run_date).to_dicts()}
    assert rows["garden"]["revenue"] == 70.0
    assert "only 1 days of history" in rows["garden"]["note"]
    assert rows["garden"]["wow_growth"] is None and rows["garden"]["revenue_ma7"] is None
    assert rows["old"]["note"] is None

    grid = complete_daily_grid(sales, run_date - timedelta(days=90), run_date)
    assert grid.filter(pl.col("category") == "garden").height == 1
    forecast, _ = forecast_sales(grid, run_date)
    garden = forecast.filter(pl.col("category") == "garden")
    assert garden.height == 14
    assert set(garden.get_column("revenue_method")) == {"naive"}
    assert garden.get_column("note").str.contains("1 days of history").all()
    assert (garden.get_column("revenue") == 70.0).all()


def test_growth_is_null_not_infinite_after_a_period_without_sales():
    series = [0.0] * 7 + [10.0] * 7
    [row] = summarize_category_trends(sales_frame({"toys": series}), date(2026, 8, 14)).to_dicts()
    assert row["wow_growth"] is None


def by_day(sales: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """daily_sales rows as the partitions of a window: date -> that day's rows."""
    return {day.isoformat(): sales.filter(pl.col("date") == day) for day in sales.get_column("date").unique()}


def test_trends_of_a_day_count_the_unwritten_days_of_the_window():
    series = np.tile(WEEK, 8) + np.random.default_rng(1).normal(0, 3, 56)
    series[-1] = WEEK[-1] * 4
    days = by_day(sales_frame({"books": list(series)}))
    day = date(2026, 8, 1) + timedelta(days=55)
    del days[(day - timedelta(days=3)).isoformat()]
    result = summarize_trends_day(days, day)
    assert result.anomalies == ["books"]
    assert result.history_days_missing == 1
    assert result.table.equals(summarize_category_trends(pl.concat([days[key] for key in sorted(days)]), day))


def test_forecast_of_a_day_reports_fallbacks_backtests_and_the_chart_history():
    series = np.tile(WEEK, 8) + np.random.default_rng(2).normal(0, 4, 56)
    day = date(2026, 8, 1) + timedelta(days=55)
    sales = pl.concat([sales_frame({"old": list(series)}), sales_frame({"new": [50.0]}, start=day)])
    days = by_day(sales)
    del days[(day - timedelta(days=10)).isoformat()]
    result = forecast_day(days, day, ForecastSettings(horizon=7))
    assert result.table.height == 2 * 7 and result.history_days_missing == 1
    assert list(result.fallbacks) == ["new"] and "1 days of history" in result.fallbacks["new"]
    assert result.backtests["new"] == {"revenue": None, "units": None}
    revenue = result.backtests["old"]["revenue"]
    assert result.revenue_mase == revenue["method"]["mase"]  # the mean over the one backtested category
    assert result.revenue_mase_seasonal_naive == revenue["seasonal_naive"]["mase"]
    assert result.chart_history is not None
    assert result.chart_history.get_column("date").min() == day - timedelta(days=41)  # six weeks
    assert result.chart_history.filter(pl.col("date") == day - timedelta(days=10)).get_column("revenue").to_list() == [
        0.0
    ]  # the unwritten day reads as a day without sales


def test_forecast_of_a_day_with_a_short_history_says_why_it_fell_back():
    days = by_day(sales_frame({"new": [50.0, 60.0, 55.0]}))
    result = forecast_day(days, date(2026, 8, 3))
    assert "3 days of history" in result.fallbacks["new"]
    assert result.backtests == {"new": {"revenue": None, "units": None}}
    assert result.revenue_mase is None and result.revenue_mase_seasonal_naive is None
    assert "too little history to backtest" in backtest_table(result.backtests)


def test_backtest_table_has_a_row_per_category_and_measure():
    fit = {"mae": 1.234, "smape": 5.678, "mase": 0.9012}
    lines = backtest_table(
        {"b": {"revenue": {"method": fit, "seasonal_naive": fit}}, "a": {"units": None}}
    ).splitlines()
    assert len(lines) == 4  # header, rule, one row per (category, measure)
    assert lines[2].split("|")[1].strip() == "a"  # sorted by category
    assert "| 1.2 " in lines[3] and "| 5.7 " in lines[3] and "| 0.90 " in lines[3]


def test_a_run_date_whose_window_has_no_written_day_gives_empty_tables_of_the_schema():
    """A run date before the lake's first daily_sales day (a backfill started too early): nothing to
    trend or forecast, and no crash on a window without columns."""
    from shopinsight_pipeline.reports.forecast import forecast_day
    from shopinsight_pipeline.reports.trends import summarize_trends_day
    from shopinsight_pipeline.schemas import FORECAST_SCHEMA, TRENDS_SCHEMA

    trends = summarize_trends_day({}, date(2026, 8, 1))
    assert trends.table.is_empty() and dict(trends.table.schema) == TRENDS_SCHEMA
    assert trends.anomalies == [] and trends.history_days_missing == 0
    forecast = forecast_day({}, date(2026, 8, 1))
    assert forecast.table.is_empty() and dict(forecast.table.schema) == FORECAST_SCHEMA
    assert forecast.backtests == {} and forecast.chart_history is None and forecast.revenue_mase is None
