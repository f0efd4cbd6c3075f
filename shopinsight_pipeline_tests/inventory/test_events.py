"""The planner's sales calendar (inventory/events.py): bad rows refused by name, an event's past days
kept out of the fits, its days ahead multiplied by its uplift (the calendar's, else measured on past
events, known only from the days before), and the asset reading the calendar or refusing it."""

import shutil
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from dagster import DagsterInstance

from shopinsight_pipeline.inventory.demand import DemandHistory, forecast_demand
from shopinsight_pipeline.inventory.events import SalesEvent, SalesEventsError, event_days, parse_sales_events
from shopinsight_pipeline.inventory.plan import ordinary_daily_demand
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import materialize_assets

HEADER = "name,first_day,last_day,expected_uplift\n"
FIRST_DAY = date(2026, 7, 1)


def test_a_calendar_is_read_with_its_optional_uplift():
    events = parse_sales_events(HEADER + "summer sale,2026-07-10,2026-07-11,2.5\nflash,2026-07-20,2026-07-20,\n", "f")
    assert events == [
        SalesEvent("summer sale", date(2026, 7, 10), date(2026, 7, 11), 2.5),
        SalesEvent("flash", date(2026, 7, 20), date(2026, 7, 20), None),
    ]


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("sale,2026-07-10,2026-13-01,\n", "iso_dates"),
        ("sale,2026-07-10,2026-07-09,\n", "event_span"),
        ("sale,2026-07-01,2026-08-15,\n", "event_span"),
        ("sale,2026-07-10,2026-07-10,0\n", "uplift_positive"),
        ("sale,2026-07-10,2026-07-10,lots\n", "uplift_positive"),
        (",2026-07-10,2026-07-10,\n", "event_named"),
        ("sale,2026-07-10,2026-07-12,\nflash,2026-07-12,2026-07-12,\n", "no_overlap"),
    ],
)
def test_a_bad_row_fails_the_calendar_naming_the_file_line_and_rule(body, rule):
    with pytest.raises(SalesEventsError, match=rf"^cal.csv line \d+: rule {rule}"):
        parse_sales_events(HEADER + body, "cal.csv")
    with pytest.raises(SalesEventsError, match="line 1: missing column"):
        parse_sales_events("name,day\nsale,2026-07-10\n", "cal.csv")


def test_the_uplift_is_measured_on_past_events_from_the_days_before_only():
    totals = np.full(60, 10.0)
    totals[[30, 31]] = 30.0  # a past event selling three times the same weekdays of the weeks before
    calendar = event_days(
        [
            SalesEvent("past", FIRST_DAY + timedelta(days=30), FIRST_DAY + timedelta(days=31)),
            SalesEvent("next", FIRST_DAY + timedelta(days=62), FIRST_DAY + timedelta(days=62)),
        ],
        FIRST_DAY,
        70,
    )
    assert calendar.measured_uplift(totals, before=60) == pytest.approx(3.0)
    factors, notes = calendar.factors(totals, before=60)
    assert factors[62] == pytest.approx(3.0) and factors[63] == 1 and "measured" in notes[0]
    # at day 25 the past event had not happened: nothing to measure, so the next ones are ordinary days
    early, early_notes = calendar.factors(totals, before=25)
    assert early[30] == 1 and early[62] == 1 and "no past event" in early_notes[0]


def history_of(units: np.ndarray) -> DemandHistory:
    return DemandHistory(["P1"], FIRST_DAY, units[None, :], np.zeros((1, units.size), dtype=bool), [])


def test_an_events_past_days_stay_out_of_the_fit_and_its_days_ahead_get_the_uplift():
    days = 84
    units = np.full(days, 5.0)
    units[[78, 79]] = 40.0  # last week's sale: eight times an ordinary day
    run_date = FIRST_DAY + timedelta(days=days - 1)
    past = SalesEvent("past sale", FIRST_DAY + timedelta(days=78), FIRST_DAY + timedelta(days=79), 8.0)
    coming = SalesEvent("next sale", run_date + timedelta(days=3), run_date + timedelta(days=3), 2.0)
    blind = forecast_demand(history_of(units), run_date, {}).table
    knowing = forecast_demand(history_of(units), run_date, {}, events=[past, coming]).table
    ordinary = knowing.filter(knowing["horizon_day"] != 3)
    assert blind["mean"].max() > 10  # read as ordinary demand, the sale comes back next week
    assert ordinary["mean"].to_numpy() == pytest.approx(5.0, rel=0.06)  # SBA's 5 less its 5% bias correction
    [sale_day] = knowing.filter(knowing["horizon_day"] == 3).iter_rows(named=True)
    assert sale_day["mean"] == pytest.approx(2 * ordinary["mean"][0])
    assert sale_day["sales_event"] == "next sale" and ordinary["sales_event"].is_null().all()
    assert sale_day["p90"] >= 2 * ordinary["p90"][0] - 1  # whole units: the doubled quantile, rounded


def test_the_asset_reads_the_samples_calendar_and_refuses_a_bad_one(lake, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(lake.root, root)
    day = lake.days[-1].isoformat()
    result = materialize_assets(root, DagsterInstance.ephemeral(), ["product_demand_forecast"], partition_key=day)
    [materialization] = result.asset_materializations_for_node("product_demand_forecast")
    assert materialization.metadata["sales_calendar"].value.startswith("1 sales event(s) from ")
    # the test lake's days hold one backtest origin: the holdout says why it is missing
    assert "nothing held out" in materialization.metadata["backtest_last_week_holdout"].value
    calendar = LakeStorage(root=str(root)).sales_events_file()
    calendar.write_text(HEADER + "sale,2026-09-14,2026-09-15,2.6\nbroken,yesterday,2026-09-20,\n", encoding="utf-8")
    failed = materialize_assets(root, DagsterInstance.ephemeral(), ["product_demand_forecast"], partition_key=day)
    assert not failed.success
    [failure] = [event for event in failed.all_events if event.event_type_value == "STEP_FAILURE"]
    assert f"{calendar} line 3: rule iso_dates: 'broken'" in failure.step_failure_data.error.message


def test_lost_sales_charge_an_ordinary_days_demand_not_tomorrows_sale():
    forecast = pl.DataFrame(
        {
            "product_id": ["P1"] * 7,
            "horizon_day": list(range(1, 8)),
            "mean": [10.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0],  # tomorrow is the sale
            "sales_event": ["sale"] + [None] * 6,
        }
    )
    assert ordinary_daily_demand(forecast) == {"P1": pytest.approx(14 / 6)}
    assert ordinary_daily_demand(forecast.drop("sales_event")) == {"P1": pytest.approx(24 / 7)}  # an older table
