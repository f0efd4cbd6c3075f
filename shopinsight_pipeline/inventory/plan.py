"""inventory_plan (issue 28.3): per product, what a replenishment planner needs to place today's
orders. Pure: the day's stock count and the demand forecast in, the plan out.

Demand over a span of days is the sum of the forecast's days, taken as a gamma distribution with
that sum as its mean and the variance of a sum of equally correlated days (each day's standard
deviation: the forecast's `sd`, or the p10-p90 width of one written before it; between any two days
the `day_correlation` for a span of that length, since a forecast whose level is off is off for
weeks: estimated by product_demand_forecast from the assortment's history). A gamma is never
negative and skews right like the demand of a slow mover. Replayed on the sample's last four weeks
(bench/inventory_policy.py), independent days served 94.0% of demand; with each span's correlation
and the sample's sale in the forecast, demand over the lead time stayed under the 95% reorder point
on 94.9% of product-days [93.0%, 96.5%], and 95.7% and 96.7% on two other samples; on a real shop's
demand (bench/inventory_real_demand.py) on 95% of 3-day lead times, 94% of 7-day and 93-94% of
12-day ones (RESULTS.md).

- lead time L: the supplier's current one, from the stock count (a lead time that grows shows);
- stock-out probability: P(demand over the L days before an order placed today can arrive >
  on hand + what is due to arrive within them);
- reorder point: the service-level quantile of the demand over L; order-up-to level: that over
  L + the review period (an order is placed at most once a review period);
- suggested order today: order-up-to - inventory position (on hand + on order), when the position
  is at or below the reorder point; else 0;
- overstock: on hand above the 90% quantile of the demand over `overstock_days`, and the cash that
  excess ties up at unit cost;
- lost sales of the last week: on each day that ended with the shelf empty, the forecast's daily
  demand less what sold that day (demand is censored there: what sold is all the shelf had).
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from scipy import stats

Z_80 = 1.2815515655446004  # a normal's p90 - p10 is 2 * Z_80 standard deviations
FALLBACK_CORRELATION = 0.5  # a forecast written before day_correlation existed


@dataclass(frozen=True)
class PlanSettings:
    service_level: float = 0.95  # probability of not running out before the next delivery
    review_days: int = 7  # orders are placed at most once this often
    overstock_days: int = 28  # on hand above the p90 of this many days' demand is overstock
    overstock_quantile: float = 0.9
    cover_days: int = 7  # days of cover: on hand / mean daily demand of the next this many days
    # between two days' demand errors; None: each product's, from product_demand_forecast
    day_correlation: float | None = None


def span_demand(
    forecast: pl.DataFrame, days: np.ndarray, correlated: bool = True, fixed: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each product's demand over its first `days[i]` forecast days, any two
    days' errors correlated by the forecast's `day_correlation` for a span of that many days (or by
    `fixed`; `correlated` False: independent days). `forecast`: one product per row, columns `mean`,
    `sd` and `day_correlation` as lists by horizon day."""
    means, variances = [], []
    for (mean, sd, by_span), span in zip(
        forecast.select("mean", "sd", "day_correlation").iter_rows(), days, strict=True
    ):
        span = int(max(span, 0))
        mean, sd = beyond_horizon(mean, span), beyond_horizon(sd, span)
        spread = np.asarray(sd[:span], dtype=float)
        alike = 0.0
        if correlated and span > 0:
            alike = fixed if fixed is not None else by_span[min(span, len(by_span)) - 1]
            alike = FALLBACK_CORRELATION if alike is None else alike
        means.append(float(np.sum(mean[:span])))
        variances.append(float((1 - alike) * np.sum(np.square(spread)) + alike * np.sum(spread) ** 2))
    return np.array(means), np.array(variances)


def beyond_horizon(values: list[float], span: int, week: int = 7) -> np.ndarray:
    """`values` by day ahead, carried to `span` days by repeating the forecast's last week: a
    supplier's lead time plus the review period can pass the forecast's 28 days, and cutting the sum
    there would order too little (a 40-day lead time summed over 28 days: 30% short). A sale in that
    last week is repeated with it: the calendar's events past the forecast are not known here."""
    by_day = np.asarray(values, dtype=float)
    if span <= by_day.size or by_day.size == 0:
        return by_day
    last_week = by_day[-min(week, by_day.size) :]
    return np.concatenate([by_day, np.resize(last_week, span - by_day.size)])


