"""S3 failures name the endpoint, the object and the cause, and an endpoint that refuses
connections stops the step at once instead of after minutes of retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    Definitions,
    Failure,
    RetryPolicy,
    asset,
    define_asset_job,
)
from moto.server import ThreadedMotoServer

from etl_assets.lib.io import io_manager_for
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import SourceSpec
from etl_assets_tests.servers.s3 import S3Bucket, S3Server


@pytest.fixture
def doomed_server(s3_server: S3Server) -> Iterator[tuple[Callable[[], None], S3Bucket]]:
    """A moto server of its own (the session's stays up for other tests) with one bucket, and
    a function that stops it. ``s3_server`` only for its fake AWS credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    bucket = S3Bucket(S3Server(endpoint_url=f"http://{host}:{port}"), "doomed-bucket")
    bucket.server.client().create_bucket(Bucket=bucket.name)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            server.stop()
            stopped = True

    try:
        yield stop, bucket
    finally:
        stop()


def test_source_read_from_an_endpoint_that_went_away(doomed_server) -> None:
    stop, bucket = doomed_server
    bucket.put("landing/orders.csv", "id\n1\n")
    files = SourceFiles(root=f"{bucket.url}/landing", s3=bucket.server.config())
    source = SourceSpec.model_validate({"format": "csv", "path": "orders.csv"})
    assert files.read(source, name="orders")["id"].tolist() == ["1"]
    stop()
    with pytest.raises(Failure) as caught:
        files.read(source, name="orders")
    message = str(caught.value.description)
    assert "reading source 'orders'" in message
    assert f"{bucket.url}/landing/orders.csv" in message  # the object
    assert bucket.server.endpoint_url in message  # the endpoint
    assert "ConnectionRefusedError" in message  # the cause
    assert not caught.value.allow_retries  # a step RetryPolicy will not rerun it
    assert caught.value.metadata["endpoint"].value == bucket.server.endpoint_url


def test_io_manager_on_an_endpoint_that_went_away_fails_once(doomed_server) -> None:
    stop, bucket = doomed_server

    @asset(key=["t", "orders"], io_manager_key="io")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"v": [1]})

    job = define_asset_job("j", op_retry_policy=RetryPolicy(max_retries=3, delay=0.01))
    io = io_manager_for("parquet", f"{bucket.url}/wh", s3=bucket.server.config())
    defs = Definitions(assets=[orders], jobs=[job], resources={"io": io})
    with DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("j").execute_in_process(instance=instance).success
        stop()
        result = defs.resolve_job_def("j").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    events = result.all_events
    assert not any(e.event_type == DagsterEventType.STEP_RESTARTED for e in events)
    failure = next(e for e in events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.message
    assert "Exceeded max_retries" not in message
    assert f"writing t/orders: {bucket.url}/wh/t/orders.parquet" in message
    assert f"cannot connect to {bucket.server.endpoint_url}" in message
    assert "ConnectionRefusedError" in message and "terminal: not retried" in message


SPEC = """
pipeline: objs
sources:
  orders: {format: csv, path: landing/orders.csv}
"""


def test_missing_source_object_is_not_retried_by_the_step(s3_bucket: S3Bucket, tmp_path) -> None:
    from etl_assets.factory import build_definitions
    from etl_assets.lib.spec import parse_spec

    defs = build_definitions(
        [parse_spec(SPEC)],
        f"{s3_bucket.url}/data",
        tmp_path / "warehouse",
        s3=s3_bucket.server.config(),
        network_retry=RetryPolicy(max_retries=2, delay=0.01),
    )
    job = defs.resolve_job_def("objs_job")
    assert job.op_retry_policy is not None  # S3 data root: steps are retried ...
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    events = result.all_events
    # ... but not for an object that is not there
    assert not any(e.event_type == DagsterEventType.STEP_RESTARTED for e in events)
    failure = next(e for e in events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.message
    assert "source 'orders'" in message and "does not exist" in message
    assert "terminal: not retried" in message
    s3_bucket.put("data/landing/orders.csv", "id\n1\n")
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance).success


def test_which_storage_failures_a_step_retry_may_fix() -> None:
    """A source read that S3 failed to deliver is retried; refused, denied or missing is not."""
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    from etl_assets.lib.remote_errors import is_transient_storage_error
    from etl_assets.lib.sources.errors import SourceNotFoundError, SourceReadError

    def read_error(cause: BaseException) -> SourceReadError:
        try:
            raise SourceReadError("s3://b/in/a.csv", "cannot read") from cause
        except SourceReadError as error:
            return error

    timeout = ReadTimeoutError(endpoint_url="http://127.0.0.1:9/b/in/a.csv")
    assert is_transient_storage_error(read_error(timeout))
    refused = EndpointConnectionError(endpoint_url="http://127.0.0.1:9/b/in/a.csv")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert not is_transient_storage_error(read_error(refused))
    assert not is_transient_storage_error(SourceNotFoundError("source 'a': does not exist"))
    assert not is_transient_storage_error(read_error(OSError("local disk failed")))
