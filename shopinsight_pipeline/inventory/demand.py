"""product_demand_forecast (issue 28.2): each product's daily demand for the next days, with
quantiles, chosen per product on a rolling backtest. Pure: frames and arrays in, a table and
numbers out.

Demand is units ordered (cancelled orders left out). A day that ended with the shelf empty
(`on_hand` 0 in the stock count) is **censored**: what sold is a lower bound of what customers
wanted, so it is left out of every fit and every score (not read as zero demand). Methods, simplest
first (our own ~100 lines rather than statsforecast: it brings numba and compiles each model on first
use, seconds per process, more than these forecasts cost; each method is checked against a hand
computation in the tests):

- `seasonal_naive`: the same weekday of the last week (a censored day takes the one before it);
- `sba`: Croston's method with the Syntetos-Boylan bias correction (sizes and intervals between
  demands, smoothed on the days with demand): the field's standard for intermittent demand;
- `tsb`: Teunter-Syntetos-Babai (the probability of demand smoothed every day, so a product that
  stops selling fades instead of keeping its old rate);
- `sba_weekday`: SBA on demand divided by the assortment's weekday factors, multiplied back for the
  days ahead (shops sell more at weekends; a product's own weekday pattern is too noisy to estimate
  from 13 weeks, the assortment's is not).

Sales events from the planner's calendar (inventory/events.py) are not ordinary demand: their past
days are left out of every fit and of the MASE scale (scored all the same), their days ahead get the
event's uplift (in the backtest: as known at each origin).

Quantiles come from each method's in-sample one-step errors (uncensored days) added to its point
forecast, clipped at zero; `sd` is their standard deviation. A product is served the simplest method
unless a more complex one has a lower mean squared scaled error on the backtest beyond the noise (the
paired bootstrap interval of the per-day difference lies below zero), the gate the other models use.
Squared, not absolute: the plan sums the forecast's means over a lead time, and for a product that
sells on few days the absolute error is lowest for a forecast of 0 (the median), which seasonal naive
after a quiet week gives. On a real shop's 3,000 products the MASE gate served seasonal naive to the
assortment and its reorder points held on 72-81% of lead times (bench/RESULTS.md).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from shopinsight_pipeline.inventory.events import SalesEvent, event_days
from shopinsight_pipeline.schemas import PRODUCT_DEMAND_FORECAST_SCHEMA

QUANTILES = (0.1, 0.5, 0.9)
METHODS = ("seasonal_naive", "sba", "tsb", "sba_weekday")  # simplest first


@dataclass(frozen=True)
class DemandSettings:
    horizon: int = 28  # days forecast after the run date
    history_days: int = 91  # days of orders (and stock) the methods are fitted on
    backtest_origins: int = 4  # weekly origins before the run date
    backtest_horizon: int = 7  # days scored after each origin
    alpha: float = 0.1  # SBA's smoothing of sizes and intervals; TSB's of sizes
    alpha_probability: float = 0.05  # TSB's smoothing of the probability of demand
    season: int = 7
    rounds: int = 500  # bootstrap resamples of the gate
    confidence: float = 0.95
    seed: int = 0
    gate: str = "squared"  # the error the gate compares: "squared" (RMSSE's) or "absolute" (MASE's)


@dataclass
class Forecast:
    mean: np.ndarray  # point forecast per day ahead
    residuals: np.ndarray  # in-sample one-step errors on uncensored days (actual - forecast)
    factors: np.ndarray | None = None  # per day ahead: a sales event's uplift, already in `mean`

    def quantiles(self, levels: tuple[float, ...] = QUANTILES) -> dict[float, np.ndarray]:
        """Quantiles of the day's units: the point forecast plus each in-sample error (both times an
        event day's uplift), rounded to whole units and clipped at zero (demand is a count, so the
        quantiles are too, and p10 to p90 holds at least 80% of the outcomes the errors describe)."""
        if self.residuals.size == 0:
            return {level: np.round(self.mean) for level in levels}
        values = np.quantile(np.round(self._outcomes()), levels, axis=1, method="inverted_cdf")
        return {level: values[position] for position, level in enumerate(levels)}

    def spread(self) -> np.ndarray:
        """Standard deviation of each day's demand over the outcomes the quantiles are taken from
        (unrounded). The plan sums days by it: a p10-p90 width says nothing of a product that sells
        on fewer than one day in ten (both 0), and gave reorder points that held on 79-84% of a real
        shop's lead times instead of 95% (bench/RESULTS.md)."""
        if self.residuals.size == 0:
            return np.zeros(self.mean.size)
        return self._outcomes().std(axis=1)

    def _outcomes(self) -> np.ndarray:
        """Days ahead x errors: each day's ordinary forecast plus each in-sample error, times the
        day's event uplift, not below 0."""
        factors = np.ones(self.mean.size) if self.factors is None else self.factors
        ordinary = self.mean / np.where(factors > 0, factors, 1.0)
        return np.clip(factors[:, None] * (ordinary[:, None] + self.residuals[None, :]), 0, None)

    def on_event_days(self, factors: np.ndarray | None) -> "Forecast":
        """The forecast with each day ahead's ordinary demand multiplied by its event uplift (1: none)."""
        if factors is None or np.all(factors[: self.mean.size] == 1):
            return self
        factors = factors[: self.mean.size]
        return Forecast(self.mean * factors, self.residuals, factors)


