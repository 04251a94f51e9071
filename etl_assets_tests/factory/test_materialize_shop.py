"""The factory end to end on a small spec: real runs, real files, asserting on contents."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import write_customers, write_orders

DAY1 = [
    ("1", "1", "10.0", "2024-01-01T09:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),  # exact duplicate order_id: removed, counted
    ("x3", "1", "1.0", "2024-01-01T11:00:00Z"),  # not an int: rejected
    ("4", "", "1.0", "2024-01-01T12:00:00Z"),  # required customer missing: rejected
]
DAY2 = [("5", "3", "7.25", "2024-01-02T08:00:00Z"), ("6", "1", "2.75", "2024-01-02T09:30:00Z")]


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", DAY1)
    write_orders(tmp_path, "2024-01-02", DAY2)
    # a ragged row (one field too many) on day 3
    folder = tmp_path / "landing" / "orders"
    (folder / "2024-01-03.csv").write_text("order_id,customer_id,amount,ordered_at\n7,1,1.5,2024-01-03T08:00:00Z\n8,1,2,2024-01-03T09:00:00Z,extra\n")
    return tmp_path


def run_range(defs, instance: DagsterInstance, start: str, end: str):
    job = defs.resolve_job_def("shop_job")
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    return job.execute_in_process(instance=instance, tags=tags)


def test_range_run_builds_every_layer(landed: Path, shop_spec_text: str) -> None:
    defs = build_definitions([parse_spec(shop_spec_text)], landed, landed / "warehouse")
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance, "2024-01-01", "2024-01-03")
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert all(c.passed for c in checks), [(c.asset_key, c.check_name) for c in checks if not c.passed]
        assert {(c.asset_key.to_user_string(), c.check_name) for c in checks} >= {
            ("shop/clean/orders", "row_conservation"),
            ("shop/clean/customers", "row_conservation"),
            ("shop/clean/orders", "schema_drift"),
            ("shop/clean/customers", "schema_drift"),
            ("shop/agg/daily_country", "schema_drift"),
            ("shop/agg/all_time", "schema_drift"),
        }

        load = defs.load_asset_value
        clean = load(AssetKey(["shop", "clean", "orders"]), partition_key="2024-01-01", instance=instance)
        assert clean["order_id"].tolist() == [1, 2]
        assert str(clean["order_id"].dtype) == "Int64"
        assert str(clean["ordered_at"].dtype).startswith("datetime64") and str(clean["ordered_at"].dt.tz) == "UTC"

        rejected = load(AssetKey(["shop", "rejected", "orders"]), partition_key="2024-01-01", instance=instance)
        assert sorted(rejected["_source_row"].tolist()) == [4, 5]
        reasons = dict(zip(rejected["_source_row"], rejected["_reason"], strict=True))
        assert "order_id" in reasons[4] and "x3" in reasons[4]
        assert "customer_id" in reasons[5]

        ragged = load(AssetKey(["shop", "rejected", "orders"]), partition_key="2024-01-03", instance=instance)
        assert ragged["_reason_kind"].tolist() == ["parse_error"] and ragged["_source_row"].tolist() == [2]

        # conservation recorded on the clean materialization of day 1: 5 in = 2 out + 2 rejected + 1 duplicate
        event = instance.get_latest_materialization_event(AssetKey(["shop", "clean", "orders"]))
        assert event is not None
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
        assert {"dagster/row_count", "dagster/column_schema", "dagster/column_lineage", "rows_rejected"} <= set(metadata)

        daily = load(AssetKey(["shop", "agg", "daily_country"]), partition_key="2024-01-02", instance=instance)
        by_country = dict(zip(daily["country"], daily["revenue"], strict=True))
        assert by_country == {"NL": 7.25, "DE": 2.75}

        # the unpartitioned aggregate reads every partition that exists
        all_time = load(AssetKey(["shop", "agg", "all_time"]), instance=instance).set_index("customer_id")
        assert all_time.loc[1, "orders"] == 3  # orders 1, 6 and 7 (8 was ragged, x3 not an int)


def test_rerun_of_one_partition_replaces_only_it(landed: Path, shop_spec_text: str) -> None:
    defs = build_definitions([parse_spec(shop_spec_text)], landed, landed / "warehouse")
    with DagsterInstance.ephemeral() as instance:
        assert run_range(defs, instance, "2024-01-01", "2024-01-02").success
        write_orders(landed, "2024-01-02", [("9", "2", "100", "2024-01-02T08:00:00Z")])
        job = defs.resolve_job_def("shop_job")
        assert job.execute_in_process(instance=instance, partition_key="2024-01-02").success
        day2 = defs.load_asset_value(AssetKey(["shop", "clean", "orders"]), partition_key="2024-01-02", instance=instance)
        day1 = defs.load_asset_value(AssetKey(["shop", "clean", "orders"]), partition_key="2024-01-01", instance=instance)
        assert day2["order_id"].tolist() == [9]
        assert day1["order_id"].tolist() == [1, 2]


def test_missing_partition_file_fails_naming_it(tmp_path: Path, shop_spec_text: str) -> None:
    write_customers(tmp_path)
    defs = build_definitions([parse_spec(shop_spec_text)], tmp_path, tmp_path / "warehouse")
    job = defs.resolve_job_def("shop_job")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, partition_key="2024-01-05", raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    error, messages = failures[0].step_failure_data.error, []  # type: ignore[union-attr]
    while error is not None:
        messages.append(error.message)
        error = error.cause
    assert any("landing/orders/2024-01-05.csv" in m and "2024-01-05" in m for m in messages), messages
