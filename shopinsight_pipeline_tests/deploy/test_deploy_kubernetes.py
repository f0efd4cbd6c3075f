"""The Kubernetes deployment as configuration (no cluster runs here): deploy/kubernetes/executor.yaml
resolves as the k8s_job_executor's config for every job, its GPU settings for sentiment_model build
as Kubernetes models, and the Helm values deploy the image the executor runs steps in. Skipped,
with the reason, where dagster-k8s is not installed (the `k8s` extra; make setup installs it)."""

import pytest
import yaml
from dagster import validate_run_config

from shopinsight_pipeline.definitions import K8S_EXECUTOR_CONFIG, build_definitions
from shopinsight_pipeline.devtools.devserver import PROJECT_ROOT

VALUES = PROJECT_ROOT / "deploy" / "kubernetes" / "values.yaml"
JOBS = ("nightly_partition_job", "prepare_partition_job", "score_partition_job", "retrain_job")


@pytest.fixture
def k8s_definitions(monkeypatch):
    pytest.importorskip("dagster_k8s", reason="dagster-k8s (the k8s extra) is not installed")
    monkeypatch.setenv("SHOPINSIGHT_EXECUTOR", "k8s")
    monkeypatch.delenv("SHOPINSIGHT_K8S_EXECUTOR_CONFIG", raising=False)
    return build_definitions("s3://shop-lake/shopinsight")


def test_every_job_runs_its_steps_on_the_configured_kubernetes_executor(k8s_definitions):
    for name in JOBS:
        job = k8s_definitions.resolve_job_def(name)
        assert job.executor_def.name == "k8s", name
        assert validate_run_config(job, {}), name  # the executor's config resolves against the job


def test_a_mistyped_executor_setting_is_refused(k8s_definitions, monkeypatch, tmp_path):
    """The check above can fail: the executor's schema is enforced, not a free-form mapping."""
    mistyped = tmp_path / "executor.yaml"
    mistyped.write_text(K8S_EXECUTOR_CONFIG.read_text().replace("max_concurrent:", "max_concurent:"))
    monkeypatch.setenv("SHOPINSIGHT_K8S_EXECUTOR_CONFIG", str(mistyped))
    job = build_definitions("s3://shop-lake/shopinsight").resolve_job_def("retrain_job")
    with pytest.raises(Exception, match="max_concurent"):
        validate_run_config(job, {})


def test_sentiment_model_gets_a_gpu_node_and_every_step_setting_names_a_real_step(k8s_definitions):
    import kubernetes
    from dagster_k8s.job import UserDefinedDagsterK8sConfig
    from dagster_k8s.models import k8s_model_from_dict

    config = yaml.safe_load(K8S_EXECUTOR_CONFIG.read_text())
    steps = {node.name for name in JOBS for node in k8s_definitions.resolve_job_def(name).nodes_in_topological_order}
    assert set(config["per_step_k8s_config"]) <= steps
    gpu = UserDefinedDagsterK8sConfig.from_dict(config["per_step_k8s_config"]["sentiment_model"])
    pod = k8s_model_from_dict(kubernetes.client.V1PodSpec, {**gpu.pod_spec_config, "containers": []})
    assert pod.node_selector == {"nvidia.com/gpu.present": "true"}
    assert pod.tolerations[0].key == "nvidia.com/gpu"
    container = k8s_model_from_dict(kubernetes.client.V1Container, {**gpu.container_config, "name": "step"})
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    every_step = UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"])
    k8s_model_from_dict(kubernetes.client.V1Container, {**every_step.container_config, "name": "step"})


def test_the_helm_values_deploy_the_image_and_settings_the_executor_uses():
    config = yaml.safe_load(K8S_EXECUTOR_CONFIG.read_text())
    values = yaml.safe_load(VALUES.read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    image = deployment["image"]
    assert f"{image['repository']}:{image['tag']}" == config["job_image"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "shopinsight_pipeline.definitions"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["SHOPINSIGHT_EXECUTOR"] == "k8s"
    assert env["SHOPINSIGHT_K8S_EXECUTOR_CONFIG"].endswith("deploy/kubernetes/executor.yaml")
    assert env["DAGSTER_DISABLE_TELEMETRY"] == "1" and env["GX_ANALYTICS_ENABLED"] == "false"
    # steps' pods and the code server read the same secret and config map
    assert [item["name"] for item in deployment["envSecrets"]] == config["env_secrets"]
    assert [item["name"] for item in deployment["envConfigMaps"]] == config["env_config_maps"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
