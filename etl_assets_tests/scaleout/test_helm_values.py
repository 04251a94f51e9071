"""instances/helm/values.yaml against the Dagster Helm chart's own values schema, and the Celery
worker manifest beside it checked for the fields Kubernetes requires.

No helm binary is installed here, so `helm lint` / `helm template` cannot run. Helm validates the
*merged* values (the chart's defaults plus ours); the chart's default values.yaml is not vendored,
so these tests validate our overrides alone: the schema's `required` lists are dropped (the
defaults supply those keys; kept only where choosing a `type` requires its `config` entry) and every object the schema describes with properties, and does not
explicitly leave open, is closed, so a misspelt key fails instead of being silently ignored by the
chart's templates.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import yaml

from etl_assets_tests.conftest import PROJECT_ROOT

HELM = PROJECT_ROOT / "instances" / "helm"
SCHEMA = HELM / "schema" / "dagster-2bdb239" / "values.schema.json"
RELEASE = "dagster"  # docs/deploy.md: helm upgrade --install dagster dagster/dagster
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def overrides_schema(node: Any, chosen_type: bool = False) -> Any:
    """The chart schema as a check of an overrides file: no `required` except the chart's
    "this `type` needs its `config` entry" conditionals (`then`), unknown keys rejected."""
    if isinstance(node, list):
        return [overrides_schema(item, chosen_type) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {
        key: overrides_schema(value, chosen_type or key == "then")
        for key, value in node.items()
        if key != "required" or chosen_type
    }
    if closed.get("type") == "object" and closed.get("properties"):
        closed.setdefault("additionalProperties", False)
    return closed


def chart_schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def schema_errors(candidate: dict[str, Any]) -> list[str]:
    """Every schema violation, as `path: message`; top-level keys must be chart sections too."""
    schema = chart_schema()
    validator = jsonschema.Draft202012Validator(overrides_schema(schema))
    errors = [
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(candidate)
    ]
    unknown = sorted(set(candidate) - set(schema["properties"]))
    return errors + [f"{key}: not a section of the Dagster chart" for key in unknown]


def test_the_vendored_schema_is_a_valid_draft_2020_12_schema_of_the_chart() -> None:
    schema = chart_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"dagsterWebserver", "dagster-user-deployments", "runLauncher", "dagsterDaemon"} <= set(
        schema["required"]
    )
    assert "http" not in json.dumps(schema).replace(schema["$schema"], "")  # no network $ref left


def test_values_yaml_matches_the_chart_schema() -> None:
    assert schema_errors(values()) == []


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


MISTAKES: dict[str, Callable[[dict[str, Any]], None]] = {
    "snake_case env_secrets": lambda v: v["dagster-user-deployments"]["deployments"][0].update(
        env_secrets=[{"name": "etl-assets-env"}]
    ),
    "unknown launcher type": lambda v: v["runLauncher"].update(type="KubernetesRunLauncher"),
    "launcher config under the wrong key": lambda v: v["runLauncher"]["config"].update(
        k8s_run_launcher={}
    ),
    "misspelt daemon key": lambda v: v["dagsterDaemon"].update(runCordinator={}),
    "string where the chart wants an int": lambda v: v["dagsterDaemon"]["runCoordinator"]["config"][
        "queuedRunCoordinator"
    ].update(maxConcurrentRuns="ten"),
    "unknown top-level section": lambda v: v.update(dagsterDeamon={"enabled": True}),
    "the Dagit-era section name": lambda v: v.update(dagit={"replicaCount": 1}),
    "compute log config missing for its type": lambda v: v["computeLogManager"].update(
        type="GCSComputeLogManager"
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_schema_check_rejects_a_typical_mistake(mistake: str) -> None:
    broken = copy.deepcopy(values())
    MISTAKES[mistake](broken)
    assert schema_errors(broken), mistake


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
