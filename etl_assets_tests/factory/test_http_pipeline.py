"""A pipeline whose source is a JSON API (local fault-injecting server): the generated raw asset,
clean typing of flattened fields, and step retries only for transient failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, RetryPolicy

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply

SPEC = """
pipeline: api
sources:
  users:
    format: http
    http:
      url: URL/users
      record_path: data
      pagination: {type: page, size_param: per_page, size: 2}
      auth: {token_env: ETL_TEST_API_TOKEN}
      retry: {max_attempts: 2, backoff_base_s: 0.001, backoff_max_s: 0.002, timeout_s: 2}
clean:
  users:
    from: users
    columns:
      id: {type: int, required: true}
      name: {type: string}
      city: {type: string, source: address.city}
"""
USERS = [
    {"id": 1, "name": "ann", "address": {"city": "Oslo"}},
    {"id": 2, "name": "bob", "address": {"city": "Rome"}},
    {"id": "x", "name": "bad", "address": {"city": "Nowhere"}},
]
FAST_RETRY = RetryPolicy(max_retries=2, delay=0.01)


def users_api(request: Recorded) -> Reply:
    page, size = int(request.query["page"]), int(request.query["per_page"])
    return Reply(200, {"data": USERS[(page - 1) * size : page * size]})


@pytest.fixture
def defs(http_server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ETL_TEST_API_TOKEN", "tok-secret-1")
    spec = parse_spec(SPEC.replace("URL", http_server.base_url))
    return build_definitions([spec], tmp_path, tmp_path / "warehouse", network_retry=FAST_RETRY)


def run(defs, instance: DagsterInstance):
    return defs.resolve_job_def("api_job").execute_in_process(
        instance=instance, raise_on_error=False
    )


def error_classes(error) -> list[str]:
    """Class names along an error's cause/context chain."""
    names = []
    while error is not None:
        names.append(error.cls_name)
        error = error.cause or error.context
    return names


def restarts(result) -> int:
    return sum(
        1 for event in result.all_events if event.event_type == DagsterEventType.STEP_RESTARTED
    )


def test_api_source_materializes_and_cleans(defs, http_server: FaultServer) -> None:
    http_server.route("GET", "/users", users_api)
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
        assert result.success
        clean = defs.load_asset_value(AssetKey(["api", "clean", "users"]), instance=instance)
        rejected = defs.load_asset_value(AssetKey(["api", "rejected", "users"]), instance=instance)
        event = instance.get_latest_materialization_event(AssetKey(["api", "raw", "users"]))
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
        logs = "\n".join(str(r) for r in instance.all_logs(result.run_id))
    assert clean["id"].tolist() == [1, 2] and str(clean["id"].dtype) == "Int64"
    assert clean["city"].tolist() == ["Oslo", "Rome"]
    assert len(rejected) == 1
    assert metadata["http_requests"].value == 2 and metadata["pages_read"].value == 2
    assert {r.headers["authorization"] for r in http_server.hits("/users")} == {
        "Bearer tok-secret-1"
    }
    assert "tok-secret-1" not in logs


def test_auth_failure_is_terminal_not_retried(defs, http_server: FaultServer) -> None:
    http_server.script("GET", "/users", Reply(401, {"error": "bad token"}))
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
    assert not result.success
    assert restarts(result) == 0
    assert len(http_server.hits("/users")) == 1
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "HTTP 401" in failure.step_failure_data.error.message
    assert "terminal: not retried" in failure.step_failure_data.error.message
    assert failure.step_failure_data.user_failure_data.metadata["http_status"].value == 401


def test_transient_outage_is_retried_by_the_step_policy(defs, http_server: FaultServer) -> None:
    outage = [Reply(503), Reply(503)]  # the client's 2 attempts both fail: the step fails once

    def flaky(request: Recorded) -> Reply:
        return outage.pop(0) if outage else users_api(request)

    http_server.route("GET", "/users", flaky)
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
    assert result.success
    assert restarts(result) == 1


def test_retries_are_bounded_when_the_service_stays_down(defs, http_server: FaultServer) -> None:
    http_server.script("GET", "/users", Reply(503))
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
    assert not result.success
    assert restarts(result) == 2  # FAST_RETRY.max_retries
    # 3 step attempts x 2 client attempts would be 6 requests; the circuit breaker (5
    # consecutive failures, shared by the run's steps) refuses the sixth without calling.
    assert len(http_server.hits("/users")) == 5
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "CircuitOpenError" in error_classes(failure.step_failure_data.error)
