"""daily_sales aggregates, checked against numbers worked out by hand."""

from datetime import date

import polars as pl
import pytest

from shopinsight_pipeline.reports.sales import summarize_daily_sales
from shopinsight_pipeline.schemas import DAILY_SALES_SCHEMA

DAY = date(2026, 8, 3)


def test_daily_sales_by_category():
    orders = pl.DataFrame(
        {
            "order_id": ["O1", "O2", "O3", "O4"],
            "order_date": [DAY] * 4,
            "category": ["books", "books", "books", "toys"],
            "quantity": [2, 1, 5, 3],
            "line_total": [20.0, 15.0, 50.0, 30.0],
            "status": ["delivered", "returned", "cancelled", "shipped"],
        }
    )
    sales = summarize_daily_sales(orders)
    assert sales.schema == pl.Schema(DAILY_SALES_SCHEMA)
    books, toys = sales.rows(named=True)
    # books: O3 is cancelled and does not count; O2 is returned (counted, drives return_rate)
    assert books == {
        "date": DAY,
        "category": "books",
        "orders": 2,
        "units": 3,
        "revenue": 35.0,
        "avg_order_value": 17.5,
        "return_rate": pytest.approx(0.5),
    }
    assert toys["orders"] == 1 and toys["revenue"] == 30.0 and toys["return_rate"] == 0.0


def test_no_orders_gives_an_empty_table_with_the_schema():
    empty = pl.DataFrame(
        schema={
            "order_id": pl.String,
            "order_date": pl.Date,
            "category": pl.String,
            "quantity": pl.Int32,
            "line_total": pl.Float64,
            "status": pl.String,
        }
    )
    sales = summarize_daily_sales(empty)
    assert sales.height == 0
    assert sales.schema == pl.Schema(DAILY_SALES_SCHEMA)
