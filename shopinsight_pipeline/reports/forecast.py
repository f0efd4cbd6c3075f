"""sales_forecast: per category, the next days' revenue and units with 80% and 95% intervals.

Method: additive-error ETS with a damped additive trend and additive weekly seasonality
(statsmodels' ETSModel, fitted by maximum likelihood), with prediction intervals from simulated
paths of the fitted model. It is always backtested against the seasonal-naive forecast (same weekday last week) on
rolling origins over the last 28 days: MAE, sMAPE and MASE for both (MASE < 1: better than
seasonal naive in-sample). Short histories, all-zero series and failed fits fall back to seasonal
naive (or the last value, under a week of history) and say so in `method` and `note`.
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.markdown import table
from shopinsight_pipeline.reports.trends import complete_daily_grid, first_date
from shopinsight_pipeline.reports.windows import days_missing, stack
from shopinsight_pipeline.schemas import DAILY_SALES_SCHEMA, FORECAST_SCHEMA

Z = {0.80: 1.2815515655446004, 0.95: 1.959963984540054}


@dataclass(frozen=True)
class ForecastSettings:
    horizon: int = 14
    season: int = 7
    backtest_days: int = 28
    backtest_step: int = 7  # a new forecast origin every week of the backtest
    min_history_for_model: int = 35  # five weeks: fewer and ETS falls back to seasonal naive
    levels: tuple[float, ...] = field(default=(0.80, 0.95))


@dataclass
class SeriesForecast:
    mean: np.ndarray
    bounds: dict[float, tuple[np.ndarray, np.ndarray]]
    method: str
    note: str | None = None


def seasonal_naive(history: np.ndarray, horizon: int, season: int, levels=(0.80, 0.95)) -> SeriesForecast:
    """Repeat the last season; intervals from the spread of in-sample seasonal differences, widening
    with the number of seasons ahead. Under one season of history: repeat the last value."""
    if len(history) == 0:
        raise ValueError("cannot forecast an empty series")
    if len(history) < season:
        mean = np.full(horizon, history[-1], dtype=float)
        spread, periods, method = (
            np.std(np.diff(history)) if len(history) > 1 else 0.0,
            np.arange(1, horizon + 1),
            "naive",
        )
    else:
        last = history[-season:]
        mean = np.array([last[step % season] for step in range(horizon)], dtype=float)
        errors = history[season:] - history[:-season]
        spread = float(np.std(errors)) if len(errors) > 1 else 0.0
        periods, method = np.arange(horizon) // season + 1, "seasonal_naive"
    bounds = {
        level: (
            np.maximum(mean - Z[level] * spread * np.sqrt(periods), 0.0),
            mean + Z[level] * spread * np.sqrt(periods),
        )
        for level in levels
    }
    return SeriesForecast(mean, bounds, method)


def ets(history: np.ndarray, horizon: int, season: int, levels=(0.80, 0.95)) -> SeriesForecast:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        history.astype(float), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=season
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a bad fit shows in the backtest
        fitted = model.fit(disp=False, maxiter=200)
        mean = np.asarray(fitted.forecast(horizon), dtype=float)
        # Intervals from 1,000 seeded simulations of the fitted model (its analytic prediction
        # summary fails in statsmodels 0.15 with pandas 2.3).
        paths = np.asarray(fitted.simulate(horizon, anchor="end", repetitions=1000, rng=np.random.default_rng(0)))
    paths = paths.reshape(horizon, -1)
    bounds = {
        level: (
            np.maximum(np.quantile(paths, (1 - level) / 2, axis=1), 0.0),
            np.quantile(paths, 1 - (1 - level) / 2, axis=1),
        )
        for level in levels
    }
    if not np.all(np.isfinite(mean)):
        raise FloatingPointError("ETS produced non-finite forecasts")
    return SeriesForecast(np.maximum(mean, 0.0), bounds, "ets_damped_additive")


def forecast_series(history: np.ndarray, settings: ForecastSettings) -> SeriesForecast:
    """ETS where the history supports it, seasonal naive otherwise, with the reason."""
    if len(history) < settings.min_history_for_model:
        result = seasonal_naive(history, settings.horizon, settings.season, settings.levels)
        result.note = f"{len(history)} days of history (< {settings.min_history_for_model}): {result.method} fallback"
        return result
    if np.all(history == history[0]):
        result = seasonal_naive(history, settings.horizon, settings.season, settings.levels)
        result.note = "constant series: seasonal_naive fallback"
        return result
    try:
        return ets(history, settings.horizon, settings.season, settings.levels)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:
        result = seasonal_naive(history, settings.horizon, settings.season, settings.levels)
        result.note = f"ETS failed ({error}): seasonal_naive fallback"
        return result


def accuracy(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, sMAPE (in %, 0 where both are 0) and MASE (MAE / in-sample seasonal-naive MAE)."""
    errors = np.abs(actual - predicted)
    denominator = np.abs(actual) + np.abs(predicted)
    smape = np.where(denominator > 0, 2 * errors / np.where(denominator > 0, denominator, 1), 0.0)
    return {
        "mae": float(errors.mean()),
        "smape": float(100 * smape.mean()),
        "mase": float(errors.mean() / scale) if scale > 0 else float("nan"),
    }


