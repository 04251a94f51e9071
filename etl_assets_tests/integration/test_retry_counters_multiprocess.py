"""Counters of a retried step add up with the multiprocess executor too: ``dagster asset
materialize`` runs each step attempt in its own process, on a persistent instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.instance.ref import InstanceRef

from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent

SPEC = """
pipeline: api
sources:
  users:
    format: http
    http:
      url: URL/users
      record_path: data
      pagination: {type: page, size_param: per_page, size: 2}
      retry: {max_attempts: 2, backoff_base_s: 0.001, backoff_max_s: 0.002, timeout_s: 5}
"""
USERS = [{"id": 1}, {"id": 2}, {"id": 3}]


def test_http_counters_add_up_over_attempts_in_separate_processes(
    tmp_path: Path, http_server: FaultServer
) -> None:
    outage = [Reply(503), Reply(503)]  # the first attempt's two requests fail: one step retry

    def flaky(request: Recorded) -> Reply:
        if outage:
            return outage.pop(0)
        page, size = int(request.query["page"]), int(request.query["per_page"])
        return Reply(200, {"data": USERS[(page - 1) * size : page * size]})

    http_server.route("GET", "/users", flaky)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "api.yaml").write_text(SPEC.replace("URL", http_server.base_url))
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "ETL_ASSETS_PIPELINES": str(pipelines),
        "ETL_ASSETS_DATA_ROOT": str(tmp_path / "data"),
        "DAGSTER_HOME": str(home),
    }
    result = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "etl_assets.definitions",
         "--select", "api/raw/users",
         # the code location runs in process by default: ask for a process per step attempt
         "--config-json", '{"execution": {"config": {"multiprocess": {}}}}'],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "multiprocess executor" in output  # each step attempt in a process of its own
    assert "STEP_UP_FOR_RETRY" in output  # the step really ran twice
    sent = len(http_server.hits("/users"))
    assert sent == 4  # 2 failed + 2 pages
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        event = instance.get_latest_materialization_event(AssetKey(["api", "raw", "users"]))
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["http_requests"].value == sent
    assert metadata["step_attempts"].value == 2
