"""Step retries of HTTP sources and exports: a refusal no retry can fix is not retried (counted
on the server), and the request counters in metadata add up over every attempt of the step."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import write_customers, write_orders
from etl_assets_tests.factory.test_http_export import EXPORTS, orders
from etl_assets_tests.factory.test_http_export import run as run_export
from etl_assets_tests.factory.test_http_pipeline import (
    FAST_RETRY,
    SPEC,
    restarts,
    run,
    users_api,
)
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply
from etl_assets_tests.servers.ingest import Ingest


@pytest.fixture
def defs(http_server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The API pipeline of test_http_pipeline, with fast step retries (2 after the first)."""
    monkeypatch.setenv("ETL_TEST_API_TOKEN", "tok-secret-1")
    spec = parse_spec(SPEC.replace("URL", http_server.base_url))
    return build_definitions([spec], tmp_path, tmp_path / "warehouse", network_retry=FAST_RETRY)


def test_retry_after_beyond_the_limit_is_not_retried_by_the_step(
    defs, http_server: FaultServer
) -> None:
    # HttpClientResource waits at most 120 s for a Retry-After; the API asks for 600 s
    http_server.script(
        "GET", "/users", Reply(429, {"error": "slow down"}, headers={"Retry-After": "600"})
    )
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
    assert not result.success
    assert restarts(result) == 0
    assert len(http_server.hits("/users")) == 1  # not 1 + 3 step retries
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.message
    assert "Retry-After 600s" in message and "terminal: not retried" in message
    assert http_server.url("/users") in message
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["http_status"].value == 429 and metadata["retry_after_s"].value == 600


def test_request_counters_add_up_over_step_attempts(defs, http_server: FaultServer) -> None:
    outage = [
        Reply(503),
        Reply(503),
    ]  # attempt 1: the client's 2 tries fail; attempt 2 reads 2 pages

    def flaky(request: Recorded) -> Reply:
        return outage.pop(0) if outage else users_api(request)

    http_server.route("GET", "/users", flaky)
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
        assert result.success
        event = instance.get_latest_materialization_event(AssetKey(["api", "raw", "users"]))
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    assert restarts(result) == 1
    sent = len(http_server.hits("/users"))
    assert sent == 4
    assert metadata["http_requests"].value == sent  # both attempts, not the last one's 2
    assert metadata["http_retries"].value == 1  # the first attempt's client retry
    assert metadata["step_attempts"].value == 2


def test_a_new_run_counts_from_zero(defs, http_server: FaultServer) -> None:
    http_server.route("GET", "/users", users_api)
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):
            assert run(defs, instance).success
            event = instance.get_latest_materialization_event(AssetKey(["api", "raw", "users"]))
            assert event.asset_materialization.metadata["http_requests"].value == 2  # type: ignore[union-attr]


def test_export_counters_add_up_over_step_attempts(
    http_server: FaultServer, tmp_path: Path, shop_spec_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("ETL_TEST_EXPORT_TOKEN", "export-token")
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", orders(3, "2024-01-01", 0))
    write_orders(tmp_path, "2024-01-02", orders(2, "2024-01-02", 10))
    spec = parse_spec(shop_spec_text + EXPORTS.replace("URL", http_server.base_url))
    export_defs = build_definitions(
        [spec], tmp_path, tmp_path / "warehouse", network_retry=FAST_RETRY
    )
    ingest = Ingest(duplicate_status=409, id_field="order_id")
    outage = [Reply(503)] * 3  # the first batch's 3 client attempts fail: the step is retried

    def flaky(request: Recorded) -> Reply:
        return outage.pop(0) if outage else ingest(request)

    http_server.route("POST", "/import", flaky)
    with DagsterInstance.ephemeral() as instance:
        result = run_export(export_defs, instance)
        assert result.success
        event = instance.get_latest_materialization_event(
            AssetKey(["shop", "export", "orders_out"])
        )
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    assert restarts(result) == 1
    sent = len(http_server.hits("/import"))
    assert sent == 8  # attempt 1: 3 failed + 2 batches; attempt 2: 3 batches (2 duplicates)
    assert metadata["http_requests"].value == sent
    assert metadata["step_attempts"].value == 2
    assert ingest.rows() == [0, 1, 2, 10, 11]
