"""An S3-compatible server for tests: moto's server mode on 127.0.0.1, on a free port.

One server per test process (session scope), so it works under ``pytest -n 2 --dist loadgroup``:
each xdist worker starts its own server on its own port. Tests get a fresh bucket each
(:func:`s3_bucket`), so they never see each other's objects.

The fixture sets fake ``AWS_*`` credentials for the session: botocore and s3fs need some, and
fake ones make sure nothing can reach real AWS by accident (there is no network here anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from dagster_aws.s3 import S3Resource
from moto.server import ThreadedMotoServer
from upath import UPath

from etl_assets.lib.resources.s3 import S3Config, s3_storage_options

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-do-not-log",
    "AWS_SESSION_TOKEN": "testing-token",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    region: str = "us-east-1"

    def resource(self) -> S3Resource:
        """dagster-aws's resource pointing at this server (credentials from the environment)."""
        return S3Resource(endpoint_url=self.endpoint_url, region_name=self.region)

    def config(self) -> S3Config:
        """The IO managers' and SourceFiles' S3 settings for this server."""
        return S3Config(endpoint_url=self.endpoint_url, region_name=self.region)

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)


@dataclass(frozen=True)
class S3Bucket:
    server: S3Server
    name: str

    @property
    def url(self) -> str:
        return f"s3://{self.name}"

    @property
    def storage_options(self) -> dict[str, Any]:
        return s3_storage_options(self.server.config())

    def path(self, *parts: str) -> UPath:
        return UPath(self.url, **self.storage_options).joinpath(*parts)

    def put(self, key: str, body: bytes | str) -> str:
        """Upload an object with boto3 (as another system would); returns its ETag."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.server.client().put_object(Bucket=self.name, Key=key, Body=data)["ETag"]

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.server.client().list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield S3Server(endpoint_url=f"http://{host}:{port}")
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=name)
    return S3Bucket(s3_server, name)


__all__ = ["FAKE_CREDENTIALS", "S3Bucket", "S3Server", "s3_bucket", "s3_server"]