def seasonal_naive(units: np.ndarray, censored: np.ndarray, horizon: int, season: int = 7) -> Forecast | None:
    """The last week repeated; a censored day takes the same weekday of the week before (or stays
    unknown and is skipped). None under a season of history."""
    if units.size < season:
        return None
    filled = units.astype(float).copy()
    filled[censored] = np.nan
    for day in range(season, filled.size):  # carry the weekday forward over censored days
        if np.isnan(filled[day]):
            filled[day] = filled[day - season]
    last = filled[-season:]
    if np.isnan(last).any():
        last = np.where(np.isnan(last), np.nanmean(filled) if np.isfinite(np.nanmean(filled)) else 0.0, last)
    mean = np.array([last[step % season] for step in range(horizon)])
    errors = units[season:] - filled[:-season]
    usable = ~censored[season:] & np.isfinite(errors)
    return Forecast(mean, errors[usable])


def _croston_path(units: np.ndarray, censored: np.ndarray, alpha: float) -> tuple[np.ndarray, float] | None:
    """SBA's forecast before each day (NaN until the first demand) and after the last one."""
    size = interval = 0.0
    seen = False  # a demand yet
    since = 0  # uncensored days since the last demand
    before = np.full(units.size, np.nan)
    current = np.nan
    for day in range(units.size):
        before[day] = current
        if censored[day]:
            continue
        since += 1
        if units[day] > 0:
            if not seen:
                size, interval, seen = float(units[day]), float(since), True
            else:
                size += alpha * (units[day] - size)
                interval += alpha * (since - interval)
            since = 0
            current = (1 - alpha / 2) * size / interval
    if not seen:
        return None
    return before, current


def ahead_errors(
    units: np.ndarray, censored: np.ndarray, before: np.ndarray, steps: int = 7, index: np.ndarray | None = None
) -> np.ndarray:
    """In-sample errors of a flat forecast made 1 to `steps` days ahead (actual minus the forecast
    standing that many days before), on uncensored days: a level that drifts widens them, as it
    widens the real errors of a forecast for the weeks ahead (one-step errors alone gave 80%
    intervals that covered 72% in the backtest)."""
    parts = []
    for lag in range(min(steps, units.size)):
        standing = before[: before.size - lag] if lag else before
        if index is not None:  # a level forecast: the day's weekday factor makes it that day's
            standing = standing * index[lag : units.size]
        actual, kept = units[lag:], ~censored[lag:]
        errors = actual - standing
        parts.append(errors[kept & np.isfinite(errors)])
    return np.concatenate(parts) if parts else np.zeros(0)


def sba(units: np.ndarray, censored: np.ndarray, horizon: int, alpha: float = 0.1) -> Forecast | None:
    """Croston with the Syntetos-Boylan approximation: (1 - alpha/2) * size / interval. None before
    any demand."""
    path = _croston_path(units, censored, alpha)
    if path is None:
        return None
    before, current = path
    return Forecast(np.full(horizon, current), ahead_errors(units, censored, before))


def tsb(
    units: np.ndarray, censored: np.ndarray, horizon: int, alpha: float = 0.1, alpha_probability: float = 0.05
) -> Forecast | None:
    """Teunter-Syntetos-Babai: probability of demand (smoothed every uncensored day) * size
    (smoothed on demand days). None before any demand."""
    observed = units[~censored]
    if not (observed > 0).any():
        return None
    first = int(np.argmax(observed > 0))
    probability = float((observed > 0)[: first + 1].mean())
    size = float(observed[first])
    before = np.full(units.size, np.nan)
    started = False
    for day in range(units.size):
        if started:
            before[day] = probability * size
        if censored[day]:
            continue
        if not started:
            started = units[day] > 0
            continue
        demand = units[day] > 0
        probability += alpha_probability * (float(demand) - probability)
        if demand:
            size += alpha * (units[day] - size)
    return Forecast(np.full(horizon, probability * size), ahead_errors(units, censored, before))


