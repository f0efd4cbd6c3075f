"""The code location `dagster dev` loads (see workspace.yaml and [tool.dagster])."""

import hashlib
import inspect
import os
import warnings
from pathlib import Path

from dagster import (
    AnchorBasedFilePathMapping,
    AssetSpec,
    BetaWarning,
    Definitions,
    ExecutorDefinition,
    PipesSubprocessClient,
    TableColumn,
    TableSchema,
    in_process_executor,
    link_code_references_to_git,
    map_asset_specs,
    mem_io_manager,
    multiprocess_executor,
    with_source_code_references,
)

from shopinsight_pipeline.alerts.sensors import (
    PROJECT_JOBS,
    alert_on_high_findings,
    alert_on_refused_challenger,
    alert_on_run_failure,
    alert_on_stale_assets,
)
from shopinsight_pipeline.aspects.assets import aspect_sentiment, aspect_tagger, review_aspects
from shopinsight_pipeline.erasure_job import (
    rematerialize_after_erasure,
)
from shopinsight_pipeline.freshness import freshness_checks, freshness_checks_sensor
from shopinsight_pipeline.ingest.assets import raw_inventory, raw_orders, raw_reviews
from shopinsight_pipeline.inventory.assets import inventory_plan, product_demand_forecast
from shopinsight_pipeline.io_manager import LakeIOManager
from shopinsight_pipeline.jobs import (
    nightly_schedule,
)
from shopinsight_pipeline.products.assets import catalogue
from shopinsight_pipeline.recommend.assets import (
    customer_events,
    customer_pseudonyms,
    customer_recommendations,
    purchase_propensity,
    recommender_model,
)
from shopinsight_pipeline.reports.assets import category_trends, daily_sales, product_sentiment, sales_forecast
from shopinsight_pipeline.reports.insight_assets import insight_report, insights
from shopinsight_pipeline.resources import CustomerPseudonyms, SentimentLabels
from shopinsight_pipeline.retention_job import retention_schedule
from shopinsight_pipeline.schemas import column_descriptions, file_schema
from shopinsight_pipeline.score.assets import review_scores
from shopinsight_pipeline.sensors import landing_sensor, retrain_after_the_night
from shopinsight_pipeline.storage import TABLE_LAYERS, LakeStorage
from shopinsight_pipeline.tokenize.assets import review_token_shards, review_tokenizer
from shopinsight_pipeline.train.assets import sentiment_model
from shopinsight_pipeline.validate.assets import validate_inventory, validate_orders, validate_reviews

SENTIMENT_SCHEMES = {"polarity": SentimentLabels, "three_class": SentimentLabels.three_class}


def sentiment_labels_from_env() -> SentimentLabels:
    """The label scheme is a deployment choice: shards, training and scoring must share it."""
    name = os.environ.get("SHOPINSIGHT_SENTIMENT_SCHEME", "polarity")
    if name not in SENTIMENT_SCHEMES:
        raise ValueError(f"SHOPINSIGHT_SENTIMENT_SCHEME={name!r}: expected one of {sorted(SENTIMENT_SCHEMES)}")
    return SENTIMENT_SCHEMES[name]()


EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
K8S_EXECUTOR_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "executor.yaml"


def executor_from_environment() -> ExecutorDefinition:
    """Where a run's steps execute, a deployment choice (SHOPINSIGHT_EXECUTOR):

    - in_process (default): in the run's process. A step process would pay the code's imports again
      (tens of seconds on a busy 2-core machine) for seconds of work; a range backfill is few runs.
    - multiprocess: Dagster's default, a process per step on the run's machine.
    - celery: each step a task for the Celery workers (`celery -A dagster_celery.app worker -Q
      dagster`) behind the broker SHOPINSIGHT_CELERY_BROKER (redis://host:6379/0, also the result
      backend). Workers need the project installed, the same settings and data root (an object
      store or a shared volume), and the run's instance must be persistent (PostgreSQL).
    - k8s: each step a Kubernetes pod (dagster-k8s, the `k8s` extra), configured by the YAML file
      SHOPINSIGHT_K8S_EXECUTOR_CONFIG names (default deploy/kubernetes/executor.yaml: the image,
      settings from a secret and a config map, and a GPU node for sentiment_model).
    """
    name = os.environ.get("SHOPINSIGHT_EXECUTOR", "in_process")
    if name == "in_process":
        return in_process_executor
    if name == "multiprocess":
        return multiprocess_executor
    if name == "celery":
        from dagster_celery import celery_executor

        broker = os.environ.get("SHOPINSIGHT_CELERY_BROKER")
        if not broker:
            raise ValueError("SHOPINSIGHT_EXECUTOR=celery needs SHOPINSIGHT_CELERY_BROKER, e.g. redis://broker:6379/0")
        return celery_executor.configured({"broker": broker, "backend": broker}, name="celery")
    if name == "k8s":
        import yaml
        from dagster_k8s import k8s_job_executor

        config_file = Path(os.environ.get("SHOPINSIGHT_K8S_EXECUTOR_CONFIG", str(K8S_EXECUTOR_CONFIG)))
        if not config_file.is_file():
            raise FileNotFoundError(f"SHOPINSIGHT_EXECUTOR=k8s: no executor config at {config_file}")
        return k8s_job_executor.configured(yaml.safe_load(config_file.read_text(encoding="utf-8")), name="k8s")
    raise ValueError(f"SHOPINSIGHT_EXECUTOR={name!r}: expected one of {list(EXECUTORS)}")


