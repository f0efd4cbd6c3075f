"""product_demand_forecast's methods against hand computations, censored days left out, the gate,
and the sample's backtest against the issue's targets (beats seasonal naive on MASE, 80% intervals
cover 75-85%)."""

import functools
import random
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.inventory.assets import demand_metadata
from shopinsight_pipeline.inventory.demand import (
    Backtest,
    DemandForecast,
    DemandSettings,
    backtest,
    bootstrap_means,
    choose,
    demand_history,
    error_ratios,
    forecast_demand,
    holdout_scores,
    mean_intervals,
    sba,
    sba_weekday,
    seasonal_naive,
    span_correlations,
    summarize_backtest,
    tsb,
    weekday_index,
)
from shopinsight_pipeline.inventory.events import parse_sales_events
from shopinsight_pipeline.sample import SampleSpec, generate_orders, make_products, sales_events_csv
from shopinsight_pipeline.sample_stock import recorded_frames, simulate_stock
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets

RUN_DATE = date(2026, 9, 30)


def no_censoring(size: int) -> np.ndarray:
    return np.zeros(size, dtype=bool)


def test_sba_is_crostons_size_over_interval_with_the_bias_correction():
    units = np.array([0, 3, 0, 0, 2], dtype=float)
    forecast = sba(units, no_censoring(5), horizon=3, alpha=0.1)
    # by hand: first demand 3 after 2 days; then 2 after 3 days: size 3 + 0.1 (2 - 3), interval 2 + 0.1 (3 - 2)
    assert forecast.mean == pytest.approx([0.95 * 2.9 / 2.1] * 3)
    assert sba(np.zeros(5), no_censoring(5), horizon=3) is None  # no demand yet: no forecast


def test_sba_weekday_forecasts_the_level_times_each_days_weekday_factor():
    factors = np.array([0.8, 0.8, 0.8, 0.8, 1.0, 1.4, 1.4])
    index = np.tile(factors, 6)  # 5 weeks of history, then the days ahead
    units = 4 * index[:35]  # the same level every day once the weekday is taken out
    forecast = sba_weekday(units, no_censoring(35), horizon=7, index=index, alpha=0.1)
    assert forecast.mean == pytest.approx(0.95 * 4 * factors)  # SBA's level 4 (bias-corrected), per weekday
    totals = np.tile([10, 10, 10, 10, 10, 20, 20], 3).astype(float)
    assert weekday_index(totals, 0, 7) == pytest.approx(np.array([10, 10, 10, 10, 10, 20, 20]) / (90 / 7))
    assert weekday_index(totals[:10], 0, 3) == pytest.approx([1, 1, 1])  # under two weeks: flat


def test_a_censored_day_is_left_out_not_read_as_zero_demand():
    units = np.array([0, 3, 0, 0, 0, 2], dtype=float)
    censored = np.array([False, False, False, True, False, False])  # day 3: the shelf was empty
    with_gap = sba(units, censored, horizon=1, alpha=0.1)
    assert with_gap.mean == pytest.approx(sba(np.array([0, 3, 0, 0, 2.0]), no_censoring(5), 1, 0.1).mean)
    assert with_gap.mean[0] > sba(units, no_censoring(6), 1, 0.1).mean[0]  # read as zero, demand looks lower


def test_tsb_fades_a_product_that_stops_selling():
    units = np.array([2, 0, 0, 0], dtype=float)
    forecast = tsb(units, no_censoring(4), horizon=2, alpha=0.5, alpha_probability=0.5)
    assert forecast.mean == pytest.approx([0.125 * 2] * 2)  # probability 1 -> 0.5 -> 0.25 -> 0.125, size 2
    sba_forecast = sba(units, no_censoring(4), horizon=2, alpha=0.5)
    assert sba_forecast.mean[0] == pytest.approx(0.75 * 2 / 1)  # Croston keeps its last rate


