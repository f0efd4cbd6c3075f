"""The landing sensor asks for a day once all its files are there, and again only if one changes."""

import os
from datetime import timedelta

from dagster import SkipReason, build_sensor_context

from shopinsight_pipeline.sensors import complete_days, landing_sensor
from shopinsight_pipeline.storage import LakeStorage


def test_complete_days_need_every_file_and_change_key_on_redelivery(lake, tmp_path):
    storage = LakeStorage(root=str(lake.root))
    today = lake.days[-1] + timedelta(days=1)
    days = complete_days(storage, today, lookback=3)
    assert [day for day, _ in days] == lake.days[-3:]

    partial = LakeStorage(root=str(tmp_path))
    orders = partial.landing_file("orders", lake.days[-1])
    orders.parent.mkdir(parents=True)
    orders.write_text("order_id\n")
    assert complete_days(partial, today, lookback=3) == []  # reviews not yet landed
    reviews = partial.landing_file("reviews", lake.days[-1])
    reviews.parent.mkdir(parents=True)
    reviews.write_text("")
    assert complete_days(partial, today, lookback=3) == []  # the catalogue not yet landed
    products = partial.landing_file("products", lake.days[-1])
    products.parent.mkdir(parents=True)
    products.write_text("product_id\n")
    assert complete_days(partial, today, lookback=3) == []  # the stock count not yet landed
    stock = partial.landing_file("inventory", lake.days[-1])
    stock.parent.mkdir(parents=True)
    stock.write_text("product_id\n")
    assert [day for day, _ in complete_days(partial, today, lookback=3)] == [lake.days[-1]]

    reviews = storage.landing_file("reviews", lake.days[-1])
    before = dict(days)[lake.days[-1]]
    stat = reviews.stat()
    os.utime(reviews, (stat.st_atime, stat.st_mtime + 60))
    after = dict(complete_days(storage, today, lookback=3))[lake.days[-1]]
    assert after != before
    os.utime(reviews, (stat.st_atime, stat.st_mtime))


def test_sensor_skips_with_a_reason_when_nothing_landed(tmp_path):
    result = landing_sensor(build_sensor_context(resources={"storage": LakeStorage(root=str(tmp_path))}))
    assert isinstance(result, SkipReason)
    assert "no complete set of landing files" in result.skip_message