OWNER = os.environ.get("SHOPINSIGHT_OWNER", "team:data-engineering")  # a deployment names its on-call team
MODEL_ASSETS = frozenset({"review_tokenizer", "sentiment_model", "aspect_tagger", "recommender_model"})


PACKAGE = Path(__file__).resolve().parent
# The modules whose code decides each asset's result (besides the asset's own module): an asset's
# code_version is a digest of their source, so a change to how a table is computed shows in the UI
# as "code version changed" on exactly the assets it touches, and their downstream as stale.
VALIDATION_CODE = ("validate/rules.py", "validate/split.py", "validate/expectations.py", "validate/settings.py")
RESULT_CODE: dict[str, tuple[str, ...]] = {
    "raw_orders": ("ingest/landing.py",),
    "raw_reviews": ("ingest/landing.py",),
    "raw_inventory": ("ingest/landing.py",),
    "products": ("products/catalogue.py",),
    "quarantined_products": ("products/catalogue.py",),
    **{table: VALIDATION_CODE for table in ("validated_orders", "quarantined_orders")},
    **{table: VALIDATION_CODE for table in ("validated_reviews", "quarantined_reviews")},
    **{table: VALIDATION_CODE for table in ("validated_inventory", "quarantined_inventory")},
    "daily_sales": ("reports/sales.py",),
    "category_trends": ("reports/trends.py",),
    "sales_forecast": ("reports/forecast.py",),
    "insights": (
        "reports/insights.py",
        "reports/findings.py",
        "reports/causes.py",
        "reports/quality.py",
        "reports/stock.py",
    ),
    "insight_report": ("reports/report.py", "charts.py"),
    "product_sentiment": ("reports/sentiment.py",),
    "review_tokenizer": ("ml/text.py", "ml/glosses.py"),
    "review_token_shards": ("ml/text.py", "ml/shards.py"),
    "sentiment_model": ("ml/train.py", "ml/fit.py", "ml/training_run.py", "ml/refit.py", "ml/significance.py"),
    "review_scores": ("ml/scoring.py", "ml/inference.py", "score/serving.py"),
    "customer_events": ("recommend/events.py",),
    "customer_pseudonyms": ("privacy/pseudonyms.py",),
    "recommender_model": ("recommend/candidates.py", "recommend/sequence.py", "recommend/gate.py"),
    "customer_recommendations": ("recommend/serve.py", "recommend/baskets.py", "privacy/pseudonyms.py"),
    "purchase_propensity": ("recommend/propensity.py", "privacy/pseudonyms.py"),
    "aspect_tagger": ("aspects/learned.py", "aspects/transformer.py", "aspects/gate.py"),
    "review_aspects": ("aspects/tagging.py", "aspects/clauses.py", "aspects/lexicon.py", "aspects/taxonomy.yaml"),
    "aspect_sentiment": ("aspects/summary.py",),
    "product_demand_forecast": ("inventory/demand.py", "ml/significance.py"),
    "inventory_plan": ("inventory/plan.py",),
}


def code_version(asset: str, asset_module: str) -> str:
    """A digest of the asset's module and the modules that compute its result (RESULT_CODE)."""
    digest = hashlib.sha256()
    for relative in sorted({asset_module, *RESULT_CODE[asset]}):
        digest.update(relative.encode())
        digest.update((PACKAGE / relative).read_bytes())
    return digest.hexdigest()[:12]