def test_seasonal_naive_repeats_the_last_week_and_skips_a_censored_day():
    week = np.array([1, 2, 3, 4, 5, 6, 7], dtype=float)
    units = np.concatenate([week, week])
    censored = no_censoring(14)
    censored[12] = True  # the second Saturday sold out: last week's 6 stands in
    units[12] = 0
    forecast = seasonal_naive(units, censored, horizon=9)
    assert forecast.mean == pytest.approx([1, 2, 3, 4, 5, 6, 7, 1, 2])


def test_days_whose_level_moves_together_show_correlated_errors_and_independent_days_do_not():
    rng = np.random.default_rng(3)
    independent = rng.poisson(5, (20, 91)).astype(float)
    weekly_levels = np.repeat(rng.choice([1.0, 12.0], (20, 13)), 7, axis=1)  # each week busy or quiet as a whole
    shifting = rng.poisson(weekly_levels).astype(float)
    week = 7 - 1  # the estimate for sums over 7 days

    def correlations(products: np.ndarray) -> np.ndarray:
        return span_correlations(np.array([error_ratios(units, no_censoring(91), 28) for units in products]))

    assert correlations(independent)[week] < 0.1
    assert correlations(shifting)[week] > 0.4
    assert np.isnan(error_ratios(independent[0, :7], no_censoring(7), 28)[1:]).all()  # not 4 blocks of 2 days
    short = np.array([error_ratios(units, no_censoring(7), 28) for units in independent[:, :7]])
    assert span_correlations(short) == pytest.approx([0.5] * 28)  # nothing estimated: the fallback


def test_a_span_too_long_to_estimate_takes_the_longest_estimated_one():
    rng = np.random.default_rng(5)
    units = rng.poisson(np.repeat(rng.choice([1.0, 12.0], 13), 7)).astype(float)
    by_span = span_correlations(error_ratios(units, no_censoring(91), 28)[None, :])
    assert by_span[0] == 0  # one day: nothing to correlate
    longest = 91 // 4  # four blocks of this many days still fit in 91 days (the first has no forecast yet)
    assert np.isfinite(by_span).all() and by_span[longest:] == pytest.approx([by_span[longest - 1]] * (28 - longest))


def test_quantiles_are_whole_ordered_units_not_below_zero():
    rng = np.random.default_rng(0)
    units = rng.poisson(1.5, 60).astype(float)
    quantiles = sba(units, no_censoring(60), horizon=5).quantiles()
    low, middle, high = (quantiles[level] for level in (0.1, 0.5, 0.9))
    assert (low >= 0).all() and (low <= middle).all() and (middle <= high).all() and (high > low).any()
    assert all(np.array_equal(values, np.round(values)) for values in quantiles.values())


def test_the_gate_keeps_a_weekly_pattern_on_seasonal_naive_and_gives_lumpy_demand_to_sba():
    settings = DemandSettings()
    weekly = np.tile([0, 0, 0, 0, 0, 12, 12], 13).astype(float)  # sells on weekends only
    result = backtest(weekly, no_censoring(weekly.size), settings)
    assert choose(result, settings, start="sba")[0] == "seasonal_naive"
    rng = np.random.default_rng(1)
    lumpy = (rng.random(91) < 0.3) * rng.integers(1, 6, 91).astype(float)  # random days, random sizes
    result = backtest(lumpy, no_censoring(91), settings)
    assert choose(result, settings, start="sba")[0] == "sba"  # seasonal naive does not beat it


def test_a_product_without_sales_gets_a_note_and_no_rows_and_one_too_new_no_backtest_score():
    orders = pl.DataFrame(
        {
            "product_id": ["P1"] * 3,
            "order_date": [RUN_DATE - timedelta(days=n) for n in (1, 5, 9)],
            "quantity": [2, 1, 3],
            "status": ["delivered"] * 3,
        }
    )
    stock = pl.DataFrame(schema={"date": pl.Date, "product_id": pl.String, "on_hand": pl.Int32})
    history = demand_history(orders, stock, ["P1", "P2"], RUN_DATE - timedelta(days=90), RUN_DATE)
    result = forecast_demand(history, RUN_DATE, {"P1": "home", "P2": "home"})
    assert set(result.table["product_id"]) == {"P1"} and result.table.height == DemandSettings().horizon
    assert any(note.startswith("P2: no sale") for note in result.notes)
    assert result.table["backtest_mase"].is_null().all() and result.table["backtest_coverage80"].is_null().all()


