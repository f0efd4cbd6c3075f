"""sales_forecast: per category, the next days' revenue and units with 80% and 95% intervals.

Method: additive-error ETS with a damped additive trend and additive weekly seasonality
(statsmodels' ETSModel, fitted by maximum likelihood), with prediction intervals from simulated
paths of the fitted model. It is always backtested against the seasonal-naive forecast (same weekday last week) on
rolling origins over the last 28 days: MAE, sMAPE and MASE for both (MASE < 1: better than
seasonal naive in-sample). Short histories, all-zero series and failed fits fall back to seasonal
naive (or the last value, under a week of history) and say so in `method` and `note`.
"""

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.schemas import FORECAST_SCHEMA

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


def sales_forecast(
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
