"""Insights from hand-made inputs: which findings, their order, and sentences built only from row numbers."""

import math
import re
from datetime import date, timedelta

import polars as pl
import pytest

from shopinsight_pipeline.reports.insights import (
    InsightInputs,
    InsightSettings,
    build_insights,
    build_insights_for_day,
    two_proportion_p,
    units_by_product,
)
from shopinsight_pipeline.reports.quality import quality_counts, quality_of
from shopinsight_pipeline.schemas import REVIEW_ASPECTS_SCHEMA, TRENDS_SCHEMA

RUN = date(2026, 9, 30)


def sentiment_rows(product: str, start: date, days: int, reviews: int, negative_share: float) -> list[dict]:
    return [
        {
            "date": start + timedelta(days=i),
            "product_id": product,
            "reviews": reviews,
            "share_negative": negative_share,
            "model_rating_agreement": 0.9,
        }
        for i in range(days)
    ]


def aspect_rows(mentions: list[tuple[str, date, str, str]]) -> pl.DataFrame:
    """review_aspects rows: (product, day, aspect, polarity), each its own review."""
    return pl.DataFrame(
        {
            "review_id": [f"R{number}" for number in range(len(mentions))],
            "product_id": [row[0] for row in mentions],
            "review_date": [row[1] for row in mentions],
            "aspect": [row[2] for row in mentions],
            "span": [f"{row[2]} clause {number}" for number, row in enumerate(mentions)],
            "polarity": [row[3] for row in mentions],
            "probability": [0.9] * len(mentions),
            "prob_negative": [0.9] * len(mentions),
            "method": ["lexicon"] * len(mentions),
            "tagger_version": ["taxonomy-v3"] * len(mentions),
            "model_version": ["v1"] * len(mentions),
        },
        schema=REVIEW_ASPECTS_SCHEMA,
    )


def inputs(**overrides) -> InsightInputs:
    trends = pl.DataFrame(
        {
            "date": [RUN] * 3,
            "category": ["toys", "books", "home"],
            "revenue": [900.0, 100.0, 120.0],
            "revenue_ma28": [100.0, 50.0, 80.0],
            "growth_28d": [0.4, -0.25, 0.05],
            "seasonal_residual": [700.0, 0.0, 1.0],
            "robust_z": [8.0, 0.0, 0.1],
            "anomaly": [True, False, False],
        }
    )
    forecast = pl.DataFrame({"horizon_day": list(range(1, 15)), "revenue": [110.0] * 14})
    recent_sales = pl.DataFrame({"date": [RUN - timedelta(days=i) for i in range(14)], "revenue": [100.0] * 14})
    earlier_start, recent_start = RUN - timedelta(days=34), RUN - timedelta(days=6)
    sentiment = pl.DataFrame(
        sentiment_rows("PJUMP", earlier_start, 28, 4, 0.25)
        + sentiment_rows("PJUMP", recent_start, 7, 3, 1.0)
        + sentiment_rows("PFEW", earlier_start, 28, 0, 0.0)
        + sentiment_rows("PFEW", recent_start, 1, 5, 1.0)
        + sentiment_rows("POTHER", earlier_start, 35, 2, 0.1)  # PJUMP's category, reviewed well
    )
    product_units = pl.DataFrame({"product_id": ["PJUMP", "POTHER", "PTHIRD", "PFEW"], "units": [500, 10, 20, 5]})
    quality = pl.DataFrame(
        {
            "date": [RUN - timedelta(days=i) for i in range(8)],
            "entity": ["orders"] * 8,
            "raw_rows": [100] * 8,
            "rejected_rows": [20] + [2] * 7,
        }
    )
    values = {
        "aspects": aspect_rows(
            # PJUMP: 2 logistics complaints in the 28 days before, 8 in the last 7 (of 21 reviews)
            [("PJUMP", RUN - timedelta(days=20 + day), "logistics", "negative") for day in range(2)]
            + [("PJUMP", RUN - timedelta(days=day % 7), "logistics", "negative") for day in range(8)]
            + [("PJUMP", RUN - timedelta(days=day), "price", "negative") for day in range(3)]
            + [("POTHER", RUN - timedelta(days=day), "quality", "positive") for day in range(5)]
        ),
        "categories": pl.DataFrame({"product_id": ["PJUMP", "POTHER", "PFEW"], "category": ["toys", "toys", "books"]}),
        "run_date": RUN,
        "trends": trends,
        "forecast": forecast,
        "recent_sales": recent_sales,
        "sentiment": sentiment,
        "product_units": product_units,
        "quality": quality,
    }
    return InsightInputs(**(values | overrides))