def error_ratios(
    units: np.ndarray, censored: np.ndarray, spans: int, alpha: float = 0.1, min_spans: int = 4
) -> np.ndarray:
    """Per span of 1 to `spans` days: how much larger the squared error of a sum over that many days
    is than that many one-day squared errors, from the product's history (NaN where fewer than
    `min_spans` blocks). e: the one-day errors of SBA's standing forecast; E: the error of an h-day
    sum forecast at once, over consecutive h-day blocks without a censored day; the ratio
    mean(E^2) / (h * mean(e^2)) is 1 + (h - 1) * rho for days equally correlated by rho."""
    ratios = np.full(spans, np.nan)
    path = _croston_path(units, censored, alpha)
    if path is None:
        return ratios
    before, _ = path
    one_day = (units - before)[~censored & np.isfinite(before)]
    if one_day.size == 0 or not np.mean(one_day**2) > 0:
        return ratios
    ratios[0] = 1.0
    summed = np.concatenate([[0.0], np.cumsum(units)])
    blocked = np.concatenate([[0], np.cumsum(censored)])
    # every span's blocks at once (a loop over 27 spans cost 11 s at 20,000 products)
    lengths, starts = _blocks(units.size, spans)
    usable = np.isfinite(before[starts]) & (blocked[starts + lengths] == blocked[starts])
    lengths, starts = lengths[usable], starts[usable]
    errors = summed[starts + lengths] - summed[starts] - lengths * before[starts]
    count = np.bincount(lengths, minlength=spans + 1)[2:]
    squared = np.bincount(lengths, np.square(errors), minlength=spans + 1)[2:]
    enough = np.cumprod(count >= min_spans).astype(bool)  # a span with too few blocks ends the estimates
    ratios[1:][enough] = squared[enough] / count[enough] / (np.arange(2, spans + 1)[enough] * np.mean(one_day**2))
    return ratios


@functools.lru_cache(maxsize=16)
def _blocks(days: int, spans: int) -> tuple[np.ndarray, np.ndarray]:
    """Span length and first day of every block of 2 to `spans` consecutive days tiling `days` days
    from the first (the blocks error_ratios compares)."""
    lengths = [np.full(len(range(0, days - span + 1, span)), span) for span in range(2, spans + 1)]
    starts = [np.arange(0, days - span + 1, span) for span in range(2, spans + 1)]
    if not lengths:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(lengths).astype(np.int64), np.concatenate(starts).astype(np.int64)


def span_correlations(ratios: np.ndarray, fallback: float = 0.5) -> np.ndarray:
    """How alike the errors of the days ahead are, per span, for the whole assortment: from the
    products' mean error ratio (`ratios`: products x spans), rho = (ratio - 1) / (h - 1) clipped to
    [0, 1] (0 for one day); a span too long to estimate takes the longest estimated one, and with no
    estimate at all every span takes `fallback`.

    A forecast whose level is off is off for every day, and more so over a long lead time than a
    week (7-day blocks understated a 12-day lead time's spread). Pooled, not per product: one
    product's 91 days hold 7 blocks of 12 days, and its own estimates, noisy and clipped at 0,
    understated the spread on average; on a real shop's demand the pooled ones moved the 95% reorder
    point's coverage of 12-day lead times from 91-93% to 93-94% (bench/RESULTS.md)."""
    spans = ratios.shape[1]
    correlations = np.full(spans, np.nan)
    if not np.isfinite(ratios[:, 1:]).any():
        return np.full(spans, fallback)
    counted = np.isfinite(ratios).any(axis=0)
    mean_ratio = np.nanmean(ratios[:, counted], axis=0)
    days_apart = np.maximum(np.flatnonzero(counted), 1)  # h - 1 for the span h at index h - 1
    correlations[counted] = np.clip((mean_ratio - 1) / days_apart, 0.0, 1.0)
    correlations[0] = 0.0
    known = np.flatnonzero(np.isfinite(correlations))
    correlations[known[-1] + 1 :] = correlations[known[-1]]
    return correlations


def sba_weekday(
    units: np.ndarray, censored: np.ndarray, horizon: int, index: np.ndarray, alpha: float = 0.1
) -> Forecast | None:
    """SBA on demand divided by each day's weekday factor (`index`: one per history day, then one per
    day ahead), its level multiplied back by the factor of each day ahead: a product that sells more
    at weekends is forecast more for them. None before any demand."""
    size = units.size
    path = _croston_path(units / index[:size], censored, alpha)
    if path is None:
        return None
    before, current = path
    mean = current * index[size : size + horizon]
    return Forecast(mean, ahead_errors(units, censored, before, index=index[:size]))


