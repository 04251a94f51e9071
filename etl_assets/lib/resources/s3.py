"""S3 settings for the file IO managers and file sources, as fsspec (s3fs) options.

The IO managers and :class:`~etl_assets.lib.resources.SourceFiles` reach S3 through UPath and
s3fs. Their endpoint, region and credentials are an :class:`S3Config` block of resource config
whose fields are named as dagster-aws's ``S3Resource`` fields (``S3Config.from_resource`` copies
one), so a MinIO-style endpoint (``endpoint_url="http://minio:9000"``) is set the same way for
boto3 and for the IO managers. A Config block rather than a nested ``S3Resource``: a nested
resource turns its parent into a context-manager resource, which sensors' and tests'
``build_*_context(resources=...)`` then refuse outside a ``with`` block.

Credentials: leave them unset to use the AWS default chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` in the environment, a profile, an instance role); or give them as
``EnvVar("...")`` so the UI shows the variable's name, never the value. They end up only in the
s3fs client, never in paths, metadata or log messages.

Retries: botocore's "standard" mode for every client, with ``max_attempts`` retries (botocore's
name; unset here: one retry) instead of its legacy four retries with backoff up to 20 s, times
every call a listing makes. Throttling (503 SlowDown) is still retried
by botocore and again by s3fs's own wrapper; an endpoint that refuses connections now fails in a
couple of seconds instead of tens, and ``lib/remote_errors.py`` then stops the step with a message
naming the endpoint, the object and the cause.

Listings are not cached (``use_listings_cache=False``): objects land from other systems, and a
sensor or a multi-partition load must see what is there now, not what was there at the first
listing in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import Config
from pydantic import Field
from upath import UPath

if TYPE_CHECKING:  # dagster_aws (boto3, and half of Dagster's storage layer) costs ~0.7 s to import
    from dagster_aws.s3 import S3Resource

S3_PROTOCOLS = ("s3", "s3a")
#: botocore retries per request (its ``max_attempts``: retries after the first attempt) unless
#: ``S3Config.max_attempts`` says otherwise.
DEFAULT_RETRIES = 1


class S3Config(Config):
    """Endpoint, region and credentials of an S3 (or S3-compatible) service."""

    endpoint_url: str | None = Field(
        default=None, description="e.g. http://127.0.0.1:9000 for MinIO"
    )
    region_name: str | None = None
    aws_access_key_id: str | None = Field(
        default=None, description="EnvVar; unset: AWS default chain"
    )
    aws_secret_access_key: str | None = Field(default=None, description="EnvVar; never a literal")
    aws_session_token: str | None = None
    use_unsigned_session: bool = False
    use_ssl: bool = True
    verify: bool | None = None
    max_attempts: int | None = Field(
        default=None,
        description="botocore retries per request after the first attempt (botocore's max_attempts),"
        f" standard retry mode; unset: {DEFAULT_RETRIES}",
    )
    profile_name: str | None = None

    @classmethod
    def from_resource(cls, s3: S3Resource) -> S3Config:
        """The same settings as an ``S3Resource`` the code location already has."""
        return cls(**{name: getattr(s3, name) for name in cls.model_fields if hasattr(s3, name)})


def is_s3_url(value: str) -> bool:
    """Whether ``value`` names an S3 location (``s3://bucket/...``)."""
    return value.split("://", 1)[0].lower() in S3_PROTOCOLS if "://" in value else False


def s3_storage_options(s3: S3Config | S3Resource | None = None, **extra: Any) -> dict[str, Any]:
    """s3fs options for an ``S3Config`` or ``S3Resource`` (None: AWS defaults); ``extra`` wins."""
    options: dict[str, Any] = {"use_listings_cache": False}
    client_kwargs: dict[str, Any] = {}
    retries = (s3.max_attempts if s3 is not None else None) or DEFAULT_RETRIES
    options["config_kwargs"] = {"retries": {"max_attempts": retries, "mode": "standard"}}
    if s3 is not None:
        if s3.endpoint_url:
            options["endpoint_url"] = s3.endpoint_url
        if s3.region_name:
            client_kwargs["region_name"] = s3.region_name
        if s3.aws_access_key_id:
            options["key"] = s3.aws_access_key_id
        if s3.aws_secret_access_key:
            options["secret"] = s3.aws_secret_access_key
        if s3.aws_session_token:
            options["token"] = s3.aws_session_token
        if s3.use_unsigned_session:
            options["anon"] = True
        if s3.use_ssl is False:
            options["use_ssl"] = False
        if s3.verify is not None:
            client_kwargs["verify"] = s3.verify
        if s3.profile_name:
            options["profile"] = s3.profile_name
    if client_kwargs:
        options["client_kwargs"] = client_kwargs
    options.update(extra)
    return options


def storage_path(
    location: str,
    s3: S3Config | S3Resource | None = None,
    storage_options: dict[str, Any] | None = None,
) -> UPath:
    """``location`` as a UPath; S3 locations get the resource's options (explicit ones win)."""
    if is_s3_url(location):
        return UPath(location, **s3_storage_options(s3, **(storage_options or {})))
    return UPath(location, **(storage_options or {}))