def test_findings_ranked_by_severity_with_the_expected_types():
    insights = build_insights(inputs())
    kinds = set(insights.get_column("type"))
    assert kinds >= {
        "fastest_growing_category",
        "fastest_falling_category",
        "forecast_vs_last_period",
        "negative_share_jump",
        "top_complaint",
        "aspect_negative_surge",
        "anomalous_day",
        "data_quality",
    }
    assert insights.get_column("rank").to_list() == list(range(1, insights.height + 1))
    order = insights.get_column("severity").replace_strict({"high": 0, "medium": 1, "low": 2}).to_list()
    assert order == sorted(order)
    growing = insights.filter(pl.col("type") == "fastest_growing_category").row(0, named=True)
    assert growing["entity"] == "toys"
    assert growing["value"] == pytest.approx(2800.0) and growing["reference"] == pytest.approx(2000.0)
    forecast = insights.filter(pl.col("type") == "forecast_vs_last_period").row(0, named=True)
    assert (
        forecast["sentence"] == "Revenue of the next 14 days is forecast at 1,540, +10.0% vs the last 14 days (1,400)."
    )


def test_minimum_evidence_keeps_thin_products_out():
    insights = build_insights(inputs())
    assert "PFEW" not in insights.filter(pl.col("type") == "negative_share_jump").get_column("entity").to_list()
    assert "PJUMP" in insights.filter(pl.col("type") == "negative_share_jump").get_column("entity").to_list()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_number_in_a_sentence_is_in_the_row(language):
    insights = build_insights(inputs(), InsightSettings(language=language))
    for row in insights.iter_rows(named=True):
        rest = row["sentence"].replace(row["entity"], "").replace(row["entity_name"] or "", "")
        for number in sorted(row["numbers"], key=len, reverse=True):
            rest = rest.replace(number, "")
        assert not re.search(r"\d", rest), row["sentence"]
    if language == "zh":
        assert all(re.search(r"[\u4e00-\u9fff]", s) for s in insights.get_column("sentence"))


def test_two_proportion_p_value_by_hand():
    # 21/21 vs 0/56: pooled 21/77; z = 1 / sqrt(p(1-p)(1/21+1/56)) ~= 8.77 -> p far below 0.001
    assert two_proportion_p(21, 21, 0, 56) < 1e-10
    assert two_proportion_p(5, 10, 5, 10) == pytest.approx(0.5)


def pooled_one_sided_p(hits_a: int, total_a: int, hits_b: int, total_b: int) -> float:
    """The formula written out: z = (pa - pb) / sqrt(p(1 - p)(1/na + 1/nb)) with the pooled p, and
    the upper tail P(Z > z) = erfc(z / sqrt 2) / 2."""
    pooled = (hits_a + hits_b) / (total_a + total_b)
    z = (hits_a / total_a - hits_b / total_b) / math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    return 0.5 * math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize(
    ("hits_a", "total_a", "hits_b", "total_b"),
    [(7, 21, 10, 112), (3, 30, 12, 40), (12, 20, 4, 20), (1, 100, 0, 100)],
)
def test_two_proportion_p_is_the_pooled_one_sided_z_test(hits_a, total_a, hits_b, total_b):
    # one-sided: a share below the other gives a p above 0.5, never a small one
    assert two_proportion_p(hits_a, total_a, hits_b, total_b) == pytest.approx(
        pooled_one_sided_p(hits_a, total_a, hits_b, total_b), rel=1e-12
    )


def test_two_proportion_p_of_equal_all_or_nothing_shares_is_one():
    assert two_proportion_p(0, 10, 0, 30) == 1.0
    assert two_proportion_p(10, 10, 30, 30) == 1.0


def test_empty_inputs_give_an_empty_table_with_notes():
    empty = inputs(
        trends=pl.DataFrame(schema=TRENDS_SCHEMA),
        forecast=pl.DataFrame(),
        recent_sales=pl.DataFrame(),
        sentiment=pl.DataFrame(),
        product_units=pl.DataFrame(),
        quality=pl.DataFrame(
            schema={"date": pl.Date, "entity": pl.String, "raw_rows": pl.Int64, "rejected_rows": pl.Int64}
        ),
    )
    insights = build_insights(empty)
    assert insights.is_empty()
    assert any("no product_sentiment" in note for note in empty.notes)