def weekday_index(totals: np.ndarray, first_weekday: int, days: int, special: np.ndarray | None = None) -> np.ndarray:
    """The assortment's weekday factors (each weekday's mean units over the mean of all days, from
    the day totals `totals`, whose first day is `first_weekday`; `special` days, sales events, left
    out), repeated for `days` days from that first day. Flat (ones) with under two weeks or no sales."""
    weekdays = (first_weekday + np.arange(totals.size)) % 7
    ordinary = np.ones(totals.size, dtype=bool) if special is None else ~special[: totals.size]
    factors = np.ones(7)
    if ordinary.sum() >= 14 and totals[ordinary].mean() > 0:
        means = [totals[ordinary & (weekdays == day)] for day in range(7)]
        factors = np.array([values.mean() if values.size else np.nan for values in means]) / totals[ordinary].mean()
        factors = np.where(np.isfinite(factors) & (factors > 0), factors, 1.0)
    return factors[(first_weekday + np.arange(days)) % 7]


def fit(
    method: str,
    units: np.ndarray,
    censored: np.ndarray,
    horizon: int,
    settings: DemandSettings,
    index: np.ndarray | None = None,
):
    """`index`: the weekday factors of the history days and the days ahead (sba_weekday needs them)."""
    if method == "sba_weekday":
        return None if index is None else sba_weekday(units, censored, horizon, index, settings.alpha)
    if method == "seasonal_naive":
        return seasonal_naive(units, censored, horizon, settings.season)
    if method == "sba":
        return sba(units, censored, horizon, settings.alpha)
    if method == "tsb":
        return tsb(units, censored, horizon, settings.alpha, settings.alpha_probability)
    raise ValueError(f"unknown demand method {method!r}; known: {METHODS}")


