"""S3 settings: from dagster-aws's S3Resource, credentials through EnvVar, nothing leaked."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, EnvVar, asset, materialize
from dagster_aws.s3 import S3Resource

from etl_assets.lib.io import io_manager_for
from etl_assets.lib.resources import S3Config, s3_storage_options
from etl_assets_tests.servers.s3 import S3Bucket


def test_options_from_an_s3_resource() -> None:
    resource = S3Resource(
        endpoint_url="http://minio:9000",
        region_name="eu-west-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        use_ssl=False,
    )
    options = s3_storage_options(S3Config.from_resource(resource))
    assert options == {
        "use_listings_cache": False,
        "endpoint_url": "http://minio:9000",
        "key": "k",
        "secret": "s",
        "use_ssl": False,
        "client_kwargs": {"region_name": "eu-west-1"},
        "config_kwargs": {
            "retries": {"max_attempts": 5, "mode": "standard"}
        },  # S3Resource's default
    }
    assert s3_storage_options(None) == {  # the AWS default chain, one botocore retry
        "use_listings_cache": False,
        "config_kwargs": {"retries": {"max_attempts": 1, "mode": "standard"}},
    }


def test_credentials_from_envvar_reach_s3_but_not_the_event_log(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_S3_KEY_ID", "envvar-key-id")
    monkeypatch.setenv("TEST_S3_SECRET", "envvar-secret-value")
    settings = S3Config(
        endpoint_url=s3_bucket.server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=EnvVar("TEST_S3_KEY_ID"),
        aws_secret_access_key=EnvVar("TEST_S3_SECRET"),
    )

    @asset(key=["t", "secretive"], io_manager_key="io")
    def secretive() -> pd.DataFrame:
        return pd.DataFrame({"v": [1, 2]})

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [secretive],
            resources={"io": io_manager_for("csv", f"{s3_bucket.url}/wh", s3=settings)},
            instance=instance,
        )
        assert result.success
        text = "\n".join(str(r) for r in instance.all_logs(result.run_id))
        metadata = instance.get_latest_materialization_event(
            AssetKey(["t", "secretive"])
        ).asset_materialization.metadata  # type: ignore[union-attr]
    assert "envvar-secret-value" not in text and "envvar-secret-value" not in str(metadata)
    assert s3_bucket.keys("wh/") == ["wh/t/secretive.csv", "wh/t/secretive.csv.schema.json"]


def test_missing_bucket_is_terminal_and_not_retried(s3_bucket: S3Bucket) -> None:
    from dagster import DagsterEventType, Definitions, RetryPolicy, define_asset_job

    @asset(key=["t", "nowhere"], io_manager_key="io")
    def nowhere() -> pd.DataFrame:
        return pd.DataFrame({"v": [1]})

    job = define_asset_job("j", op_retry_policy=RetryPolicy(max_retries=2, delay=0.01))
    io = io_manager_for(
        "parquet", "s3://bucket-that-does-not-exist/wh", s3=s3_bucket.server.config()
    )
    defs = Definitions(assets=[nowhere], jobs=[job], resources={"io": io})
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("j").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    assert not any(e.event_type == DagsterEventType.STEP_RESTARTED for e in result.all_events)
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.message
    # what was done, the object, the endpoint and the cause
    assert "writing t/nowhere: s3://bucket-that-does-not-exist/wh/t/nowhere.parquet" in message
    assert f"via {s3_bucket.server.endpoint_url}" in message
    assert "NoSuchBucket" in message
    assert "terminal: not retried" in failure.step_failure_data.error.message
