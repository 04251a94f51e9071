"""A whole pipeline with its landing files and warehouse on S3 (moto server on 127.0.0.1).

Wired exactly as a deployment is: ``etl_assets.definitions`` reads ``ETL_ASSETS_DATA_ROOT``,
``ETL_ASSETS_WAREHOUSE`` (``s3://...``) and ``ETL_ASSETS_S3_ENDPOINT_URL``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

import etl_assets.definitions
from etl_assets.factory.network import NETWORK_RETRY_POLICY
from etl_assets_tests.servers.s3 import FAKE_CREDENTIALS, S3Bucket

ORDERS = {
    "2024-01-01": "order_id,customer_id,amount,ordered_at\n1,1,10.0,2024-01-01T09:00:00Z\nx2,1,1,2024-01-01T10:00:00Z\n",
    "2024-01-02": "order_id,customer_id,amount,ordered_at\n3,2,5.5,2024-01-02T08:00:00Z\n",
}


@pytest.fixture
def s3_defs(
    s3_bucket: S3Bucket, tmp_path: Path, shop_spec_text: str, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "shop.yaml").write_text(shop_spec_text)
    for day, text in ORDERS.items():
        s3_bucket.put(f"data/landing/orders/{day}.csv", text)
    s3_bucket.put("data/landing/customers.csv", "customer_id,country\n1,de\n2,fr\n")
    monkeypatch.setenv("ETL_ASSETS_PIPELINES", str(tmp_path))
    monkeypatch.setenv("ETL_ASSETS_DATA_ROOT", f"{s3_bucket.url}/data")
    monkeypatch.setenv("ETL_ASSETS_WAREHOUSE", f"{s3_bucket.url}/warehouse/")
    monkeypatch.setenv("ETL_ASSETS_S3_ENDPOINT_URL", s3_bucket.server.endpoint_url)
    monkeypatch.setenv("ETL_ASSETS_S3_REGION", s3_bucket.server.region)
    module = importlib.reload(etl_assets.definitions)
    yield module.defs
    monkeypatch.undo()
    importlib.reload(etl_assets.definitions)


def test_pipeline_materializes_end_to_end_on_s3(s3_defs, s3_bucket: S3Bucket) -> None:
    manager = s3_defs.resources["parquet_io_manager"]
    assert manager.base_path == f"{s3_bucket.url}/warehouse"
    assert manager.s3.endpoint_url == s3_bucket.server.endpoint_url
    job = s3_defs.resolve_job_def("shop_job")
    assert job.op_retry_policy == NETWORK_RETRY_POLICY  # remote storage: steps retried on failure
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: "2024-01-01",
        ASSET_PARTITION_RANGE_END_TAG: "2024-01-02",
    }
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, tags=tags)
        assert result.success
        clean = s3_defs.load_asset_value(
            AssetKey(["shop", "clean", "orders"]), partition_key="2024-01-01", instance=instance
        )
        assert clean["order_id"].tolist() == [1]
        rejected = s3_defs.load_asset_value(
            AssetKey(["shop", "rejected", "orders"]), partition_key="2024-01-01", instance=instance
        )
        assert len(rejected) == 1
        totals = s3_defs.load_asset_value(AssetKey(["shop", "agg", "all_time"]), instance=instance)
        assert sorted(totals["orders"].tolist()) == [1, 1]
        raw = s3_defs.load_asset_value(
            AssetKey(["shop", "raw", "orders"]), partition_key="2024-01-02", instance=instance
        )
        assert raw["_source_file"].tolist() == ["landing/orders/2024-01-02.csv"]
        event = instance.get_latest_materialization_event(AssetKey(["shop", "clean", "orders"]))
        path = event.asset_materialization.metadata["path"].value  # type: ignore[union-attr]
        assert path == f"{s3_bucket.url}/warehouse/shop/clean/orders"
        # secrets never reach the event log (metadata, log messages)
        logs = "\n".join(str(record) for record in instance.all_logs(result.run_id))
        assert FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in logs
    keys = s3_bucket.keys("warehouse/shop/clean/orders/")
    assert keys == [
        "warehouse/shop/clean/orders/2024-01-01.parquet",
        "warehouse/shop/clean/orders/2024-01-02.parquet",
    ]