def gamma_quantile(mean: np.ndarray, variance: np.ndarray, level: float) -> np.ndarray:
    """The `level` quantile of a gamma with this mean and variance (no spread: the mean itself; a
    spread around a mean of 0, which no gamma has: a normal's, clipped at 0: a forecast of no demand
    that has seen demand, such as seasonal naive after a week without an order, still carries risk)."""
    spread = variance > 0
    out = mean.astype(float).copy()
    positive = spread & (mean > 0)
    shape = np.square(mean[positive]) / variance[positive]
    out[positive] = stats.gamma.ppf(level, shape, scale=variance[positive] / mean[positive])
    flat = spread & ~positive
    out[flat] = np.maximum(stats.norm.ppf(level, mean[flat], np.sqrt(variance[flat])), 0)
    return out


def gamma_exceeds(mean: np.ndarray, variance: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """P(demand > supply) for a gamma demand with this mean and variance (no spread: 0 or 1; a spread
    around a mean of 0: a normal's, as in gamma_quantile)."""
    spread = variance > 0
    out = (mean > supply).astype(float)
    positive = spread & (mean > 0)
    shape = np.square(mean[positive]) / variance[positive]
    out[positive] = stats.gamma.sf(supply[positive], shape, scale=variance[positive] / mean[positive])
    flat = spread & ~positive
    out[flat] = stats.norm.sf(supply[flat], mean[flat], np.sqrt(variance[flat]))
    return out


def plan_inventory(stock: pl.DataFrame, forecast: pl.DataFrame, run_date: date, settings: PlanSettings) -> pl.DataFrame:
    """One row per product counted in `stock` (the day's validated_inventory rows) with the plan;
    `forecast`: the run date's product_demand_forecast rows. A product without a forecast gets its
    stock, no plan numbers and a note."""
    if "day_correlation" not in forecast.columns:  # a forecast written before the column existed
        forecast = forecast.with_columns(pl.lit(None, dtype=pl.Float64).alias("day_correlation"))
    if "sd" not in forecast.columns:  # likewise: the spread of a normal with that p10-p90 width
        forecast = forecast.with_columns(((pl.col("p90") - pl.col("p10")) / (2 * Z_80)).alias("sd"))
    per_product = (
        forecast.sort("horizon_day")
        .group_by("product_id", maintain_order=True)
        .agg(pl.col("mean"), pl.col("sd"), pl.col("method").first(), pl.col("day_correlation"))
    )
    joined = stock.join(per_product, on="product_id", how="left")
    planned = joined.filter(pl.col("mean").is_not_null())
    lead = planned.get_column("lead_time_days").to_numpy()
    on_hand = planned.get_column("on_hand").to_numpy().astype(float)
    on_order = planned.get_column("on_order").to_numpy().astype(float)
    arrival_days = (
        planned.select((pl.col("expected_arrival") - pl.lit(run_date)).dt.total_days()).to_series().to_numpy()
    )
    due_in_lead = np.where(np.isfinite(arrival_days.astype(float)) & (arrival_days <= lead), on_order, 0.0)
    fixed = settings.day_correlation
    lead_mean, lead_variance = span_demand(planned, lead, fixed=fixed)
    cycle_mean, cycle_variance = span_demand(planned, lead + settings.review_days, fixed=fixed)
    cover_mean, _ = span_demand(planned, np.full(planned.height, settings.cover_days), correlated=False)
    over_mean, over_variance = span_demand(planned, np.full(planned.height, settings.overstock_days), fixed=fixed)
    reorder_point = np.ceil(gamma_quantile(lead_mean, lead_variance, settings.service_level))
    order_up_to = np.maximum(np.ceil(gamma_quantile(cycle_mean, cycle_variance, settings.service_level)), reorder_point)
    position = on_hand + on_order
    suggested = np.where(position <= reorder_point, np.maximum(order_up_to - position, 0), 0)
    overstock_line = gamma_quantile(over_mean, over_variance, settings.overstock_quantile)
    excess = np.maximum(on_hand - overstock_line, 0)
    daily = cover_mean / settings.cover_days
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, on_hand / daily, np.nan)
    plan = planned.select("product_id").with_columns(
        pl.Series("days_of_cover", cover).fill_nan(None),
        pl.Series("stockout_probability", gamma_exceeds(lead_mean, lead_variance, on_hand + due_in_lead)),
        pl.Series("reorder_point", reorder_point.astype(np.int64)),
        pl.Series("order_up_to", order_up_to.astype(np.int64)),
        pl.Series("suggested_order", suggested.astype(np.int64)),
        pl.Series("lead_time_demand", lead_mean),
        pl.Series("overstock", excess > 0),
        pl.Series("excess_units", np.floor(excess).astype(np.int64)),
    )
    rows = joined.select(
        "product_id", "on_hand", "on_order", "expected_arrival", "lead_time_days", "unit_cost", "method"
    ).join(plan, on="product_id", how="left")
    return rows.with_columns(
        pl.lit(run_date).alias("run_date"),
        pl.lit(settings.service_level).alias("service_level"),
        (pl.col("excess_units") * pl.col("unit_cost")).alias("overstock_value"),
        pl.when(pl.col("method").is_null())
        .then(pl.lit("no demand forecast (no sale in the forecast's history): no plan"))
        .otherwise(None)
        .alias("note"),
    ).rename({"method": "forecast_method"})


