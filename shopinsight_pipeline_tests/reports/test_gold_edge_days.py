"""Every gold asset on the days a shop finds hardest: a new category, a neutral-only product and a
day without reviews (a copy of the ML lake)."""

import json
import shutil
from pathlib import Path

import polars as pl
from dagster import DagsterInstance

from shopinsight_pipeline.definitions import build_definitions
from shopinsight_pipeline.storage import LakeStorage
from shopinsight_pipeline_tests.conftest import PERMISSIVE, materialize_assets, materialize_days
from shopinsight_pipeline_tests.ml_lake import (
    metadata,
    score_days,
)


def test_a_new_category_a_neutral_only_product_and_a_day_without_reviews_give_every_gold_table(ml_lake, tmp_path):
    """Run date: a category sold for the first time and a product with only 3-star reviews; the day
    before: no reviews at all. Every gold asset materializes and says what is thin."""
    root = tmp_path / "lake"
    shutil.copytree(ml_lake.root, root)
    storage = LakeStorage(root=str(root))
    quiet_day, run_day = ml_lake.days[-2], ml_lake.days[-1]
    Path(str(storage.landing_file("reviews", quiet_day))).write_bytes(b"")
    with open(str(storage.landing_file("orders", run_day)), "a", encoding="utf-8") as orders:
        for number in range(3):
            orders.write(f"ONEW{number},C9,PGARDEN,garden,1,35.00,CNY,{run_day}T1{number}:00:00+08:00,delivered\n")
    with open(str(storage.landing_file("reviews", run_day)), "a", encoding="utf-8") as reviews:
        for number, text in enumerate(["还行吧，一般般", "中规中矩", "不好不坏"]):
            review = {
                "review_id": f"RNEUTRAL{number}",
                "order_id": f"ONEW{number}",
                "product_id": "PNEUTRAL",
                "rating": 3,
                "review_text": text,
                "review_ts": f"{run_day}T2{number}:00:00+08:00",
            }
            reviews.write(json.dumps(review, ensure_ascii=False) + "\n")

    instance = DagsterInstance.ephemeral()
    prepare = build_definitions(str(root)).resolve_job_def("prepare_partition_job")
    days = [quiet_day, run_day]
    assert all(r.success for r in materialize_days(root, days, instance, PERMISSIVE, job=prepare))
    scored = score_days(root, days, instance)
    assert all(r.success for r in scored)
    gold_assets = ["sales_forecast", "insights", "insight_report"]
    for day in days:  # the day without reviews is a run date too
        assert materialize_assets(root, instance, gold_assets, partition_key=day.isoformat()).success
        assert (storage.report_dir(day) / "report.html").is_file()

    assert storage.read_partition("product_sentiment", quiet_day).is_empty()
    assert "no validated reviews" in metadata(scored[0], "product_sentiment")["note"]
    neutral = storage.read_partition("product_sentiment", run_day).filter(pl.col("product_id") == "PNEUTRAL")
    assert neutral.get_column("reviews").to_list() == [3] and neutral.get_column("avg_rating").to_list() == [3.0]
    assert "only neutral (3-star) reviews" in metadata(scored[1], "product_sentiment")["note"]

    [garden] = storage.read_partition("category_trends", run_day).filter(pl.col("category") == "garden").to_dicts()
    assert garden["revenue"] == 105.0 and "only 1 days of history" in garden["note"]
    forecast = storage.read_partition("sales_forecast", run_day).filter(pl.col("category") == "garden")
    assert forecast.height == 14 and forecast.get_column("note").str.contains("fallback").all()
    assert storage.read_partition("insights", run_day).height > 0
