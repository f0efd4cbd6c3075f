"""Inventory assets (issue 28): the Dagster wiring of inventory/demand.py, plan.py and policy.py.
product_demand_forecast reads the run date's window of validated orders and stock counts and the
day's catalogue; inventory_plan reads the day's stock count (or the latest of the week before), the
day's forecast, and for its policy replay the 28 days before (forecasts, stock counts, orders). The
numbers are computed in the pure modules."""

from collections.abc import Iterator
from datetime import date, timedelta

import polars as pl
from dagster import AssetCheckResult, AssetExecutionContext, Config, Failure, MetadataValue, Output, asset
from pydantic import Field

from shopinsight_pipeline import charts
from shopinsight_pipeline.gold_checks import audited_days, gold_check_specs
from shopinsight_pipeline.inventory.demand import (
    DemandSettings,
    demand_history,
    forecast_demand,
    summarize_backtest,
)
from shopinsight_pipeline.inventory.events import SalesEvent, SalesEventsError, parse_sales_events
from shopinsight_pipeline.inventory.plan import (
    PlanSettings,
    latest_counts,
    lost_sales,
    ordinary_daily_demand,
    plan_inventory,
    uncounted_products,
)
from shopinsight_pipeline.inventory.policy import PolicyComparison, replay_recent
from shopinsight_pipeline.markdown import frame_table
from shopinsight_pipeline.partitions import DAILY_ASSET, same_day_if_written, window, window_of
from shopinsight_pipeline.reports.windows import stack
from shopinsight_pipeline.schemas import (
    PRODUCT_DEMAND_FORECAST_SCHEMA,
    VALIDATED_INVENTORY_SCHEMA,
    VALIDATED_ORDERS_SCHEMA,
)
from shopinsight_pipeline.storage import LakeStorage

# Days of orders and stock the forecast may fit on: the declared window; history_days picks within it.
DEMAND_WINDOW_DAYS = 91


class DemandConfig(Config):
    horizon: int = Field(default=DemandSettings.horizon, ge=1, description="Days forecast after the run date.")
    history_days: int = Field(
        default=DemandSettings.history_days,
        ge=14,
        le=DEMAND_WINDOW_DAYS,
        description="Days of orders and stock counts the methods are fitted on (at most the declared window).",
    )
    backtest_origins: int = Field(
        default=DemandSettings.backtest_origins, ge=1, description="Weekly backtest origins before the run date."
    )

    def settings(self) -> DemandSettings:
        return DemandSettings(
            horizon=self.horizon, history_days=self.history_days, backtest_origins=self.backtest_origins
        )


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


@asset(
    check_specs=gold_check_specs("product_demand_forecast"),
    ins={
        "recent_orders": window("validated_orders", DEMAND_WINDOW_DAYS),
        "recent_stock": window("validated_inventory", DEMAND_WINDOW_DAYS),
        "products_today": same_day_if_written("products"),
    },
    **DAILY_ASSET,
    group_name="inventory",
    kinds={"polars", "parquet"},
    description="Per run date and product: daily demand for the next 28 days (mean, p10, p50, p90), stock-out "
    "days treated as censored, the method per product (seasonal naive, Croston-SBA, TSB, SBA with weekday "
    "factors) chosen on a rolling "
    "backtest: a more complex one serves only when it beats the simpler beyond the noise.",
)
def product_demand_forecast(
    context: AssetExecutionContext,
    config: DemandConfig,
    recent_orders: dict[str, pl.DataFrame],
    recent_stock: dict[str, pl.DataFrame],
    products_today: dict[str, pl.DataFrame],
    storage: LakeStorage,
) -> Iterator[Output | AssetCheckResult]:
    settings = config.settings()
    events, calendar_note = sales_events(storage)

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        first = day - timedelta(days=settings.history_days - 1)
        orders = stack(window_of(recent_orders, day, settings.history_days), _empty(VALIDATED_ORDERS_SCHEMA))
        stock = stack(window_of(recent_stock, day, settings.history_days), _empty(VALIDATED_INVENTORY_SCHEMA))
        catalogue = products_today.get(day.isoformat())
        categories = dict(catalogue.select("product_id", "category").iter_rows()) if catalogue is not None else {}
        history = demand_history(orders, stock, list(categories), first, day)

        def progress(done: int, total: int) -> None:
            if done % 500 == 0 or done == total:
                context.log.info(f"{day}: {done}/{total} products forecast")

        result = forecast_demand(history, day, categories, settings, progress, events)
        metadata = demand_metadata(result.scores, result.notes, history.censored.sum())
        metadata["backtest_last_week_holdout"] = (
            MetadataValue.json(result.holdout)
            if result.holdout
            else "no product has two backtest origins yet: nothing held out"
        )
        return result.table, {"sales_calendar": calendar_note, **metadata}

    yield from audited_days(context, storage, "product_demand_forecast", compute)