def propensity_rows() -> pl.DataFrame:
    """Ten regulars, three of them flagged, and one one-off buyer (not a regular)."""
    return pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(11)],
            "orders_90d": [3.0] * 10 + [1.0],
            "value_90d": [100.0, 200.0, 300.0] + [50.0] * 7 + [999.0],
            "purchase_probability": [0.05, 0.1, 0.15] + [0.6] * 7 + [0.1],
            "churn_risk": [True] * 3 + [False] * 7 + [False],
        }
    )


def test_customers_at_risk_count_the_flagged_regulars_and_the_value_they_spent():
    findings = build_insights(inputs(propensity=propensity_rows()))
    [risk] = findings.filter(pl.col("type") == "customers_at_risk").iter_rows(named=True)
    assert risk["value"] == 3 and risk["reference"] == 600.0  # 100 + 200 + 300
    assert risk["severity"] == "high"  # 3 of 10 regulars
    assert "3 regular customers" in risk["sentence"] and "600" in risk["sentence"] and "30.0%" in risk["sentence"]


def test_cross_sell_pairs_need_enough_customers_and_lift():
    pairs = pl.DataFrame(
        {
            "first": ["P1", "P9", "P2", "P3"],
            "second": ["P9", "P1", "P8", "P7"],
            "customers": [40, 40, 5, 30],
            "buyers": [50, 60, 6, 300],
            "share": [0.8, 0.67, 0.83, 0.1],
            "base_share": [0.1, 0.1, 0.1, 0.08],
            "lift": [8.0, 6.7, 8.3, 1.25],
            "days": [30, 30, 30, 30],
        }
    )
    findings = build_insights(inputs(pairs=pairs)).filter(pl.col("type") == "top_cross_sell_pair")
    # P9 -> P1 is the same pair the other way; P2: too few customers; P3: too little lift
    assert findings["entity"].to_list() == ["P1"]
    assert "P9" in findings["sentence"][0] and "8.0x" in findings["sentence"][0]


def test_cross_sell_pairs_count_customers_who_bought_the_second_within_the_days():
    from shopinsight_pipeline.recommend.events import cross_sell_pairs

    day = date(2026, 9, 1)
    purchases = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "d"],
            "product_id": ["X", "Y", "X", "Y", "X", "Z"],
            "category": ["e"] * 6,
            "day": [day, day + timedelta(days=2), day, day + timedelta(days=40), day, day],
        }
    )
    pairs = cross_sell_pairs(purchases, days=30)
    x_then_y = pairs.filter((pl.col("first") == "X") & (pl.col("second") == "Y")).row(0, named=True)
    assert (x_then_y["customers"], x_then_y["buyers"]) == (1, 3)  # b bought Y 40 days later: not counted
    assert x_then_y["share"] == pytest.approx(1 / 3)
    assert x_then_y["base_share"] == pytest.approx(2 / 4) and x_then_y["lift"] == pytest.approx((1 / 3) / (2 / 4))
    assert pairs.filter(pl.col("first") == pl.col("second")).height == 0


def test_units_by_product_leaves_cancelled_orders_out():
    orders = pl.DataFrame(
        {
            "product_id": ["P1", "P1", "P2", "P2"],
            "quantity": [2, 3, 5, 1],
            "status": ["delivered", "returned", "cancelled", "shipped"],
        }
    )
    units = dict(units_by_product(orders).iter_rows())
    assert units == {"P1": 5, "P2": 1}
    assert units_by_product(pl.DataFrame()).is_empty()


def test_quality_counts_per_entity_and_day_and_each_days_window():
    def rows(count: int) -> pl.LazyFrame:
        return pl.LazyFrame({"x": list(range(count))})

    days = [RUN - timedelta(days=offset) for offset in range(10)]
    raw = {day.isoformat(): rows(100) for day in days}
    rejected = {day.isoformat(): rows(offset) for offset, day in enumerate(days)}
    # reviews: the run date's quarantine is not written, so the day is not counted
    counts = quality_counts(raw, raw, rejected, {key: rows(1) for key in list(rejected)[1:]})
    assert counts.columns == ["date", "entity", "raw_rows", "rejected_rows"]
    assert counts.filter(pl.col("entity") == "orders").height == 10
    assert counts.filter(pl.col("entity") == "reviews").get_column("date").max() == RUN - timedelta(days=1)
    window = quality_of(counts, RUN)
    assert window.get_column("date").min() == RUN - timedelta(days=7)  # the run date and the 7 days before
    assert window.filter((pl.col("entity") == "orders") & (pl.col("date") == RUN)).row(0)[2:] == (100, 0)


