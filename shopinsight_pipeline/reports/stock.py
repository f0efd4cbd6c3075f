"""Inventory findings for the insights (issue 28.5), from the run date's inventory_plan: products
likely to run out before an order placed today can arrive (`stockout_risk`), stock far above its
demand (`overstock`) and units lost to an empty shelf last week (`lost_sales`). Pure."""

import polars as pl

from shopinsight_pipeline.reports.findings import finding, money, percent


def stock_findings(plan: pl.DataFrame | None, language: str, min_risk: float = 0.5, limit: int = 5) -> list[dict]:
    """At most `limit` findings of each type, the largest first; none without a plan."""
    if plan is None or plan.is_empty():
        return []
    rows = []
    risky = plan.filter(pl.col("stockout_probability") >= min_risk).sort("stockout_probability", descending=True)
    for row in risky.head(limit).iter_rows(named=True):
        cover = row["days_of_cover"]
        rows.append(
            finding(
                "stockout_risk",
                "product",
                row["product_id"],
                "high" if row["stockout_probability"] >= 0.8 else "medium",
                row["stockout_probability"],
                row["stockout_probability"],
                float(row["on_hand"]),
                language,
                cover="no" if cover is None else f"{cover:.1f}",
                p=percent(row["stockout_probability"]),
                lead=str(row["lead_time_days"]),
                order=str(row["suggested_order"]),
            )
        )
    heavy = plan.filter(pl.col("overstock").fill_null(False)).sort("overstock_value", descending=True)
    for row in heavy.head(limit).iter_rows(named=True):
        rows.append(
            finding(
                "overstock",
                "product",
                row["product_id"],
                "medium",
                row["overstock_value"],
                row["overstock_value"],
                float(row["on_hand"]),
                language,
                on_hand=str(row["on_hand"]),
                excess=str(row["excess_units"]),
                value=money(row["overstock_value"]),
            )
        )
    lost = plan.filter(pl.col("lost_units_7d") >= 1).sort("lost_units_7d", descending=True)
    for row in lost.head(limit).iter_rows(named=True):
        rows.append(
            finding(
                "lost_sales",
                "product",
                row["product_id"],
                "high" if row["lost_units_7d"] >= 50 else "medium",
                row["lost_units_7d"],
                row["lost_units_7d"],
                float(row["stockout_days_7d"]),
                language,
                units=f"{row['lost_units_7d']:.0f}",
                days=str(row["stockout_days_7d"]),
            )
        )
    return rows
