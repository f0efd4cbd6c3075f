"""Freshness that understands partitions (issue 26.2): a night that never ran is noticed.

- Every daily gold table (and the report) has a time-partition freshness check: by the deadline
  (06:00 in the business timezone by default) the day that ended must be written. A skipped night
  fails the check of every table it should have written, naming the day expected.
- Every model asset has a last-update check: retrained within the last 8 days (the retrain schedule
  runs daily; a week of failures is worth a look).
- `freshness_checks_sensor` evaluates them (on by default), and alerts/sensors.py's
  `alert_on_stale_assets` tells on-call when one fails.

Deployment settings: SHOPINSIGHT_FRESHNESS_DEADLINE_CRON (cron in the business timezone) and
SHOPINSIGHT_MODEL_MAX_AGE_DAYS.
"""

import os
import warnings
from datetime import timedelta

from dagster import (
    AssetChecksDefinition,
    DefaultSensorStatus,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from shopinsight_pipeline.partitions import BUSINESS_TIMEZONE

FRESHNESS_DEADLINE_CRON = os.environ.get("SHOPINSIGHT_FRESHNESS_DEADLINE_CRON", "0 6 * * *")
MODEL_MAX_AGE = timedelta(days=int(os.environ.get("SHOPINSIGHT_MODEL_MAX_AGE_DAYS", "8")))
DAILY_GOLD = (
    "daily_sales",
    "category_trends",
    "sales_forecast",
    "product_sentiment",
    "aspect_sentiment",
    "insights",
    "insight_report",
    "customer_recommendations",
    "purchase_propensity",
    "product_demand_forecast",
    "inventory_plan",  # a planner orders from it in the morning
)
MODELS = ("sentiment_model", "aspect_tagger", "recommender_model")

# Dagster 1.12+ calls freshness checks superseded by asset FreshnessPolicy objects, but those judge
# an asset's last materialization, not whether the day that ended has arrived (a backfill of an old
# day would make a stale table look fresh: github.com/dagster-io/dagster/discussions/34023). The
# time-partition checks are the partition-aware ones and need this sensor; the warning is expected.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)
    freshness_checks: list[AssetChecksDefinition] = [
        *build_time_partition_freshness_checks(
            assets=list(DAILY_GOLD), deadline_cron=FRESHNESS_DEADLINE_CRON, timezone=BUSINESS_TIMEZONE
        ),
        *build_last_update_freshness_checks(assets=list(MODELS), lower_bound_delta=MODEL_MAX_AGE),
    ]
    freshness_checks_sensor = build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks, default_status=DefaultSensorStatus.RUNNING
    )
