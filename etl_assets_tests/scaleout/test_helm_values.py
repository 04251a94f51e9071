"""instances/helm/values.yaml points at this project with its secrets in Kubernetes Secrets, and
the Celery worker manifest beside it has the fields Kubernetes requires and shares the code
server's image, instance and secrets.

The values' key names were checked by hand against the Dagster chart's values.schema.json
(dagster-io/dagster); the chart's schema is not vendored here (it is the chart's own file), and no
helm binary is installed, so `helm lint` / `helm template` cannot run: docs/deploy.md gives the
`helm template` command to run before the first install.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from etl_assets_tests.conftest import PROJECT_ROOT

HELM = PROJECT_ROOT / "instances" / "helm"
RELEASE = "dagster"  # docs/deploy.md: helm upgrade --install dagster dagster/dagster
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def test_values_point_at_this_project_with_secrets_from_kubernetes() -> None:
    current = values()
    (deployment,) = current["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"][:2] == ["-m", "etl_assets.definitions"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert all(name.startswith("ETL_ASSETS_") for name in env)
    assert env["ETL_ASSETS_WAREHOUSE"].startswith("s3://")
    secret_names = {"etl-assets-env"}
    assert {s["name"] for s in deployment["envSecrets"]} == secret_names
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}  # run pods get them
    launcher = current["runLauncher"]["config"]["k8sRunLauncher"]
    assert {s["name"] for s in launcher["envSecrets"]} == secret_names
    assert {s["name"] for s in current["dagsterWebserver"]["envSecrets"]} == secret_names
    assert "postgresqlPassword" not in current["postgresql"]
    assert current["generatePostgresqlPasswordSecret"] is False
    s3_logs = current["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert s3_logs["region"] == env["ETL_ASSETS_S3_REGION"]
    text = (HELM / "values.yaml").read_text()
    uncommented = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert not re.search(r"(?i)(aws_secret|password|secret_access)\s*[:=]", uncommented)


def celery_workers() -> dict[str, Any]:
    (manifest,) = list(yaml.safe_load_all((HELM / "celery-workers.yaml").read_text()))
    return manifest


def test_celery_workers_manifest_is_a_well_formed_deployment() -> None:
    manifest = celery_workers()
    assert (manifest["apiVersion"], manifest["kind"]) == ("apps/v1", "Deployment")
    assert DNS_1123.match(manifest["metadata"]["name"])
    spec = manifest["spec"]
    assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1
    template = spec["template"]
    labels = template["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()  # apps/v1 requires it
    pod = template["spec"]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    assert all(DNS_1123.match(name) for name in volumes)
    for container in pod["containers"]:
        assert DNS_1123.match(container["name"]) and container["image"]
        assert all(isinstance(arg, str) for arg in container["command"])
        for variable in container.get("env", []):
            assert set(variable) in ({"name", "value"}, {"name", "valueFrom"}), variable
        for source in container.get("envFrom", []):
            assert set(source) <= {"secretRef", "configMapRef", "prefix"} and source
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes and mount["mountPath"].startswith("/")


def test_celery_workers_share_the_code_servers_image_instance_and_secrets() -> None:
    current = values()
    (deployment,) = current["dagster-user-deployments"]["deployments"]
    image = deployment["image"]
    (container,) = celery_workers()["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    env = {item["name"]: item for item in container["env"]}
    code_env = {item["name"]: item["value"] for item in deployment["env"]}
    assert {name: env[name]["value"] for name in code_env} == code_env
    # the chart's instance (dagster.yaml) reads the PostgreSQL password from DAGSTER_PG_PASSWORD
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "dagster-postgresql-secret",
        "key": "postgresql-password",
    }
    assert [s["secretRef"]["name"] for s in container["envFrom"]] == ["etl-assets-env"]
    (instance,) = celery_workers()["spec"]["template"]["spec"]["volumes"]
    assert instance["configMap"]["name"] == f"{RELEASE}-instance"  # the chart's <fullname>-instance
