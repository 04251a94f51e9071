"""``exports:`` in a spec: export assets POST a table's rows, per partition, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, RetryPolicy
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import SpecError, parse_spec
from etl_assets_tests.conftest import write_customers, write_orders
from etl_assets_tests.servers.http import FaultServer
from etl_assets_tests.servers.ingest import Ingest

EXPORTS = """
exports:
  orders_out:
    from: clean.orders
    http:
      url: URL/import
      batch_size: 2
      auth: {token_env: ETL_TEST_EXPORT_TOKEN}
      retry: {max_attempts: 3, backoff_base_s: 0.001, backoff_max_s: 0.002, timeout_s: 2}
"""
FAST_RETRY = RetryPolicy(max_retries=1, delay=0.01)


def orders(n: int, day: str, first: int) -> list[tuple[str, str, str, str]]:
    return [(str(first + i), "1", "1.5", f"{day}T0{i}:00:00Z") for i in range(n)]


@pytest.fixture
def defs(
    http_server: FaultServer, tmp_path: Path, shop_spec_text: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ETL_TEST_EXPORT_TOKEN", "export-token")
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", orders(3, "2024-01-01", 0))
    write_orders(tmp_path, "2024-01-02", orders(2, "2024-01-02", 10))
    spec = parse_spec(shop_spec_text + EXPORTS.replace("URL", http_server.base_url))
    return build_definitions([spec], tmp_path, tmp_path / "warehouse", network_retry=FAST_RETRY)


def run(defs, instance, start="2024-01-01", end="2024-01-02"):
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    return defs.resolve_job_def("shop_job").execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )


def test_export_posts_each_partition_once(defs, http_server: FaultServer) -> None:
    ingest = Ingest(
        drop_after_apply={0}, duplicate_status=409, id_field="order_id"
    )  # the first batch's reply is lost
    http_server.route("POST", "/import", ingest)
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
        assert result.success
        event = instance.get_latest_materialization_event(
            AssetKey(["shop", "export", "orders_out"])
        )
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
        assert ingest.rows() == [0, 1, 2, 10, 11]  # each row once although batch 0 was sent twice
        assert metadata["rows_delivered"].value == 5 and metadata["batches"].value == 3  # 2+1 | 2
        assert {r.headers["authorization"] for r in http_server.hits("/import")} == {
            "Bearer export-token"
        }
        assert "_partition" not in next(iter(ingest.applied.values()))[0]
        # rerunning one partition alone sends the same keys: the server has it all already
        assert run(defs, instance, "2024-01-02", "2024-01-02").success
        event = instance.get_latest_materialization_event(
            AssetKey(["shop", "export", "orders_out"])
        )
        assert event.asset_materialization.metadata["batches_duplicate"].value == 1  # type: ignore[union-attr]
    assert ingest.rows() == [0, 1, 2, 10, 11]


def test_rejected_batch_fails_the_export_without_retry(defs, http_server: FaultServer) -> None:
    http_server.route(
        "POST", "/import", Ingest(reject={1}, id_field="order_id")
    )  # rows 10, 11: batch of day 2
    with DagsterInstance.ephemeral() as instance:
        result = run(defs, instance)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == ["shop__export__orders_out"]
    assert not any(e.event_type == DagsterEventType.STEP_RESTARTED for e in result.all_events)
    data = failures[0].step_failure_data
    assert (
        "1 of 3 batch(es) failed (2 rows)" in data.error.message
        and "terminal: not retried" in data.error.message
    )
    assert data.user_failure_data.metadata["rows_delivered"].value == 3


def test_export_must_name_an_existing_table(shop_spec_text: str) -> None:
    bad = shop_spec_text + EXPORTS.replace("URL", "http://127.0.0.1:1").replace(
        "clean.orders", "clean.nope"
    )
    with pytest.raises(SpecError, match=r"exports.orders_out.from: unknown clean table 'nope'"):
        parse_spec(bad)