@functools.cache
def sample_forecast(with_calendar: bool) -> DemandForecast:
    spec = SampleSpec()
    rng = random.Random(spec.seed)
    products = make_products(rng, spec.products_per_category)
    stock = simulate_stock(generate_orders(spec, products, rng), products, spec.products_per_category)
    orders, counts = recorded_frames(stock)
    last = max(stock.rows)
    history = demand_history(orders, counts, [p.product_id for p in products], last - timedelta(days=90), last)
    assert history.censored.sum() > 0  # the sample's stock-outs are there to be left out
    events = parse_sales_events(sales_events_csv(spec), "sales_events.csv") if with_calendar else []
    categories = {p.product_id: p.category for p in products}
    return forecast_demand(history, last, categories, events=events)


def sample_backtest(with_calendar: bool) -> pl.DataFrame:
    return summarize_backtest(sample_forecast(with_calendar).scores)


def test_knowing_the_sample_sale_lowers_every_methods_quantile_loss():
    """The backtest scores the two sale days either way (pinball is in units: comparable)."""
    blind, knowing = (
        {row["method"]: row["pinball"] for row in sample_backtest(with_calendar).iter_rows(named=True)}
        for with_calendar in (False, True)
    )
    assert all(knowing[method] < blind[method] for method in ("seasonal_naive", "sba", "tsb", "sba_weekday"))


def test_on_the_sample_the_served_forecast_beats_seasonal_naive_and_its_intervals_cover_about_80_percent():
    summary = {row["method"]: row for row in sample_backtest(with_calendar=True).iter_rows(named=True)}
    assert summary["served"]["mase"] < summary["seasonal_naive"]["mase"]
    assert summary["category_share"]["mase"] > 0  # the category forecast split by share is scored beside them
    assert 0.75 <= summary["served"]["coverage80"] <= 0.85
    for name in ("mase", "coverage"):  # each with its interval over resampled products around it
        point = summary["served"]["mase" if name == "mase" else "coverage80"]
        assert summary["served"][f"{name}_low"] < point < summary["served"][f"{name}_high"]


def test_the_operator_sees_the_backtest_with_its_intervals_as_a_table_and_a_chart():
    result = sample_forecast(with_calendar=True)
    metadata = demand_metadata(result.scores, result.notes, 0)
    assert metadata["backtest_chart"].value.startswith("![backtest](data:image/png;base64,")
    header = metadata["backtest"].value.splitlines()[0]
    columns = {column.strip() for column in header.split("|")}
    assert {"mase", "mase_low", "mase_high", "coverage80", "coverage_low", "coverage_high"} <= columns


def test_each_products_rows_carry_its_served_methods_own_backtest_score():
    """An analyst filters the products whose forecast to distrust without reading the metadata."""
    result = sample_forecast(with_calendar=True)
    served = result.scores.filter(pl.col("serves")).select("product_id", "mase", "coverage80")
    carried = result.table.select("product_id", "backtest_mase", "backtest_coverage80").unique()
    assert carried.height == served.height == result.table["product_id"].n_unique()  # one score per product
    joined = carried.join(served, on="product_id")
    assert joined.height == served.height
    assert (joined["backtest_mase"] == joined["mase"]).all()
    assert (joined["backtest_coverage80"] == joined["coverage80"]).all()


