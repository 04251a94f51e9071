"""``format: http`` sources: every page of a JSON API as one raw table.

Columns: the records' fields (flattened, see :mod:`.flatten`), then ``_source_file`` (the page's
URL as requested), ``_source_row`` (the record's position in its page, 1-based) and, for a
partitioned source, ``_partition``. A partitioned source puts ``{partition}`` in its URL or a
parameter (``params: {date: "{partition}"}``); each key is fetched on its own.

The auth token is read from the environment variable the spec names (``auth.token_env``) when
the read starts, as Dagster's ``EnvVar`` does, and only ever put in the request header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
from dagster import EnvVar

from etl_assets.lib.sources.errors import SourceError
from etl_assets.lib.sources.files import SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN
from etl_assets.lib.sources.http.client import HttpClient
from etl_assets.lib.sources.http.flatten import records_to_table
from etl_assets.lib.sources.http.pagination import iter_pages
from etl_assets.lib.sources.http.retry import RetrySettings
from etl_assets.lib.spec.models import PARTITION_COLUMN, HttpAuthSpec, HttpSourceOptions, SourceSpec

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
    return value.replace("{partition}", key) if key is not None and isinstance(value, str) else value


def fetch_records(
    options: HttpSourceOptions, client: HttpClient, *, name: str, partition_key: str | None = None
) -> pd.DataFrame:
    """Every page of one walk as a table with ``_source_file`` / ``_source_row``."""
    headers = {**options.headers, **auth_headers(options.auth, name=name)}
    url = _substitute(options.url, partition_key)
    params = {k: _substitute(v, partition_key) for k, v in options.params.items()}
    records: list[dict[str, Any]] = []
    pages: list[str] = []
    rows: list[int] = []
    for page in iter_pages(
        client,
        url,
        params=params,
        headers=headers,
        pagination=options.pagination,
        record_path=options.record_path,
    ):
        records.extend(page.records)
        pages.extend([page.url] * len(page.records))
        rows.extend(range(1, len(page.records) + 1))
    frame = records_to_table(records, flatten=options.flatten)
    clash = [c for c in frame.columns if c in _RESERVED]
    if clash:
        raise SourceError(f"source {name!r}: API field(s) {clash} clash with lineage columns")
    frame[SOURCE_FILE_COLUMN] = pd.Series(pages, dtype="str", index=frame.index)
    frame[SOURCE_ROW_COLUMN] = pd.Series(rows, dtype="int64", index=frame.index)
    return frame


def read_http_source(
    spec: SourceSpec,
    client: HttpClient,
    *,
    name: str,
    partition_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a declared ``format: http`` source (see the module docstring)."""
    if spec.http is None:
        raise SourceError(f"source {name!r} is {spec.format}, not an http source")
    options = spec.http
    client = client_for(options, client)
    if not spec.partitioned:
        if partition_keys is not None:
            raise SourceError(f"source {name!r} is not partitioned; partition_keys must not be given")
        return fetch_records(options, client, name=name)
    if isinstance(partition_keys, str) or not partition_keys:
        raise SourceError(f"source {name!r} is partitioned: a non-empty list of partition_keys is required")
    frames = []
    for key in partition_keys:
        frame = fetch_records(options, client, name=name, partition_key=key)
        frame[PARTITION_COLUMN] = pd.Series([key] * len(frame), dtype="str", index=frame.index)
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    combined = pd.concat(frames, ignore_index=True, sort=False)
    lineage = [SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARTITION_COLUMN]
    return combined[[c for c in combined.columns if c not in lineage] + lineage]


__all__ = ["RetrySettings", "auth_headers", "client_for", "fetch_records", "read_http_source"]
