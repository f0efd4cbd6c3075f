"""category_trends: moving averages, growth and anomaly flags per category and day (pure polars:
tested on hand-made series without the orchestrator)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.reports.windows import days_missing, stack
from shopinsight_pipeline.schemas import DAILY_SALES_SCHEMA, TRENDS_SCHEMA

# Days of daily_sales a trend row for day D needs: 28 + 28 for the 28-day growth.
HISTORY_DAYS = 56


@dataclass(frozen=True)
class TrendSettings:
    anomaly_threshold: float = 3.5  # |robust z| above this flags the day
    seasonal_weeks: int = 4  # expected value: median of the same weekday over this many past weeks
    residual_window: int = 28  # days of residuals the robust z is scaled by


@dataclass(frozen=True)
class TrendsDay:
    """One day's category_trends table and the numbers its materialization reports."""

    table: pl.DataFrame
    anomalies: list[str]  # categories flagged on the day
    history_days_missing: int  # days of the window not written, counted as days without sales


def first_date(frame: pl.DataFrame) -> date:
    """The earliest `date` of a non-empty frame (polars types a column's min as any scalar)."""
    return frame.get_column("date").min()  # type: ignore[return-value]


def complete_daily_grid(sales: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """One row per category and day from `start` (or the category's first sale, if later) to `end`;
    a day with no orders has zeros, not a gap. A category first sold yesterday has two days of
    history, not weeks of zeros that would read as a launch from nothing."""
    days = pl.DataFrame({"date": pl.date_range(start, end, "1d", eager=True)})
    first_sale = sales.filter(pl.col("date") >= start).group_by("category").agg(pl.col("date").min().alias("_first"))
    grid = first_sale.join(days, how="cross").filter(pl.col("date") >= pl.col("_first")).drop("_first")
    return (
        grid.join(sales.select("date", "category", "revenue", "units"), on=["date", "category"], how="left")
        .with_columns(pl.col("revenue").fill_null(0.0), pl.col("units").fill_null(0).cast(pl.Int64))
        .sort("category", "date")
    )


def _growth(current: pl.Expr, previous: pl.Expr) -> pl.Expr:
    """current / previous - 1; null, not infinite, when the previous period sold nothing."""
    return pl.when(previous > 0).then(current / previous - 1)


def summarize_category_trends(
    sales: pl.DataFrame, day: date, settings: TrendSettings = TrendSettings()
) -> pl.DataFrame:
    """Trend rows for `day`, from daily_sales rows of up to HISTORY_DAYS days ending on `day`.

    Columns are null where the history is too short to compute them (a note says how many days
    there were), never guessed.
    """
    start = day - timedelta(days=HISTORY_DAYS - 1)
    history = sales.filter(pl.col("date").is_between(start, day))
    if history.is_empty():
        return pl.DataFrame(schema=TRENDS_SCHEMA)
    grid = complete_daily_grid(history, first_date(history), day)
    per_category = pl.col("category")
    revenue = pl.col("revenue")
    same_weekday = [revenue.shift(7 * week).over(per_category) for week in range(1, settings.seasonal_weeks + 1)]
    trends = grid.with_columns(
        pl.len().over(per_category).alias("history_days"),
        revenue.rolling_mean(7).over(per_category).alias("revenue_ma7"),
        revenue.rolling_mean(28).over(per_category).alias("revenue_ma28"),
        pl.col("units").cast(pl.Float64).rolling_mean(7).over(per_category).alias("units_ma7"),
        pl.col("units").cast(pl.Float64).rolling_mean(28).over(per_category).alias("units_ma28"),
        revenue.rolling_sum(7).over(per_category).alias("_sum7"),
        revenue.rolling_sum(28).over(per_category).alias("_sum28"),
        pl.concat_list(same_weekday).list.drop_nulls().alias("_same_weekday"),
    ).with_columns(
        _growth(pl.col("_sum7"), pl.col("_sum7").shift(7).over(per_category)).alias("wow_growth"),
        _growth(pl.col("_sum28"), pl.col("_sum28").shift(28).over(per_category)).alias("growth_28d"),
        pl.when(pl.col("_same_weekday").list.len() >= 2)
        .then(revenue - pl.col("_same_weekday").list.median())
        .alias("seasonal_residual"),
    )
    residual = pl.col("seasonal_residual")
    window = settings.residual_window
    trends = trends.with_columns(
        residual.rolling_median(window, min_samples=14).over(per_category).alias("_median"),
        (residual - residual.rolling_median(window, min_samples=14).over(per_category))
        .abs()
        .rolling_median(window, min_samples=14)
        .over(per_category)
        .alias("_mad"),
    ).with_columns(
        pl.when(pl.col("_mad") > 0).then((residual - pl.col("_median")) / (1.4826 * pl.col("_mad"))).alias("robust_z")
    )
    today = trends.filter(pl.col("date") == day).with_columns(
        (pl.col("robust_z").abs() > settings.anomaly_threshold).fill_null(False).alias("anomaly"),
        pl.when(pl.col("history_days") < HISTORY_DAYS)
        .then(pl.format("only {} days of history: longer windows are null", pl.col("history_days")))
        .alias("note"),
    )
    return today.select(list(TRENDS_SCHEMA)).cast(pl.Schema(TRENDS_SCHEMA))


def summarize_trends_day(
    days: Mapping[str, pl.DataFrame], day: date, settings: TrendSettings = TrendSettings()
) -> TrendsDay:
    """The run date's trends from the daily_sales of its HISTORY_DAYS window (date -> partition)."""
    table = summarize_category_trends(stack(days, pl.DataFrame(schema=DAILY_SALES_SCHEMA)), day, settings)
    return TrendsDay(
        table=table,
        anomalies=table.filter(pl.col("anomaly")).get_column("category").to_list(),
        history_days_missing=days_missing(days, day),
    )
