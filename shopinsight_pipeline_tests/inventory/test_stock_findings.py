"""The inventory findings the insights and the report carry (issue 28.5), and the lost sales they
are built from, on plans whose answers are known."""

from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.inventory.plan import lost_sales
from shopinsight_pipeline.reports.report import render_report
from shopinsight_pipeline.reports.stock import stock_findings

DAY = date(2026, 9, 30)


def plan(rows: list[dict]) -> pl.DataFrame:
    base = {
        "on_hand": 0,
        "lead_time_days": 5,
        "days_of_cover": None,
        "stockout_probability": 0.0,
        "suggested_order": 0,
        "overstock": False,
        "excess_units": 0,
        "overstock_value": 0.0,
        "stockout_days_7d": 0,
        "lost_units_7d": 0.0,
    }
    return pl.DataFrame([{**base, **row} for row in rows])


def test_each_kind_of_stock_trouble_becomes_its_finding_with_the_plans_numbers():
    findings = stock_findings(
        plan(
            [
                {
                    "product_id": "P123",
                    "on_hand": 12,
                    "days_of_cover": 2.0,
                    "stockout_probability": 0.9,
                    "suggested_order": 140,
                },
                {"product_id": "P200", "on_hand": 30, "days_of_cover": 6.0, "stockout_probability": 0.3},
                {
                    "product_id": "P407",
                    "on_hand": 1655,
                    "overstock": True,
                    "excess_units": 1513,
                    "overstock_value": 41335.16,
                },
                {"product_id": "P100", "stockout_days_7d": 5, "lost_units_7d": 61.6},
            ]
        ),
        "en",
    )
    by_type = {row["type"]: row for row in findings}
    assert set(by_type) == {"stockout_risk", "overstock", "lost_sales"}  # P200's 30% is no risk finding
    risk = by_type["stockout_risk"]
    assert risk["entity"] == "P123" and risk["severity"] == "high"
    assert risk["sentence"] == (
        "P123: 2.0 days of cover, 90.0% chance of running out before a delivery ordered today arrives in 5 days; "
        "order 140."
    )
    assert by_type["overstock"]["sentence"] == (
        "P407: 1655 units on hand, 1513 more than the next 28 days' demand at its 90% quantile, tying up 41,335."
    )
    assert by_type["lost_sales"]["sentence"] == (
        "P100: about 62 units lost to an empty shelf in the last 7 days (5 days out of stock)."
    )
    assert by_type["lost_sales"]["severity"] == "high"
    assert stock_findings(None, "en") == [] and stock_findings(plan([{"product_id": "X"}]), "en") == []


def test_lost_sales_count_the_demand_an_empty_shelf_turned_away():
    stock = pl.DataFrame(
        {"date": [date(2026, 9, d) for d in (27, 28, 29, 30)], "product_id": ["A"] * 4, "on_hand": [3, 0, 0, 5]}
    )
    sales = pl.DataFrame(
        {
            "order_date": [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 29)],
            "product_id": ["A"] * 3,
            "quantity": [4, 1, 9],
            "status": ["delivered", "delivered", "cancelled"],
        }
    )
    lost = lost_sales(stock, sales, {"A": 10.0}, date(2026, 9, 24), DAY).row(0, named=True)
    # two days ended empty: 10 wanted each, 4 and 1 sold (the cancelled 9 never left the shelf)
    assert lost["stockout_days_7d"] == 2 and lost["lost_units_7d"] == pytest.approx(6 + 9)


def test_the_report_has_an_inventory_section_with_the_stock_findings():
    rows = stock_findings(
        plan(
            [
                {
                    "product_id": "P123",
                    "on_hand": 1,
                    "days_of_cover": 0.5,
                    "stockout_probability": 0.95,
                    "suggested_order": 40,
                }
            ]
        ),
        "en",
    )
    insights = pl.DataFrame([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]).with_columns(
        pl.lit(1).alias("rank")
    )
    page = render_report(DAY, {}, insights, pl.DataFrame(), {}, [])
    section = page.split("<h2>Inventory</h2>", 1)[1].split("<h2>", 1)[0]
    assert "P123: 0.5 days of cover, 95.0% chance of running out" in section
    empty = render_report(DAY, {}, insights.head(0), pl.DataFrame(), {}, [])
    assert "no product at risk of running out" in empty.split("<h2>Inventory</h2>", 1)[1]