def test_products_are_named_beside_their_ids_in_sentences_and_entity_name():
    names = {"PJUMP": "Panda Play kite", "P1": "Voltra earbuds", "P9": "Lumo power bank"}
    pairs = pl.DataFrame(
        {"first": ["P1"], "second": ["P9"], "customers": [40], "buyers": [50], "share": [0.8]}
        | {"base_share": [0.1], "lift": [8.0], "days": [30]}
    )
    plain = build_insights(inputs(pairs=pairs), InsightSettings(max_per_type_in_top=99))
    named = build_insights(inputs(pairs=pairs, product_names=names), InsightSettings(max_per_type_in_top=99))
    assert named.height == plain.height and plain.get_column("entity_name").null_count() == plain.height
    for before, after in zip(plain.iter_rows(named=True), named.iter_rows(named=True), strict=True):
        assert after["entity"] == before["entity"] and after["numbers"] == before["numbers"]
        if after["entity"] == "PJUMP":
            assert after["entity_name"] == names[after["entity"]]
            label = f"{after['entity']} ({names[after['entity']]})"
            assert after["sentence"] == before["sentence"].replace(after["entity"], label, 1)
        elif after["type"] != "top_cross_sell_pair":  # a category, an unnamed product, the whole shop
            assert after["sentence"] == before["sentence"] and after["entity_name"] is None
    [pair] = named.filter(pl.col("type") == "top_cross_sell_pair")["sentence"]
    assert "P1 (Voltra earbuds)" in pair and "P9 (Lumo power bank)" in pair


def test_insights_for_a_day_name_products_from_the_days_catalogue_and_note_a_missing_one():
    day_inputs = inputs()
    common = {
        "trends_today": {RUN.isoformat(): day_inputs.trends},
        "forecast_today": {},
        "recent_sales": {},
        "recent_sentiment": {RUN.isoformat(): day_inputs.sentiment},
        "recent_orders": {},
        "quality": day_inputs.quality,
        "propensity_today": {},
        "recent_events": {},
    }
    catalogue = pl.DataFrame({"product_id": ["PJUMP"], "product_name": ["Panda Play kite"]})
    findings, notes = build_insights_for_day(RUN, **common, products_today={RUN.isoformat(): catalogue})
    jump = findings.filter(pl.col("type") == "negative_share_jump").row(0, named=True)
    assert jump["entity_name"] == "Panda Play kite" and "PJUMP (Panda Play kite)" in jump["sentence"]
    assert not any("products has no partition" in note for note in notes)
    findings, notes = build_insights_for_day(RUN, **common, products_today={})
    assert f"products has no partition for {RUN}: products are named by id only" in notes
    assert findings.get_column("entity_name").null_count() == findings.height


def test_insights_for_a_day_note_missing_partitions_and_read_only_the_given_windows():
    day_inputs = inputs()
    sales = {
        day.isoformat(): day_inputs.recent_sales.filter(pl.col("date") == day)
        for day in day_inputs.recent_sales.get_column("date")
    }
    findings, notes = build_insights_for_day(
        RUN,
        trends_today={},
        forecast_today={RUN.isoformat(): day_inputs.forecast},
        recent_sales=sales,
        recent_sentiment={},
        recent_orders={},
        quality=day_inputs.quality,
        propensity_today={},
        recent_events={},
    )
    assert notes[0] == f"category_trends has no partition for {RUN}: its findings are skipped"
    assert any("no product_sentiment" in note for note in notes)
    assert set(findings.get_column("type")) == {"forecast_vs_last_period", "data_quality"}


