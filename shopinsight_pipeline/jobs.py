"""Jobs and schedules operators run.

- nightly_partition_job: every daily asset for one day (ingest -> product_sentiment, insights,
  customer_recommendations). Launch a range from the UI to backfill. Scoring and recommendations
  need models: run retrain_job once on a new lake.
- prepare_partition_job / score_partition_job: the same day split before and after scoring, for
  bootstrapping a new lake (prepare days, retrain, then score days) as `make run` does;
  sales_forecast is only in the nightly job (make run forecasts from the last sample day).
- retrain_job: review_tokenizer, sentiment_model, aspect_tagger and recommender_model, started by
  sensors.retrain_after_the_night once the night's partitions are written.
"""

import os

from dagster import (
    AssetSelection,
    Backoff,
    Jitter,
    RetryPolicy,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from shopinsight_pipeline.freshness import freshness_checks
from shopinsight_pipeline.partitions import BUSINESS_TIMEZONE, daily_partitions, day_before

UNPARTITIONED = AssetSelection.assets("review_tokenizer", "sentiment_model", "aspect_tagger", "recommender_model")
SCORING = AssetSelection.assets("review_scores", "review_aspects", "aspect_sentiment", "product_sentiment")
# model fits, and what reads them (recommendations read the recommender and the day's insights)
FORECAST = AssetSelection.assets(
    "sales_forecast",
    "insights",
    "insight_report",
    "customer_recommendations",
    "purchase_propensity",
    "product_demand_forecast",
    "inventory_plan",
)
# Freshness checks are the freshness sensor's to evaluate (freshness.py), against the clock: a job
# that backfills August must not judge November's freshness at its end.
FRESHNESS = AssetSelection.checks(*freshness_checks)
DAILY = (
    AssetSelection.groups("ingest", "validate", "tokenize", "score", "aspects", "reports", "recommend", "inventory")
    - UNPARTITIONED
    - FRESHNESS
)


def step_retry_policy() -> RetryPolicy:
    """A step that fails on an error it raised is run again after a pause, twice by default: one
    transient object-store or network error (a reset connection, a throttled request) must not fail
    the night. Deployment settings: SHOPINSIGHT_STEP_RETRIES and SHOPINSIGHT_STEP_RETRY_DELAY_S (the
    first pause; it doubles, with jitter). A failed blocking check is Dagster's own error, never
    retried: the same data would fail it again."""
    return RetryPolicy(
        max_retries=int(os.environ.get("SHOPINSIGHT_STEP_RETRIES", "2")),
        delay=float(os.environ.get("SHOPINSIGHT_STEP_RETRY_DELAY_S", "30")),
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


STEP_RETRY = step_retry_policy()

nightly_partition_job = define_asset_job(
    name="nightly_partition_job",
    selection=DAILY,
    op_retry_policy=STEP_RETRY,
    description="Ingest, validate, tokenize, score and report one day. Launch a range from the UI to backfill.",
)
prepare_partition_job = define_asset_job(
    name="prepare_partition_job",
    op_retry_policy=STEP_RETRY,
    selection=DAILY - SCORING - FORECAST,
    description="One day up to token shards, daily_sales, category_trends and customer_events (everything that "
    "needs no model; sales_forecast, insights, insight_report and customer_recommendations are left to the "
    "nightly job or a separate run).",
)
score_partition_job = define_asset_job(
    name="score_partition_job",
    op_retry_policy=STEP_RETRY,
    selection=SCORING - FRESHNESS,
    description="Score one day with the promoted model: review_scores, review_aspects, aspect_sentiment and "
    "product_sentiment.",
)
retrain_job = define_asset_job(
    name="retrain_job",
    op_retry_policy=STEP_RETRY,
    selection=UNPARTITIONED - FRESHNESS,
    description="Refresh the tokenizer, fine-tune the sentiment model and compare the recommender candidates; "
    "each promotes its best.",
)

# Deployment setting: when the nightly run starts (cron in the partitions' timezone; it materializes
# the day that just ended). Retraining follows the night (sensors.retrain_after_the_night).
NIGHTLY_CRON = os.environ.get("SHOPINSIGHT_NIGHTLY_CRON", "30 2 * * *")


@schedule(
    name="nightly_partition_schedule",
    job=nightly_partition_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=BUSINESS_TIMEZONE,
    description=f"On cron '{NIGHTLY_CRON}': ingest, validate, tokenize, score and report the day that ended.",
)
def nightly_schedule(context: ScheduleEvaluationContext):
    day = day_before(context.scheduled_execution_time)
    first, last = daily_partitions.start.date(), daily_partitions.end
    if day < first:
        return SkipReason(f"{day} is before the first partition {first} (SHOPINSIGHT_START_DATE)")
    if last is not None and day >= last.date():
        return SkipReason(f"{day} is after the last partition (SHOPINSIGHT_END_DATE closes the history)")
    # the run key makes a re-evaluated tick for the same day start no second run
    return RunRequest(run_key=day.isoformat(), partition_key=day.isoformat())