def latest_counts(counts: dict[date, pl.DataFrame]) -> pl.DataFrame:
    """Per product its newest validated count among `counts` (day -> that day's validated_inventory
    rows), with the day in `stock_date`: a product whose row of the day was quarantined (a negative on
    hand, an order without its date) keeps the count of a day before, not a silent gap in the plan."""
    dated = [frame.with_columns(pl.lit(day).alias("stock_date")) for day, frame in counts.items() if frame.height]
    if not dated:
        return pl.DataFrame()
    return (
        pl.concat(dated, how="diagonal_relaxed")
        .sort("stock_date", descending=True)
        .unique(subset="product_id", keep="first", maintain_order=True)
        .sort("product_id")
    )


def uncounted_products(stock: pl.DataFrame, forecast: pl.DataFrame) -> list[str]:
    """Products with a demand forecast (they sold in its history) that the stock count leaves out:
    the plan has one row per counted product, so these would have no plan and no word of it; the
    planner must hear which ones to count (or to delist)."""
    counted = set(stock.get_column("product_id").to_list())
    return sorted(set(forecast.get_column("product_id").unique().to_list()) - counted)


def ordinary_daily_demand(forecast: pl.DataFrame, days: int = 7) -> dict[str, float]:
    """Per product: the mean forecast demand of an ordinary day (the first `days` days ahead that are
    no sales event; all of them if every one is), what lost_sales charges each empty day of the last
    week: tomorrow alone would carry its weekday, or a sale's uplift, into seven past days."""
    ahead = forecast.filter(pl.col("horizon_day") <= days)
    if "sales_event" in ahead.columns:
        ahead = ahead.with_columns(pl.col("sales_event").is_null().alias("ordinary"))
    else:  # a forecast written before the column existed
        ahead = ahead.with_columns(pl.lit(True).alias("ordinary"))
    rates = ahead.group_by("product_id").agg(
        pl.when(pl.col("ordinary").any())
        .then(pl.col("mean").filter(pl.col("ordinary")).mean())
        .otherwise(pl.col("mean").mean())
        .alias("rate")
    )
    return dict(rates.iter_rows())


def lost_sales(
    stock: pl.DataFrame, sales: pl.DataFrame, daily_demand: dict[str, float], first: date, last: date
) -> pl.DataFrame:
    """Per product: days in [first, last] that ended with the shelf empty, and the units estimated
    lost on them (the expected daily demand less what sold, never below 0). `stock`: date, product_id,
    on_hand; `sales`: order_date, product_id, quantity, status."""
    empty = stock.filter((pl.col("on_hand") == 0) & pl.col("date").is_between(first, last)).select("product_id", "date")
    sold = (
        sales.filter((pl.col("status") != "cancelled") & pl.col("order_date").is_between(first, last))
        .group_by("product_id", pl.col("order_date").alias("date"))
        .agg(pl.col("quantity").sum().alias("sold"))
    )
    rate = pl.DataFrame(
        {"product_id": list(daily_demand), "rate": list(daily_demand.values())},
        schema={"product_id": pl.String, "rate": pl.Float64},
    )
    return (
        empty.join(sold, on=["product_id", "date"], how="left")
        .join(rate, on="product_id", how="left")
        .group_by("product_id")
        .agg(
            pl.len().cast(pl.Int32).alias("stockout_days_7d"),
            (pl.col("rate").fill_null(0) - pl.col("sold").fill_null(0))
            .clip(lower_bound=0)
            .sum()
            .alias("lost_units_7d"),
        )
    )
