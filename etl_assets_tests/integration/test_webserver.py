"""What the Dagster UI shows, read from a real dagster-webserver over GraphQL after a real run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.demo.runner import prepare_instance_home
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import PROJECT_ROOT, SHOP_SPEC, write_customers, write_orders

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[int]:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "shop.yaml").write_text(SHOP_SPEC)
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", [("1", "1", "10", "2024-01-01T09:00:00Z"), ("x", "1", "1", "2024-01-01T10:00:00Z")])
    home = prepare_instance_home(tmp_path / "home", PROJECT_ROOT / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "ETL_ASSETS_PIPELINES": str(pipelines), "ETL_ASSETS_DATA_ROOT": str(tmp_path)}

    defs = build_definitions([parse_spec(SHOP_SPEC)], tmp_path, tmp_path / "warehouse")
    with DagsterInstance.from_config(str(home)) as instance:
        tags = {ASSET_PARTITION_RANGE_START_TAG: "2024-01-01", ASSET_PARTITION_RANGE_END_TAG: "2024-01-01"}
        assert defs.resolve_job_def("shop_job").execute_in_process(instance=instance, tags=tags).success

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dagster-webserver did not come up") from None
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_ui_shows_graph_metadata_checks_schedules_and_sensors(webserver: int) -> None:
    nodes = graphql(webserver, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    graph = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes}
    assert graph["shop/clean/orders"] == {"shop/raw/orders"}
    assert graph["shop/agg/daily_country"] == {"shop/clean/orders", "shop/clean/customers"}

    asset = graphql(
        webserver,
        """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
            assetMaterializations(limit: 1) { partition metadataEntries { label } }
            assetChecksOrError { ... on AssetChecks { checks { name blocking executionForLatestMaterialization { status } } } } } } }""",
        {"k": {"path": ["shop", "clean", "orders"]}},
    )["assetNodeOrError"]
    labels = {e["label"] for e in asset["assetMaterializations"][0]["metadataEntries"]}
    assert {"dagster/row_count", "dagster/column_schema", "dagster/column_lineage", "path", "rows_in", "rows_rejected", "rows_deduplicated", "rows_per_s"} <= labels
    assert asset["assetMaterializations"][0]["partition"] == "2024-01-01"
    assert {"quality/score", "quality/completeness", "quality/validity"} <= labels
    checks = {c["name"]: c for c in asset["assetChecksOrError"]["checks"]}
    assert checks["row_conservation"] == {"name": "row_conservation", "blocking": True, "executionForLatestMaterialization": {"status": "SUCCEEDED"}}
    assert checks["schema"] == {"name": "schema", "blocking": True, "executionForLatestMaterialization": {"status": "SUCCEEDED"}}
    assert checks["quality_score"]["blocking"] is False
    assert checks["schema_drift"] == {"name": "schema_drift", "blocking": True, "executionForLatestMaterialization": {"status": "SUCCEEDED"}}
    assert {"schema/fingerprint", "schema/version", "schema/columns"} <= labels

    location = graphql(
        webserver,
        "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { ... on RepositoryLocation { repositories { schedules { name cronSchedule } sensors { name } } } } } } } }",
    )["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]["repositories"][0]
    assert location["schedules"] == [{"name": "shop_schedule", "cronSchedule": "0 6 * * *"}]
    assert {s["name"] for s in location["sensors"]} == {"shop_orders_landing", "shop_customers_landing"}