def sales_events(storage: LakeStorage) -> tuple[list[SalesEvent], str]:
    """The planner's calendar and what the run made of it; a bad row fails the step naming it."""
    path = storage.sales_events_file()
    if not path.exists():
        return [], f"no sales calendar at {path}: every day forecast as an ordinary one"
    try:
        events = parse_sales_events(path.read_text(encoding="utf-8"), str(path))
    except SalesEventsError as error:
        raise Failure(str(error)) from None
    return events, f"{len(events)} sales event(s) from {path}"


def demand_metadata(scores: pl.DataFrame, notes: list[str], censored_days: int) -> dict:
    """What the operator and the planner look at: the backtest per method over all products (the
    served method's too), how many products each method serves, and the notes."""
    metadata: dict = {
        "censored_product_days": int(censored_days),
        "notes": MetadataValue.md(
            "\n".join(f"- {note}" for note in notes[:50])
            + (f"\n- ... {len(notes) - 50} more" if len(notes) > 50 else "")
            or "none"
        ),
    }
    if scores.is_empty():
        return metadata
    summary = summarize_backtest(scores)
    metadata["backtest"] = MetadataValue.md(frame_table(summary))
    metadata["backtest_chart"] = MetadataValue.md(charts.markdown_image(charts.backtest_chart(summary), "backtest"))
    served = scores.filter(pl.col("serves"))
    metadata["methods_serving"] = MetadataValue.json(
        {method: int(count) for method, count in sorted(served.get_column("method").value_counts().iter_rows())}
    )
    for row in summary.iter_rows(named=True):
        metadata[f"mase_{row['method']}"] = row["mase"]
        if row["coverage80"] is not None and row["coverage80"] == row["coverage80"]:  # the benchmark has none
            metadata[f"coverage80_{row['method']}"] = row["coverage80"]
    worst = served.filter(pl.col("mase").is_finite()).sort("mase", descending=True).head(10)
    metadata["worst_products"] = MetadataValue.md(  # per product: where the forecast is weakest
        frame_table(worst.select("product_id", "method", "mase", "rmsse", "pinball", "coverage80", "why"))
    )
    return metadata


# A plan may use the latest stock count of this many days when the run date's is missing (it says so).
STOCK_LOOKBACK_DAYS = 7
LOST_SALES_DAYS = 7  # lost sales are estimated over the last week
REPLAY_DAYS = 28  # the policy replay in the metadata: the plan's rule against a fixed one over these days


class PlanConfig(Config):
    service_level: float = Field(
        default=PlanSettings.service_level,
        gt=0,
        lt=1,
        description="Probability of not running out before the next "
        "delivery that the reorder point and order-up-to level are set for.",
    )
    review_days: int = Field(
        default=PlanSettings.review_days, ge=1, description="Days between two orders of a product."
    )
    day_correlation: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Correlation between two days' demand errors in a span's variance; empty: the forecast's, "
        "estimated by product_demand_forecast per span length from the assortment's history (0: independent days).",
    )
    overstock_days: int = Field(
        default=PlanSettings.overstock_days,
        ge=1,
        le=DemandSettings.horizon,
        description="On hand above the 90% quantile of this many days' demand is overstock (at most the forecast's "
        "horizon).",
    )