def test_a_surge_of_complaints_names_the_aspect_the_product_its_category_and_two_quotes():
    insights = build_insights(inputs(), InsightSettings(max_per_type_in_top=99))
    surges = insights.filter(pl.col("type") == "aspect_negative_surge")
    # toys: PJUMP's complaints among PJUMP's and POTHER's reviews surge too
    assert set(zip(surges["entity_type"], surges["entity"], strict=True)) == {
        ("product", "PJUMP"),
        ("category", "toys"),
    }
    [surge] = surges.filter(pl.col("entity_type") == "product").to_dicts()
    # 8 of 21 reviews in the last 7 days (3 a day) against 2 of 112 (4 a day for 28 days) before
    assert surge["value"] == pytest.approx(8 / 21) and surge["reference"] == pytest.approx(2 / 112)
    assert "Complaints about logistics of PJUMP rose" in surge["sentence"]
    assert surge["sentence"].count("logistics clause") == 2  # two recent complaints quoted


def test_no_surge_is_reported_when_complaints_keep_their_usual_rate():
    steady = aspect_rows(
        [("PJUMP", RUN - timedelta(days=day), "logistics", "negative") for day in range(0, 35, 5)]  # 1 in 5 days
    )
    insights = build_insights(inputs(aspects=steady))
    assert insights.filter(pl.col("type") == "aspect_negative_surge").is_empty()


def test_a_product_worse_than_its_category_gets_its_top_complaint():
    insights = build_insights(inputs())
    complaints = insights.filter(pl.col("type") == "top_complaint")
    assert complaints.get_column("entity").to_list() == ["PJUMP"]  # POTHER is the category's baseline
    sentence = complaints.item(0, "sentence")
    assert "other toys products" in sentence
    assert "most complaints are about logistics (" in sentence  # 10 logistics vs 3 price complaints
    assert "e.g. \u201clogistics clause" in sentence


def test_a_product_judged_like_its_category_is_no_top_complaint():
    calm = inputs(categories=pl.DataFrame({"product_id": ["PJUMP", "POTHER"], "category": ["toys", "garden"]}))
    assert build_insights(calm).filter(pl.col("type") == "top_complaint").is_empty()  # no other toys to compare


def test_one_type_fills_at_most_three_of_the_top_ten_and_the_rest_ranks_behind_the_other_types():
    many_jumps = pl.concat(
        [
            pl.DataFrame(
                sentiment_rows(f"P{n}", RUN - timedelta(days=34), 28, 4, 0.1)
                + sentiment_rows(f"P{n}", RUN - timedelta(days=6), 7, 4, 0.9)
            )
            for n in range(8)
        ]
    )
    insights = build_insights(inputs(sentiment=many_jumps))
    kinds = insights.get_column("type").to_list()
    jumps = [rank for rank, kind in enumerate(kinds) if kind == "negative_share_jump"]
    others = [rank for rank, kind in enumerate(kinds) if kind != "negative_share_jump"]
    assert len(jumps) == 8 and len(others) >= 3
    assert jumps[:3] == [0, 1, 2]  # the three strongest keep their place at the top
    assert max(others) < jumps[3]  # every finding of another type ranks before the fourth jump


def test_a_modest_jump_among_many_steady_products_is_not_reported_but_a_strong_one_is():
    """The run date's jumps are tested together (Benjamini-Hochberg): 10 of 21 recent reviews negative
    against 25% before has p = 0.018 alone, which forty steady products make a chance finding."""
    earlier, recent = RUN - timedelta(days=34), RUN - timedelta(days=6)
    rows = []
    for n in range(40):  # steady: 25% negative before and after
        rows += sentiment_rows(f"STEADY{n}", earlier, 28, 4, 0.25) + sentiment_rows(f"STEADY{n}", recent, 7, 3, 0.25)
    rows += sentiment_rows("MODEST", earlier, 28, 4, 0.25)  # then 10 of 21: 2 negative of 3 on 3 days, 1 on 4
    rows += sentiment_rows("MODEST", recent, 3, 3, 2 / 3) + sentiment_rows(
        "MODEST", recent + timedelta(days=3), 4, 3, 1 / 3
    )
    rows += sentiment_rows("STRONG", earlier, 28, 4, 0.25) + sentiment_rows("STRONG", recent, 7, 3, 1.0)
    assert two_proportion_p(10, 21, 28, 112) < 0.05  # significant on its own
    jumps = build_insights(inputs(sentiment=pl.DataFrame(rows))).filter(pl.col("type") == "negative_share_jump")
    assert jumps.get_column("entity").to_list() == ["STRONG"]
    alone = build_insights(inputs(sentiment=pl.DataFrame([r for r in rows if r["product_id"] == "MODEST"])))
    assert alone.filter(pl.col("type") == "negative_share_jump").get_column("entity").to_list() == ["MODEST"]