def test_a_mean_over_products_comes_with_the_interval_its_sampling_noise_gives():
    """400 draws of a standard normal: the mean's 95% interval is about +-1.96/20 wide around the
    sample mean; weights make it the interval of the weighted mean, and a NaN score weighs nothing."""
    values = np.random.default_rng(3).normal(size=400)
    heavy = np.arange(400) < 200
    shifted = np.where(heavy, values + 1, values)  # the heavy half sits one higher: unweighted mean ~0.5
    with_nan = np.where(np.arange(400) % 4 == 0, np.nan, values)
    columns = np.column_stack([values, shifted, with_nan])
    weights = np.column_stack([np.ones(400), np.where(heavy, 3.0, 1.0), np.ones(400)])
    (low, high), (weighted_low, weighted_high), (nan_low, nan_high) = mean_intervals(columns, weights)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 / 20, rel=0.15)
    assert weighted_low < np.average(shifted, weights=weights[:, 1]) < weighted_high and weighted_low > 0.5
    assert nan_low < np.nanmean(with_nan) < nan_high
    assert nan_high - nan_low == pytest.approx(2 * 1.96 / np.sqrt(300), rel=0.15)  # 300 scored products
    assert np.isnan(mean_intervals(np.array([[1.0]]))).all()  # one product: no interval


def test_the_asset_writes_a_forecast_that_passes_its_gold_checks(lake, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(lake.root, root)
    day = lake.days[-1]
    result = materialize_assets(
        root, DagsterInstance.ephemeral(), ["product_demand_forecast"], partition_key=day.isoformat()
    )
    assert result.success
    table = LakeStorage(root=str(root)).read_partition("product_demand_forecast", day)
    assert table.height > 0 and table["horizon_day"].max() == DemandSettings().horizon
    assert (table["p10"] <= table["p90"]).all() and set(table["category"]) - {"unknown"}
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "row_count_in_bounds"]
    assert check.passed


def test_the_holdout_scores_the_method_chosen_without_the_last_week_on_that_week():
    """sba wins the first three weeks and loses the last: the holdout reports sba's last week (the
    choice it would have made), not the better seasonal naive the full backtest would pick."""
    actual = np.full(28, 4.0)
    sba_days = np.concatenate([np.full(21, 4.0), np.full(7, 9.0)])  # right, then 5 units off
    naive_days = np.full(28, 6.0)  # 2 units off throughout
    predictions = {method: {"mean": naive_days} for method in ("seasonal_naive", "tsb", "sba_weekday")}
    predictions["sba"] = {"mean": sba_days}
    result = Backtest(actual, predictions, mase_scale=1.0, rmsse_scale=1.0, last_origin_days=7)
    holdout = holdout_scores({"P1": result}, DemandSettings())
    assert holdout["served_mase"] == pytest.approx(5.0) and holdout["seasonal_naive_mase"] == pytest.approx(2.0)


def test_the_gate_compares_squared_errors_so_forecasting_zero_does_not_win_intermittent_demand():
    """A product selling 10 units on one day in five: always forecasting 0 has the lower absolute
    error (MASE's choice), the mean of 2 the lower squared error; the plan sums means over a lead time."""
    actual = np.tile([10.0, 0, 0, 0, 0], 30)  # enough days to be beyond the noise
    predictions = {method: {"mean": np.zeros(150)} for method in ("seasonal_naive", "tsb", "sba_weekday")}
    predictions["sba"] = {"mean": np.full(150, 2.0)}
    result = Backtest(actual, predictions, mase_scale=1.0, rmsse_scale=1.0)
    assert choose(result, DemandSettings())[0] == "sba"
    assert choose(result, DemandSettings(gate="absolute"))[0] == "seasonal_naive"


def test_a_slow_movers_spread_is_kept_where_its_p10_and_p90_are_both_zero():
    units = np.zeros(91)
    units[::15] = 12.0  # one order of 12 every 15 days
    forecast = sba(units, no_censoring(91), horizon=7)
    quantiles = forecast.quantiles()
    assert (quantiles[0.1] == 0).all() and (quantiles[0.9] == 0).all()  # under one selling day in ten
    assert (forecast.spread() > 2).all()  # what the plan sums over a lead time


def test_an_assortments_bootstrap_drawn_in_chunks_is_the_same_as_one_matrix(monkeypatch):
    from shopinsight_pipeline.inventory import demand

    difference = np.random.default_rng(2).normal(0, 1, 5_000)
    chunked = bootstrap_means(difference, DemandSettings())
    monkeypatch.setattr(demand, "CACHED_BOOTSTRAP_SIZE", 10_000)  # the whole matrix at once
    assert chunked == pytest.approx(bootstrap_means(difference, DemandSettings()))
