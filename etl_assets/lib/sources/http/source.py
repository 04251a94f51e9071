"""``format: http`` sources: every page of a JSON API as one raw table.

Columns: the records' fields (flattened, see :mod:`.flatten`), then ``_source_file`` (the page's
URL as requested), ``_source_row`` (the record's position in its page, 1-based) and, for a
partitioned source, ``_partition``. A partitioned source puts ``{partition}`` in its URL or a
parameter (``params: {date: "{partition}"}``); each key is fetched on its own.

The auth token is read from the environment variable the spec names (``auth.token_env``) when
the read starts, as Dagster's ``EnvVar`` does, and only ever put in the request header of
requests to the configured URL's origin (scheme, host and port): not on ``next`` links to other
hosts, and stripped from redirects that leave the origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from dagster import EnvVar

from etl_assets.lib.sources.errors import SourceError
from etl_assets.lib.sources.files import SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN
from etl_assets.lib.sources.http.client import HttpClient
from etl_assets.lib.sources.http.flatten import records_to_table
from etl_assets.lib.sources.http.pagination import iter_pages
from etl_assets.lib.spec.models import PARTITION_COLUMN, HttpAuthSpec, HttpSourceOptions, SourceSpec
from etl_assets.lib.telemetry import source_read

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARTITION_COLUMN)


def auth_headers(auth: HttpAuthSpec | None, *, name: str) -> dict[str, str]:
    """The auth header with the token from its environment variable (never logged)."""
    if auth is None:
        return {}
    token = EnvVar(auth.token_env).get_value()
    if not token:
        raise SourceError(
            f"source {name!r}: environment variable {auth.token_env} (auth.token_env) is not set or empty"
        )
    return {auth.header: f"{auth.scheme} {token}" if auth.scheme else token}


def client_for(options: HttpSourceOptions, client: HttpClient) -> HttpClient:
    """``client`` with the source's own retry, timeout and rate limit, when it declares them."""
    changes: dict[str, Any] = {}
    if options.retry is not None:
        changes["timeout_s"] = options.retry.timeout_s
        changes["retry"] = replace(
            client.settings.retry,
            max_attempts=options.retry.max_attempts,
            backoff_base_s=options.retry.backoff_base_s,
            backoff_max_s=options.retry.backoff_max_s,
        )
    if options.rate_limit is not None:
        changes["rate_per_s"] = options.rate_limit.per_second
        changes["burst"] = options.rate_limit.burst
    return client.configured(**changes) if changes else client


def _substitute(value: Any, key: str | None) -> Any:
    return (
        value.replace("{partition}", key) if key is not None and isinstance(value, str) else value
    )


@dataclass
class _Walk:
    """Records of one or more walks, with where each came from."""

    records: list[dict[str, Any]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)


def _walk(
    options: HttpSourceOptions,
    client: HttpClient,
    into: _Walk,
    *,
    name: str,
    partition_key: str | None = None,
) -> None:
    auth = auth_headers(options.auth, name=name)
    url = _substitute(options.url, partition_key)
    params = {k: _substitute(v, partition_key) for k, v in options.params.items()}
    for page in iter_pages(
        client,
        url,
        params=params,
        headers=options.headers,
        pagination=options.pagination,
        record_path=options.record_path,
        auth=auth,
    ):
        into.records.extend(page.records)
        into.pages.extend([page.url] * len(page.records))
        into.rows.extend(range(1, len(page.records) + 1))
        if partition_key is not None:
            into.partitions.extend([partition_key] * len(page.records))


def _table(
    walk: _Walk, options: HttpSourceOptions, *, name: str, partitioned: bool
) -> pd.DataFrame:
    """One flattening over every record, so column types agree across pages and partitions."""
    frame = records_to_table(walk.records, flatten=options.flatten)
    clash = [c for c in frame.columns if c in _RESERVED]
    if clash:
        raise SourceError(f"source {name!r}: API field(s) {clash} clash with lineage columns")
    frame[SOURCE_FILE_COLUMN] = pd.Series(walk.pages, dtype="str", index=frame.index)
    frame[SOURCE_ROW_COLUMN] = pd.Series(walk.rows, dtype="int64", index=frame.index)
    if partitioned:
        frame[PARTITION_COLUMN] = pd.Series(walk.partitions, dtype="str", index=frame.index)
    return frame


def fetch_records(
    options: HttpSourceOptions, client: HttpClient, *, name: str, partition_key: str | None = None
) -> pd.DataFrame:
    """Every page of one walk as a table with ``_source_file`` / ``_source_row``."""
    walk = _Walk()
    _walk(options, client, walk, name=name, partition_key=partition_key)
    return _table(walk, options, name=name, partitioned=False)


def read_http_source(
    spec: SourceSpec,
    client: HttpClient,
    *,
    name: str,
    partition_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a declared ``format: http`` source (see the module docstring)."""
    url = spec.http.url if spec.http is not None else ""
    with source_read(name, "http", lambda: url, partition_keys) as traced:
        frame = _read_http_source(spec, client, name=name, partition_keys=partition_keys)
        traced(rows=len(frame))
        return frame


def _read_http_source(
    spec: SourceSpec, client: HttpClient, *, name: str, partition_keys: Sequence[str] | None
) -> pd.DataFrame:
    if spec.http is None:
        raise SourceError(f"source {name!r} is {spec.format}, not an http source")
    options = spec.http
    client = client_for(options, client)
    if not spec.partitioned:
        if partition_keys is not None:
            raise SourceError(
                f"source {name!r} is not partitioned; partition_keys must not be given"
            )
        return fetch_records(options, client, name=name)
    if isinstance(partition_keys, str) or not partition_keys:
        raise SourceError(
            f"source {name!r} is partitioned: a non-empty list of partition_keys is required"
        )
    walk = _Walk()
    for key in partition_keys:
        _walk(options, client, walk, name=name, partition_key=key)
    return _table(walk, options, name=name, partitioned=True)


__all__ = ["auth_headers", "client_for", "fetch_records", "read_http_source"]
