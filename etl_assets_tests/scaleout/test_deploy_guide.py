"""docs/deploy.md says only what the tests run: its commands are the ones the scale-out tests start,
its configuration snippets parse, and the Kubernetes files point at this project's settings."""

from __future__ import annotations

import re
import shlex

import yaml

from etl_assets.lib.spec.models import ExecutorSpec
from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.scaleout.workers import worker_command
from etl_assets_tests.servers.dagster_deployment import code_server_command, daemon_command

GUIDE = PROJECT_ROOT / "docs" / "deploy.md"
NOT_RUN = "# not run here: needs a cluster"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_every_command_of_the_guide_is_one_the_tests_run() -> None:
    run_by_tests = [
        code_server_command(4000),
        daemon_command("instances/workspace.yaml"),
        worker_command("instances/celery/worker.yaml", "w1", ["dagster", "embeddings"]),
        worker_command("instances/celery/worker.yaml", "w2", ["dagster"]),
    ]
    lines = [
        line.strip() for block in blocks("bash") for line in block.splitlines() if line.strip()
    ]
    runnable = [shlex.split(line) for line in lines if not line.endswith(NOT_RUN)]
    assert runnable == run_by_tests
    assert all(line.split()[0] in ("helm", "kubectl") for line in lines if line.endswith(NOT_RUN))


def test_the_guides_spec_snippet_is_a_valid_celery_executor() -> None:
    (snippet,) = [b for b in blocks("yaml") if "type: celery" in b]
    spec = ExecutorSpec(**yaml.safe_load(snippet)["executor"])
    assert (spec.type, spec.embedding_queue) == ("celery", "embeddings")


def test_helm_values_point_at_this_project_and_the_fleets_run_limits() -> None:
    values = yaml.safe_load((PROJECT_ROOT / "instances" / "helm" / "values.yaml").read_text())
    fleet = yaml.safe_load((PROJECT_ROOT / "instances" / "celery" / "dagster.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"][:2] == ["-m", "etl_assets.definitions"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["ETL_ASSETS_DATA_ROOT"].startswith("s3://") and env[
        "ETL_ASSETS_WAREHOUSE"
    ].startswith("s3://")
    # variables the code location reads (definitions.py and the component's settings module)
    readers = [PROJECT_ROOT / "etl_assets" / "definitions.py"]
    readers.append(PROJECT_ROOT / "etl_assets" / "component" / "settings.py")
    read = "".join(path.read_text() for path in readers)
    assert all(f'"{name}"' in read for name in env)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        queued["tagConcurrencyLimits"]
        == fleet["run_coordinator"]["config"]["tag_concurrency_limits"]
    )
    assert not any(
        "password" in str(v).lower() and "secret" not in str(v).lower()
        for v in values["postgresql"].values()
    )


def test_the_kubernetes_workers_run_the_documented_worker_command() -> None:
    manifest = yaml.safe_load(
        (PROJECT_ROOT / "instances" / "helm" / "celery-workers.yaml").read_text()
    )
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["command"] == worker_command(
        "/app/instances/celery/worker.yaml", None, ["dagster"]
    )
