"""Purchase propensity on a planted world: weekly regulars buy again, one-off buyers do not, and
regulars who stopped are flagged as churn risks. Features never see the label week."""

import random
from datetime import date, timedelta

import polars as pl
import pytest

from shopinsight_pipeline.recommend.propensity import evaluate, features_as_of, labelled_snapshot, score
from shopinsight_pipeline.recommend.settings import PropensitySettings
from shopinsight_pipeline.schemas import CUSTOMER_EVENTS_SCHEMA

START, DAYS = date(2026, 6, 1), 120
LAST_DAY = START + timedelta(days=DAYS - 1)


def events_frame(rows: list[tuple[str, date, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "date": [day for _, day, _ in rows],
            "customer_id": [customer for customer, _, _ in rows],
            "event": [event for _, _, event in rows],
        }
    )
    weights = {"purchase": 1.0, "return": -1.0, "review": 0.5}
    return frame.with_columns(
        product_id=pl.lit("P1"),
        category=pl.lit("home"),
        weight=pl.col("event").replace_strict(weights, return_dtype=pl.Float64),
        order_id=pl.lit("O1"),
        event_ts=pl.lit(None, CUSTOMER_EVENTS_SCHEMA["event_ts"]),
        quantity=pl.lit(1, pl.Int32),
        value=pl.when(pl.col("event") == "purchase").then(50.0).otherwise(None),
        rating=pl.lit(None, pl.Int8),
    ).select(list(CUSTOMER_EVENTS_SCHEMA))


def planted_world(seed: int = 3) -> pl.DataFrame:
    """150 regulars buy every 5-9 days; 40 of them stop after day 80; 300 one-off buyers buy once."""
    rng = random.Random(seed)
    rows = []
    for regular in range(150):
        stops = 80 if regular < 40 else DAYS
        day = rng.randrange(7)
        while day < min(stops, DAYS):
            rows.append((f"R{regular:03d}", START + timedelta(days=day), "purchase"))
            day += rng.randint(5, 9)
    for once in range(300):
        rows.append((f"O{once:03d}", START + timedelta(days=rng.randrange(DAYS)), "purchase"))
    return events_frame(rows)


@pytest.fixture(scope="module")
def world() -> pl.DataFrame:
    return planted_world()


def test_features_never_see_the_days_after_the_snapshot(world):
    day = START + timedelta(days=60)
    later = events_frame([("R000", day + timedelta(days=1), "purchase"), ("NEW", day + timedelta(days=2), "purchase")])
    assert features_as_of(world, day).equals(features_as_of(pl.concat([world, later]), day))
    snapshot = labelled_snapshot(world, day, 7)
    bought = world.filter(pl.col("date").is_between(day + timedelta(days=1), day + timedelta(days=7)))
    known = set(world.filter(pl.col("date") <= day)["customer_id"])  # newcomers after the day are no row
    assert set(snapshot["customer_id"]) == known
    assert set(snapshot.filter(pl.col("bought") == 1)["customer_id"]) == set(bought["customer_id"]) & known


def test_regulars_are_told_from_one_off_buyers_and_the_probabilities_are_calibrated(world):
    settings = PropensitySettings()
    model, metrics = evaluate(world, LAST_DAY, settings)
    assert metrics["evaluated_on"] == (LAST_DAY - timedelta(days=7)).isoformat()
    assert all(
        date.fromisoformat(day) + timedelta(days=7) <= LAST_DAY - timedelta(days=7) for day in metrics["trained_on"]
    )
    assert metrics["roc_auc"] > 0.85, metrics
    assert metrics["brier"] < 0.7 * metrics["brier_of_base_rate"], metrics
    assert metrics["ece"] < 0.1, metrics
    scores = score(model, world, LAST_DAY, settings)  # the evaluated model serves
    active = scores.filter(pl.col("customer_id").str.starts_with("R") & (pl.col("recency_days") <= 9))
    one_off = scores.filter(pl.col("customer_id").str.starts_with("O"))
    assert active["purchase_probability"].mean() > one_off["purchase_probability"].mean() + 0.4


def test_regulars_who_stopped_are_flagged_and_active_ones_are_not(world):
    settings = PropensitySettings()
    day = START + timedelta(days=110)  # the 40 stopped on day 80: 30 days, several of their gaps
    model, _ = evaluate(world, day, settings)
    scores = score(model, world, day, settings)
    flagged = set(scores.filter(pl.col("churn_risk"))["customer_id"])
    stopped = {f"R{regular:03d}" for regular in range(40)}
    still_buying = set(
        scores.filter(pl.col("customer_id").str.starts_with("R") & (pl.col("recency_days") <= 5))["customer_id"]
    )
    assert flagged <= stopped  # one-off buyers have no usual gap to be overdue on
    assert not flagged & still_buying
    assert len(flagged) >= 0.5 * len(stopped), (len(flagged), len(stopped))


def test_too_short_a_history_is_an_error_that_says_so(world):
    short = world.filter(pl.col("date") <= START + timedelta(days=8))
    with pytest.raises(ValueError, match="too little history"):
        evaluate(short, START + timedelta(days=8), PropensitySettings())