def catalogued(assets: list, labels: tuple[str, ...]) -> list:
    """The assets as the catalog shows them (issue 26.5): an owner, the layer as a tag (bronze,
    silver, gold, models, reports), a code_version, a link to the code that defines it and, for
    every lake table, its columns and types from schemas.py (the one source of the tables'
    columns; `dagster/column_schema`)."""

    def annotate(spec: AssetSpec) -> AssetSpec:
        name = spec.key.path[-1]
        layer = TABLE_LAYERS.get(name) or ("models" if name in MODEL_ASSETS else "reports")
        metadata = {}
        if name in TABLE_LAYERS:
            described = column_descriptions(name, labels)
            columns = [
                TableColumn(column, str(dtype), description=described[column])
                for column, dtype in file_schema(name, labels).items()
            ]
            metadata["dagster/column_schema"] = TableSchema(columns=columns)
        annotated = spec.merge_attributes(owners=[OWNER], tags={"layer": layer}, metadata=metadata)
        return annotated.replace_attributes(code_version=code_version(name, modules[spec.key]))

    # each asset's own module, from the function that computes it
    modules = {
        key: str(Path(inspect.getfile(definition.op.compute_fn.decorated_fn)).relative_to(PACKAGE))
        for definition in assets
        for key in definition.keys
    }
    return linked_to_code(list(map_asset_specs(annotate, assets)))


# The catalog's links to source are Dagster beta (LocalFileCodeReference, CodeReferencesMetadataValue):
# chosen knowingly, so the warning is not printed on every code load.
warnings.filterwarnings("ignore", message=".*(CodeReference|code_references|FilePathMapping).*", category=BetaWarning)


def linked_to_code(assets: list) -> list:
    """Each asset links to the file and line that define it; with SHOPINSIGHT_GIT_URL (e.g.
    https://github.com/shop/shopinsight) set, to that file in the repository's branch
    SHOPINSIGHT_GIT_BRANCH (default main) instead of this machine's checkout."""
    referenced = with_source_code_references(assets)
    git_url = os.environ.get("SHOPINSIGHT_GIT_URL")
    if not git_url:
        return list(referenced)
    mapping = AnchorBasedFilePathMapping(local_file_anchor=PACKAGE.parent, file_anchor_path_in_repository="")
    branch = os.environ.get("SHOPINSIGHT_GIT_BRANCH", "main")
    return list(link_code_references_to_git(referenced, git_url=git_url, git_branch=branch, file_path_mapping=mapping))


def build_definitions(data_root: str | None = None, sentiment_labels: SentimentLabels | None = None) -> Definitions:
    """Definitions over a data root; the environment sets it in deployments, tests pass tmp paths."""
    root = data_root or os.environ.get("SHOPINSIGHT_DATA_ROOT", "data")
    storage = LakeStorage(root=root)
    labels = sentiment_labels or sentiment_labels_from_env()
    return Definitions(
        assets=catalogued(
            [
                raw_orders,
                catalogue,
                raw_reviews,
                raw_inventory,
                validate_orders,
                validate_reviews,
                validate_inventory,
                daily_sales,
                category_trends,
                sales_forecast,
                insights,
                insight_report,
                product_demand_forecast,
                inventory_plan,
                customer_events,
                customer_pseudonyms,
                recommender_model,
                customer_recommendations,
                purchase_propensity,
                review_tokenizer,
                review_token_shards,
                sentiment_model,
                review_scores,
                aspect_tagger,
                review_aspects,
                aspect_sentiment,
                product_sentiment,
            ],
            labels.scheme().labels,
        ),
        jobs=list(PROJECT_JOBS),
        schedules=[nightly_schedule, retention_schedule],
        sensors=[
            landing_sensor,
            retrain_after_the_night,
            freshness_checks_sensor,
            alert_on_run_failure,
            alert_on_refused_challenger,
            alert_on_high_findings,
            alert_on_stale_assets,
            rematerialize_after_erasure,
        ],
        asset_checks=freshness_checks,
        executor=executor_from_environment(),
        resources={
            "storage": storage,
            "sentiment_labels": labels,
            # a deployment secret (docs/DEPLOY.md); the embedded sample runs without one
            "pseudonyms": CustomerPseudonyms(key=os.environ.get("SHOPINSIGHT_PSEUDONYM_KEY") or None),
            "io_manager": LakeIOManager(storage=storage, sentiment_labels=labels),
            "pipes_client": PipesSubprocessClient(),
            "report_io_manager": mem_io_manager,  # an op's report (retention, erasure), not a lake table
        },
    )


def definitions_from_environment() -> Definitions:
    """The code location as the environment configures it, built at call time: what `make run`'s
    runs point at to be reconstructed (the module's `defs` is built once, at first import)."""
    return build_definitions()


defs = build_definitions()