def pinball(actual: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """Quantile (pinball) loss per day."""
    difference = actual - quantile
    return np.maximum(level * difference, (level - 1) * difference)


def scale_of(units: np.ndarray, censored: np.ndarray) -> tuple[float, float]:
    """MASE's and RMSSE's scales: mean absolute and root mean square one-day change in sample,
    over pairs of uncensored days (0: a constant series, which no score can be scaled by)."""
    pairs = ~censored[1:] & ~censored[:-1]
    changes = np.diff(units.astype(float))[pairs]
    if changes.size == 0:
        return 0.0, 0.0
    return float(np.abs(changes).mean()), float(np.sqrt((changes**2).mean()))


@dataclass
class Backtest:
    """Per method, per scored day (concatenated over origins): actual, mean, quantiles."""

    actual: np.ndarray
    predictions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # method -> {"mean", "q0.1", ...}
    mase_scale: float = 0.0
    rmsse_scale: float = 0.0
    last_origin_days: int = 0  # how many of the scored days, at the end, the last origin scored

    def split_last(self) -> tuple["Backtest", "Backtest"] | None:
        """The backtest without its last origin, and the last origin alone (None without both): a
        method chosen on the first is scored on days its choice never saw."""
        days = self.last_origin_days
        if not 0 < days < self.actual.size:
            return None

        def part(kept: slice) -> Backtest:
            predictions = {
                method: {name: values[kept] for name, values in parts.items()}
                for method, parts in self.predictions.items()
            }
            return Backtest(self.actual[kept], predictions, self.mase_scale, self.rmsse_scale)

        return part(slice(None, -days)), part(slice(-days, None))

    def day_errors(self, method: str, squared: bool) -> np.ndarray:
        """Per scored day: the squared error over RMSSE's squared scale, or the absolute error over
        MASE's: what the gate compares (NaN without a scale)."""
        errors = self.actual - self.predictions[method]["mean"]
        scale = self.rmsse_scale**2 if squared else self.mase_scale
        return (errors**2 if squared else np.abs(errors)) / scale if scale else np.full(errors.size, np.nan)

    def scaled_error(self, method: str, squared: bool) -> float:
        """MASE, or RMSSE squared (the mean squared scaled error), without the other scores (the gate
        asks for 20,000 products x 4 methods)."""
        return float(self.day_errors(method, squared).mean())

    def scores(self, method: str) -> dict[str, float]:
        predicted = self.predictions[method]
        errors = self.actual - predicted["mean"]
        mae = float(np.abs(errors).mean())
        scores = {
            "mae": mae,
            "mase": mae / self.mase_scale if self.mase_scale else float("nan"),
            "rmsse": float(np.sqrt((errors**2).mean())) / self.rmsse_scale if self.rmsse_scale else float("nan"),
            "pinball": float("nan"),  # a point forecast (the benchmark) has no quantiles to score
            "coverage80": float("nan"),
            "days": int(self.actual.size),
        }
        if f"q{QUANTILES[0]}" in predicted:
            low, high = predicted[f"q{QUANTILES[0]}"], predicted[f"q{QUANTILES[-1]}"]
            losses = [pinball(self.actual, predicted[f"q{level}"], level).mean() for level in QUANTILES]
            scores["pinball"] = float(np.mean(losses))
            scores["coverage80"] = float(((self.actual >= low) & (self.actual <= high)).mean())
        return scores


BENCHMARK = "category_share"  # scored beside the methods, never served


def backtest(
    units: np.ndarray,
    censored: np.ndarray,
    settings: DemandSettings,
    category: np.ndarray | None = None,
    index: np.ndarray | None = None,
    special: np.ndarray | None = None,
    ahead: dict[int, np.ndarray] | None = None,
) -> Backtest | None:
    """Every method fitted at each weekly origin before the end and scored on the uncensored days of
    the week after it; with the product's `category` units (same days), also the category forecast
    split by product share (seasonal naive of the category's units times the product's share of
    them over the 28 uncensored days before the origin), a point forecast. `special`: the history's
    sales-event days, left out of every fit (scored all the same); `ahead`: per origin (days before
    the end) the event uplift of each of the days it scores, as known at the origin. None when the
    history is too short for one origin."""
    step, origins = settings.backtest_horizon, settings.backtest_origins
    ends = [units.size - step * k for k in range(origins, 0, -1) if units.size - step * k >= settings.season]
    if not ends:
        return None
    unusual = censored if special is None else censored | special  # not ordinary demand: no fit sees it
    actual_parts: list[np.ndarray] = []
    predicted: dict[str, dict[str, list[np.ndarray]]] = {}
    for end in ends:
        window = slice(end, end + step)
        kept = ~censored[window]
        factors = (ahead or {}).get(units.size - end)
        actual_parts.append(units[window][kept].astype(float))
        for method in METHODS:
            forecast = fit(method, units[:end], unusual[:end], step, settings, index)
            forecast = forecast.on_event_days(factors) if forecast is not None else None
            parts = predicted.setdefault(method, {})
            if forecast is None:
                parts.setdefault("missing", []).append(np.ones(1))
                continue
            parts.setdefault("mean", []).append(forecast.mean[kept])
            for level, values in forecast.quantiles().items():
                parts.setdefault(f"q{level}", []).append(values[kept])
        if category is not None:
            total = seasonal_naive(
                category[:end], np.zeros(end, dtype=bool) if special is None else special[:end], step, settings.season
            )
            seen = np.flatnonzero(~unusual[:end])[-28:]
            share = units[seen].sum() / category[seen].sum() if category[seen].sum() > 0 else 0.0
            parts = predicted.setdefault(BENCHMARK, {})
            if total is None:
                parts.setdefault("missing", []).append(np.ones(1))
            else:
                parts.setdefault("mean", []).append(share * total.on_event_days(factors).mean[kept])
    mase_scale, rmsse_scale = scale_of(units[: ends[-1]], unusual[: ends[-1]])
    result = Backtest(np.concatenate(actual_parts), {}, mase_scale, rmsse_scale, actual_parts[-1].size)
    for method, parts in predicted.items():
        if "missing" not in parts:  # a method that could not run at every origin is not compared
            result.predictions[method] = {name: np.concatenate(values) for name, values in parts.items()}
    return result if result.actual.size else None


CACHED_BOOTSTRAP_SIZE = 1_000  # a product's backtest days; an assortment's products are drawn afresh


@functools.lru_cache(maxsize=64)
def _resamples(size: int, rounds: int, seed: int) -> np.ndarray:
    """The bootstrap's draw counts, drawn once per size: most products have the same number of
    backtest days, and 20,000 products x 4 challengers would draw the same matrix 80,000 times."""
    from shopinsight_pipeline.ml.significance import resample_counts  # imports scikit-learn: in the step only

    counts = resample_counts(size, rounds, seed)
    counts.flags.writeable = False  # shared between calls
    return counts


def bootstrap_means(difference: np.ndarray, settings: DemandSettings) -> np.ndarray:
    """The mean of `difference` in each paired bootstrap resample. A product's backtest days reuse
    one cached draw per size; an assortment's products are drawn in chunks from the same stream (the
    same resamples), never as a rounds x products matrix (80 MB at 20,000 products, and one per size)."""
    size = difference.shape[0]  # products (or days), each with one score or a row of them
    if size <= CACHED_BOOTSTRAP_SIZE:
        return _resamples(size, settings.rounds, settings.seed) @ difference / size
    rng, chunk = np.random.default_rng(settings.seed), max(1, 2_000_000 // size)
    uniform = np.full(size, 1.0 / size)
    draws = [
        rng.multinomial(size, uniform, size=min(chunk, settings.rounds - done)) @ difference
        for done in range(0, settings.rounds, chunk)
    ]
    return np.concatenate(draws) / size


def mean_intervals(
    values: np.ndarray, weights: np.ndarray | None = None, settings: DemandSettings = DemandSettings()
) -> np.ndarray:
    """Per column of `values` (products x scores): the `settings.confidence` interval (low, high) of
    its weighted mean over the products, the products resampled, so that a backtest's MASE or
    coverage is read against its noise, not as a bare number. A NaN value weighs nothing; all
    columns share one draw of resamples (20,000 products: 0.8 s a draw). NaN under 2 products."""
    weights = np.ones(values.shape) if weights is None else np.asarray(weights, dtype=float)
    weights = np.where(np.isfinite(values), weights, 0.0)
    if values.shape[0] < 2:
        return np.full((values.shape[1], 2), np.nan)
    sums = bootstrap_means(np.hstack([np.where(weights > 0, values, 0.0) * weights, weights]), settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[:, : values.shape[1]] / sums[:, values.shape[1] :]  # the weighted mean of each resample
    tail = (1 - settings.confidence) / 2
    intervals = np.full((values.shape[1], 2), np.nan)
    scored = (weights > 0).sum(axis=0) >= 2  # a column with fewer scored products has no interval
    if scored.any():  # a resample that drew no scored product has no mean (NaN): left out
        intervals[scored] = np.nanquantile(means[:, scored], [tail, 1 - tail], axis=0).T
    return intervals


def _beats(difference: np.ndarray, settings: DemandSettings) -> bool:
    """Whether the mean of `difference` (challenger minus serving, lower is better) is below zero
    beyond the noise: the upper end of its paired bootstrap interval is below 0."""
    if difference.size < 2:
        return False
    return float(np.quantile(bootstrap_means(difference, settings), 1 - (1 - settings.confidence) / 2)) < 0


def choose_for_assortment(results: dict[str, "Backtest"], settings: DemandSettings) -> tuple[str, str]:
    """The method every product starts from: the simplest, unless a more complex one has a lower
    mean squared scaled error (settings.gate) over the products beyond the noise (products resampled;
    those every method could score)."""
    comparable = [
        result
        for result in results.values()
        if result.mase_scale > 0 and all(method in result.predictions for method in METHODS)
    ]
    squared = settings.gate == "squared"
    errors = {method: np.array([result.scaled_error(method, squared) for result in comparable]) for method in METHODS}
    name = "mean squared scaled error" if squared else "MASE"
    chosen, why = METHODS[0], f"{METHODS[0]}: the simplest"
    for challenger in METHODS[1:]:
        difference = errors[challenger] - errors[chosen]
        if _beats(difference, settings):
            chosen = challenger
            why = (
                f"{challenger}: {name} {difference.mean():+.3f} against the one before, over {difference.size} products"
            )
    return chosen, why


def choose(result: Backtest, settings: DemandSettings, start: str = METHODS[0]) -> tuple[str, str]:
    """The product's method: `start` (the assortment's), unless another has a lower squared (or, by
    settings.gate, absolute) scaled error on this product's backtest days beyond the noise."""
    available = [method for method in METHODS if method in result.predictions]
    if not available:
        return "sba", "sba: no method could be backtested"
    chosen = start if start in available else available[0]
    why = f"{chosen}: the assortment's method"
    if result.mase_scale == 0:
        return chosen, f"{chosen}: a constant history, nothing to compare on"
    for challenger in available:
        if challenger == chosen:
            continue
        squared = settings.gate == "squared"
        difference = result.day_errors(challenger, squared) - result.day_errors(chosen, squared)
        if _beats(difference, settings):
            chosen, why = challenger, f"{challenger}: beats {chosen} on this product ({difference.mean():+.3f})"
    return chosen, why


def holdout_scores(results: dict[str, Backtest], settings: DemandSettings) -> dict:
    """The served score without its optimism: methods chosen (assortment, then product) on every
    backtest origin but the last, scored on the last one's days, beside seasonal naive on the same
    days. The served forecast is chosen on all origins, so this measures the choosing, honestly."""
    split = {product: parts for product, result in results.items() if (parts := result.split_last()) is not None}
    if not split:
        return {}
    default, _ = choose_for_assortment({product: earlier for product, (earlier, _) in split.items()}, settings)
    served, naive = [], []
    for earlier, later in split.values():
        if later.mase_scale > 0 and METHODS[0] in later.predictions:
            served.append(later.scaled_error(choose(earlier, settings, default)[0], squared=False))
            naive.append(later.scaled_error(METHODS[0], squared=False))
    if not served:
        return {}
    return {
        "products": len(served),
        "assortment_method": default,
        "served_mase": round(float(np.mean(served)), 4),
        f"{METHODS[0]}_mase": round(float(np.mean(naive)), 4),
    }


@dataclass
class DemandHistory:
    """Units (products x days) and censored days, oldest first, for the products with any sale."""

    products: list[str]
    first_day: date
    units: np.ndarray
    censored: np.ndarray
    no_history: list[str]


def demand_history(
    orders: pl.DataFrame, stock: pl.DataFrame, catalogue: list[str], first_day: date, last_day: date
) -> DemandHistory:
    """Units ordered per product and day (cancelled left out) and the censored days (on hand 0 at
    the end of the day); products of the catalogue or the orders without a sale are `no_history`."""
    days = (last_day - first_day).days + 1
    sold = (
        orders.filter((pl.col("status") != "cancelled") & pl.col("order_date").is_between(first_day, last_day))
        .group_by("product_id", "order_date")
        .agg(pl.col("quantity").sum().alias("units"))
    )
    with_sales = sorted(set(sold.get_column("product_id").to_list()))
    index = {product: row for row, product in enumerate(with_sales)}
    units = np.zeros((len(with_sales), days))
    for product, day, value in sold.iter_rows():
        units[index[product], (day - first_day).days] = value
    censored = np.zeros((len(with_sales), days), dtype=bool)
    empty = stock.filter((pl.col("on_hand") == 0) & pl.col("date").is_between(first_day, last_day))
    for product, day in empty.select("product_id", "date").iter_rows():
        if product in index:
            censored[index[product], (day - first_day).days] = True
    no_history = sorted(set(catalogue) - set(with_sales))
    return DemandHistory(with_sales, first_day, units, censored, no_history)


@dataclass
class DemandForecast:
    table: pl.DataFrame  # the product_demand_forecast rows of the run date
    scores: pl.DataFrame  # per product and method: backtest scores, and which method serves
    notes: list[str]
    holdout: dict = field(default_factory=dict)  # holdout_scores: the served score on days its choice never saw


def forecast_demand(
    history: DemandHistory,
    run_date: date,
    categories: dict[str, str],
    settings: DemandSettings = DemandSettings(),
    progress: Callable[[int, int], object] | None = None,
    events: Sequence[SalesEvent] = (),
) -> DemandForecast:
    """Forecast every product with a sale in the history; see the module's docstring. `events`: the
    calendar's sales events (inventory/events.py): their past days are left out of the fits, their
    days ahead get the event's uplift."""
    names = (
        "product_id",
        "target_date",
        "horizon_day",
        "method",
        "mean",
        "p10",
        "p50",
        "p90",
        "sd",
        "day_correlation",
        "sales_event",
        "backtest_mase",
        "backtest_coverage80",
    )
    rows: dict[str, list] = {name: [] for name in names}
    scores: list[dict] = []
    notes = [
        f"{product}: no sale in the {settings.history_days} days of history, no forecast"
        for product in history.no_history
    ]
    targets = [run_date + timedelta(days=step) for step in range(1, settings.horizon + 1)]
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    results: dict[str, Backtest] = {}
    totals: dict[str, np.ndarray] = {}  # units per category and day: the benchmark's category forecast
    days = history.units.shape[1]
    first_weekday = history.first_day.weekday()
    day_totals = history.units.sum(axis=0)
    calendar = event_days(list(events), history.first_day, days + settings.horizon)
    special = calendar.marked[:days]
    weekdays = weekday_index(day_totals, first_weekday, days + settings.horizon, special)
    # the backtest's factors come from the days before its first origin only (no peeking at what it scores)
    step, scored = settings.backtest_horizon, settings.backtest_horizon * settings.backtest_origins
    backtest_weekdays = weekday_index(day_totals[: max(days - scored, 0)], first_weekday, days, special)
    backtest_uplifts = {  # per origin: its scored days' event uplifts, as known at the origin
        before_end: calendar.factors(day_totals, days - before_end)[0][days - before_end : days - before_end + step]
        for before_end in range(step, scored + 1, step)
    }
    uplifts, event_notes = calendar.factors(day_totals, days)
    ahead_uplifts = uplifts[days:]
    ahead_events = [calendar.events[number].name if number >= 0 else None for number in calendar.event_of[days:]]
    for number, product in enumerate(history.products):
        if product in categories:
            totals[categories[product]] = totals.get(categories[product], 0) + history.units[number]
    for number, product in enumerate(history.products):
        units, censored = history.units[number], history.censored[number]
        start = int(np.argmax(units > 0))  # a product's history starts at its first sale
        series[product] = units[start:], censored[start:]
        category = totals[categories[product]][start:] if product in categories else None
        result = backtest(
            *series[product], settings, category, backtest_weekdays[start:], special[start:], backtest_uplifts
        )
        if result is not None and result.predictions:
            results[product] = result
    default, default_why = choose_for_assortment(results, settings) if results else (METHODS[0], "no backtest")
    correlations = span_correlations(
        np.array(
            [
                error_ratios(units, censored | special[days - units.size :], settings.horizon, settings.alpha)
                for units, censored in series.values()
            ]
        ).reshape(-1, settings.horizon)
    ).tolist()
    notes[:0] = [f"assortment method {default_why}", *event_notes]
    for number, product in enumerate(history.products):
        units, censored = series[product]
        unusual = censored | special[days - units.size :]
        index = weekdays[days - units.size :]  # the product's history days, then the days ahead
        result = results.get(product)
        if result is not None:
            method, why = choose(result, settings, default)
        else:
            method, why = "sba", "sba: too short a history to backtest"
        forecast = fit(method, units, unusual, settings.horizon, settings, index)
        if forecast is None and method != "sba":
            method, forecast = "sba", sba(units, unusual, settings.horizon, settings.alpha)
        if forecast is None:
            notes.append(f"{product}: no uncensored ordinary day with demand, no forecast")
            continue
        forecast = forecast.on_event_days(ahead_uplifts)
        quantiles = forecast.quantiles()
        rows["product_id"] += [product] * settings.horizon
        rows["target_date"] += targets
        rows["horizon_day"] += list(range(1, settings.horizon + 1))
        rows["method"] += [method] * settings.horizon
        rows["mean"] += forecast.mean.tolist()
        rows["sd"] += forecast.spread().tolist()
        rows["sales_event"] += ahead_events
        rows["day_correlation"] += correlations
        for level, name in zip(QUANTILES, ("p10", "p50", "p90"), strict=True):
            rows[name] += quantiles[level].tolist()
        candidates = {candidate: result.scores(candidate) for candidate in result.predictions} if result else {}
        served = candidates.get(method, {})  # the served method's own backtest: how far to trust this product
        rows["backtest_mase"] += [_finite_or_none(served.get("mase"))] * settings.horizon
        rows["backtest_coverage80"] += [_finite_or_none(served.get("coverage80"))] * settings.horizon
        scores += [
            {"product_id": product, "method": candidate, "serves": candidate == method, "why": why} | candidate_scores
            for candidate, candidate_scores in candidates.items()
        ]
        if progress is not None:
            progress(number + 1, len(history.products))
    # typed by the table's one schema: a column that is null on every row (no sale ahead, no product
    # backtested) keeps its type instead of parquet's null type, which DuckDB reads as NULL, not VARCHAR
    table = pl.DataFrame(rows, schema={name: PRODUCT_DEMAND_FORECAST_SCHEMA[name] for name in names}).with_columns(
        pl.lit(run_date).alias("run_date"),
        pl.col("product_id").replace_strict(categories, default="unknown", return_dtype=pl.String).alias("category"),
    )
    return DemandForecast(table, pl.DataFrame(scores), notes, holdout_scores(results, settings))


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None


def summarize_backtest(scores: pl.DataFrame) -> pl.DataFrame:
    """Per method (and `served`: each product's chosen one) the mean of the products' scores
    (MASE, RMSSE over products with a scale) and the day-weighted interval coverage, MASE and
    coverage with their 95% intervals over resampled products (mean_intervals)."""
    served = scores.filter(pl.col("serves")).with_columns(pl.lit("served").alias("method"))
    rows = pl.concat([scores, served])
    order = {method: position for position, method in enumerate([*METHODS, BENCHMARK, "served"])}
    summary = (
        rows.group_by("method")
        .agg(
            pl.len().alias("products"),
            pl.col("mase").filter(pl.col("mase").is_finite()).mean().alias("mase"),
            pl.col("rmsse").filter(pl.col("rmsse").is_finite()).mean().alias("rmsse"),
            pl.col("pinball").filter(pl.col("pinball").is_finite()).mean().alias("pinball"),
            ((pl.col("coverage80") * pl.col("days")).sum() / pl.col("days").sum()).alias("coverage80"),
        )
        .sort(pl.col("method").replace_strict(order, default=len(order)))
    )
    intervals = []
    for method in summary.get_column("method"):
        own = rows.filter(pl.col("method") == method)
        values = own.select("mase", "coverage80").to_numpy().astype(float)
        intervals.append(mean_intervals(values, np.column_stack([np.ones(own.height), own["days"].to_numpy()])))
    bounds = np.array(intervals).reshape(len(intervals), 4)  # per method: mase low, high, coverage low, high
    names = ("mase_low", "mase_high", "coverage_low", "coverage_high")
    return summary.with_columns(pl.Series(name, bounds[:, column]) for column, name in enumerate(names))