def backtest(history: np.ndarray, settings: ForecastSettings) -> dict[str, dict[str, float]] | None:
    """Rolling-origin backtest over the last `backtest_days`: the method against seasonal naive.
    None when the history is too short to hold out the backtest and still fit."""
    season, days = settings.season, settings.backtest_days
    if len(history) < days + 2 * season:
        return None
    actual, ours, naive = [], [], []
    for origin in range(len(history) - days, len(history), settings.backtest_step):
        steps = min(settings.backtest_step, len(history) - origin)
        train = history[:origin]
        step_settings = ForecastSettings(**{**settings.__dict__, "horizon": steps})
        actual.append(history[origin : origin + steps])
        ours.append(forecast_series(train, step_settings).mean)
        naive.append(seasonal_naive(train, steps, season).mean)
    train_part = history[: len(history) - days]
    scale = float(np.mean(np.abs(train_part[season:] - train_part[:-season])))
    actual_values = np.concatenate(actual)
    return {
        "method": accuracy(actual_values, np.concatenate(ours), scale),
        "seasonal_naive": accuracy(actual_values, np.concatenate(naive), scale),
    }


def forecast_sales(
    grid: pl.DataFrame, run_date: date, settings: ForecastSettings = ForecastSettings()
) -> tuple[pl.DataFrame, dict[str, dict]]:
    """Forecast rows for every category of `grid` (complete daily rows up to run_date) and each
    category's backtest per measure."""
    rows: list[pl.DataFrame] = []
    backtests: dict[str, dict] = {}
    future = [run_date + timedelta(days=step) for step in range(1, settings.horizon + 1)]
    for (category,), series in grid.sort("date").group_by("category", maintain_order=True):
        row: dict[str, object] = {
            "run_date": [run_date] * settings.horizon,
            "category": [category] * settings.horizon,
            "target_date": future,
        }
        row["horizon_day"] = list(range(1, settings.horizon + 1))
        notes = []
        for measure in ("revenue", "units"):
            history = series.get_column(measure).cast(pl.Float64).to_numpy()
            result = forecast_series(history, settings)
            row[measure] = result.mean
            for level in settings.levels:
                low, high = result.bounds[level]
                row[f"{measure}_lo{int(level * 100)}"], row[f"{measure}_hi{int(level * 100)}"] = low, high
            row[f"{measure}_method"] = [result.method] * settings.horizon
            if result.note:
                notes.append(f"{measure}: {result.note}")
            backtests.setdefault(category, {})[measure] = backtest(history, settings)
        row["note"] = ["; ".join(notes) or None] * settings.horizon
        # typed per category: a category without a note must not leave an all-null column behind
        rows.append(pl.DataFrame(row).select(list(FORECAST_SCHEMA)).cast(pl.Schema(FORECAST_SCHEMA)))
    if not rows:
        return pl.DataFrame(schema=FORECAST_SCHEMA), {}
    return pl.concat(rows), backtests


def backtest_table(backtests: Mapping[str, Mapping[str, dict | None]]) -> str:
    """The backtests of `forecast_sales` as a Markdown table: the method against seasonal naive."""
    rows = []
    for category, measures in sorted(backtests.items()):
        for measure, result in measures.items():
            if result is None:
                rows.append([category, measure, "too little history to backtest", "", "", "", "", ""])
                continue
            cells = [category, measure]
            for fit in (result["method"], result["seasonal_naive"]):
                cells += [f"{fit['mae']:.1f}", f"{fit['smape']:.1f}", f"{fit['mase']:.2f}"]
            rows.append(cells)
    headers = ["category", "measure", "MAE", "sMAPE %", "MASE", "seasonal-naive MAE", "sMAPE %", "MASE"]
    return table(headers, rows)


# Days of history the forecast chart shows before the forecast.
CHART_HISTORY_DAYS = 42


@dataclass(frozen=True)
class ForecastDay:
    """One run date's sales_forecast table and the numbers its materialization reports."""

    table: pl.DataFrame
    backtests: dict[str, dict]  # category -> measure -> accuracy of the method and of seasonal naive
    history_days_missing: int  # days of the window not written, counted as days without sales
    fallbacks: dict[str, str]  # category -> why it fell back from ETS (categories that did)
    revenue_mase: float | None  # mean over the backtested categories; None: nothing backtested
    revenue_mase_seasonal_naive: float | None
    chart_history: pl.DataFrame | None  # the complete daily rows the chart shows; None: nothing forecast


def forecast_day(
    days: Mapping[str, pl.DataFrame], day: date, settings: ForecastSettings = ForecastSettings()
) -> ForecastDay:
    """The run date's forecast from the daily_sales of its history window (date -> partition)."""
    history = stack(days, pl.DataFrame(schema=DAILY_SALES_SCHEMA))
    grid = history if history.is_empty() else complete_daily_grid(history, first_date(history), day)
    forecast, backtests = forecast_sales(grid, day, settings)
    revenue = [result["revenue"] for result in backtests.values() if result.get("revenue")]
    notes = forecast.group_by("category", maintain_order=True).agg(pl.col("note").first())
    return ForecastDay(
        table=forecast,
        backtests=backtests,
        history_days_missing=days_missing(days, day),
        fallbacks={category: note for category, note in notes.iter_rows() if note},
        revenue_mase=sum(r["method"]["mase"] for r in revenue) / len(revenue) if revenue else None,
        revenue_mase_seasonal_naive=sum(r["seasonal_naive"]["mase"] for r in revenue) / len(revenue)
        if revenue
        else None,
        chart_history=grid.filter(pl.col("date") > day - timedelta(days=CHART_HISTORY_DAYS))
        if forecast.height
        else None,
    )