@asset(
    check_specs=gold_check_specs("inventory_plan"),
    ins={
        "recent_stock": window("validated_inventory", REPLAY_DAYS + 1),
        "recent_orders": window("validated_orders", REPLAY_DAYS),
        "recent_forecasts": window("product_demand_forecast", REPLAY_DAYS),
    },
    **DAILY_ASSET,
    group_name="inventory",
    kinds={"polars", "parquet"},
    description="Per run date and product: on hand, on order, days of cover, the probability of running out before "
    "an order placed today can arrive, reorder point and order-up-to level for the service level (95%), the order "
    "to place today, and overstock with the cash it ties up.",
)
def inventory_plan(
    context: AssetExecutionContext,
    config: PlanConfig,
    recent_stock: dict[str, pl.DataFrame],
    recent_orders: dict[str, pl.DataFrame],
    recent_forecasts: dict[str, pl.DataFrame],
    storage: LakeStorage,
) -> Iterator[Output | AssetCheckResult]:
    settings = PlanSettings(
        service_level=config.service_level,
        review_days=config.review_days,
        overstock_days=config.overstock_days,
        day_correlation=config.day_correlation,
    )

    def compute(day: date) -> tuple[pl.DataFrame, dict]:
        counts = {
            key: frame for key, frame in window_of(recent_stock, day, STOCK_LOOKBACK_DAYS + 1).items() if frame.height
        }
        if not counts:
            raise Failure(
                description=f"no stock count for {day} or the {STOCK_LOOKBACK_DAYS} days before: expected "
                f"{storage.landing_file('inventory', day)} (validated into validated_inventory)",
                allow_retries=False,
            )
        stock_day = max(counts)
        counted = latest_counts({date.fromisoformat(key): frame for key, frame in counts.items()})
        forecast = recent_forecasts.get(day.isoformat())
        if forecast is None:  # no forecast of the day: every product keeps its stock and a note
            forecast = _empty(PRODUCT_DEMAND_FORECAST_SCHEMA)
        first_day = day - timedelta(days=LOST_SALES_DAYS - 1)
        lost = lost_sales(
            stack(window_of(recent_stock, day, LOST_SALES_DAYS), _empty(VALIDATED_INVENTORY_SCHEMA)),
            stack(window_of(recent_orders, day, LOST_SALES_DAYS), _empty(VALIDATED_ORDERS_SCHEMA)),
            ordinary_daily_demand(forecast, LOST_SALES_DAYS),
            first_day,
            day,
        )
        plan = (
            plan_inventory(counted.drop("stock_date"), forecast, day, settings)
            .join(counted.select("product_id", "stock_date"), on="product_id", how="left")
            .join(lost, on="product_id", how="left")
            .with_columns(pl.col("stockout_days_7d").fill_null(0), pl.col("lost_units_7d").fill_null(0.0))
        )
        if stock_day != day.isoformat():
            context.log.warning(f"{day}: no stock count of the day; the plan uses the one of {stock_day}")
        replayed = replay_recent(
            {date.fromisoformat(key): frame for key, frame in window_of(recent_forecasts, day, REPLAY_DAYS).items()},
            {date.fromisoformat(key): frame for key, frame in window_of(recent_stock, day, REPLAY_DAYS + 1).items()},
            stack(window_of(recent_orders, day, REPLAY_DAYS), _empty(VALIDATED_ORDERS_SCHEMA)),
            day,
            settings,
            REPLAY_DAYS,
        )
        metadata = plan_metadata(
            plan, counted, uncounted_products(counted, forecast), day, date.fromisoformat(stock_day)
        )
        for warning in metadata.pop("warnings"):
            context.log.warning(f"{day}: {warning}")
        if isinstance(replayed, PolicyComparison):
            return plan, {"policy_replay": MetadataValue.json(replayed.metadata()), **metadata}
        return plan, {"policy_replay_note": replayed, **metadata}

    yield from audited_days(context, storage, "inventory_plan", compute)


def _listed(items: list[str], shown: int = 50) -> str:
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def plan_metadata(plan: pl.DataFrame, counted: pl.DataFrame, uncounted: list[str], day: date, stock_day: date) -> dict:
    """What the planner reads first: today's orders and their cash, risk and overstock, and which
    products' counts are old or missing (`warnings`: the same, for the run's log)."""
    to_order = plan.filter(pl.col("suggested_order") > 0).sort("stockout_probability", descending=True)
    older = counted.filter(pl.col("stock_date") < stock_day)
    older_products = [
        f"{product} ({counted_day})" for product, counted_day in older.select("product_id", "stock_date").iter_rows()
    ]
    warnings = []
    if older_products:
        warnings.append(f"{len(older_products)} product(s) not in the count of {stock_day} use an older one")
    if uncounted:
        warnings.append(f"{len(uncounted)} product(s) with a forecast have no stock count")
    return {
        "warnings": warnings,
        "stock_date": stock_day.isoformat(),
        "older_counts": MetadataValue.md(
            f"{len(older_products)} product(s) missing from the count of {stock_day} (their row quarantined, or left "
            f"out) use their latest count of the days before (`stock_date`): {_listed(older_products)}"
            if older_products
            else f"none: every product uses the count of {stock_day}"
        ),
        "products_to_order": to_order.height,
        "units_to_order": int(to_order.get_column("suggested_order").sum()),
        "order_value": float((to_order["suggested_order"] * to_order["unit_cost"]).fill_null(0).sum()),
        "at_risk": int(plan.filter(pl.col("stockout_probability") >= 0.5).height),
        "overstocked": int(plan.get_column("overstock").fill_null(False).sum()),
        "overstock_value": float(plan.get_column("overstock_value").fill_null(0).sum()),
        "without_forecast": int(plan.get_column("note").is_not_null().sum()),
        "not_counted": len(uncounted),
        "not_counted_products": MetadataValue.md(
            f"sold in the forecast's history but in no stock count of the {STOCK_LOOKBACK_DAYS + 1} days up to "
            f"{day}, so without a plan: {_listed(uncounted)}"
            if uncounted
            else "none: every product with a forecast was counted"
        ),
        "lost_units_7d": float(plan.get_column("lost_units_7d").sum()),
        "reorder_chart": MetadataValue.md(
            charts.markdown_image(charts.reorder_chart(plan), "stock against reorder levels")
            if plan.filter(pl.col("reorder_point").is_not_null()).height
            else "no product with a plan"
        ),
        "orders_today": MetadataValue.md(
            frame_table(
                to_order.select(
                    "product_id",
                    "on_hand",
                    "on_order",
                    "stockout_probability",
                    "suggested_order",
                    (pl.col("suggested_order") * pl.col("unit_cost")).alias("order_value"),
                ).head(20)
            )
            if to_order.height
            else "nothing to order"
        ),
    }
