"""Assets that touch the network: ``format: http`` raw assets, and the retry rules they share.
# No `from __future__ import annotations` here: Dagster reads these annotations at definition time.

Two layers of retry, each for what it is good at:

- inside a step, the HTTP client retries single requests (backoff, ``Retry-After``, circuit
  breaker), so one slow page does not restart a whole walk;
- around a step, Dagster's ``RetryPolicy`` (exponential backoff with jitter) reruns it when the
  client gave up on a transient failure (service down longer than the client's budget, an open
  circuit, a dropped S3 connection). Terminal failures (401/403, other 4xx, malformed replies,
  a ``Retry-After`` longer than the client waits, missing settings) are raised as
  ``Failure(allow_retries=False)``: retrying cannot fix them and would only delay the alert
  (or, for ``Retry-After``, be refused again and count against the rate limit).

The ``http_requests`` / ``http_retries`` / ``http_wait_s`` metadata add up over every attempt of
the step (see ``attempt_counters.py``); ``step_attempts`` says how many there were.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    Failure,
    Jitter,
    MetadataValue,
    Output,
    PartitionsDefinition,
    RetryPolicy,
    asset,
)

from etl_assets.factory.attempt_counters import add_attempt_counts
from etl_assets.factory.keys import raw_key
from etl_assets.factory.partitions import partitioning
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.remote_errors import is_transient_storage_error
from etl_assets.lib.resources.http import HttpClientResource
from etl_assets.lib.sources.errors import SourceError
from etl_assets.lib.sources.http import TerminalHttpError, read_http_source
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.telemetry import record_rows, traced_step

#: Step-level retries for assets that call the network: 3 more tries after 5 s, 10 s, 20 s (+-jitter).
NETWORK_RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

#: Exceptions no retry can fix.
TERMINAL_ERRORS: tuple[type[BaseException], ...] = (TerminalHttpError, SourceError, PermissionError)


@contextmanager
def classified_errors(what: str) -> Iterator[None]:
    """Terminal errors become ``Failure(allow_retries=False)``; everything else propagates as is
    (and the step's ``RetryPolicy`` retries it)."""
    try:
        yield
    except TERMINAL_ERRORS as error:
        if is_transient_storage_error(error):
            raise  # a source file that S3 failed to deliver (timeout, 503): worth a retry
        metadata: dict[str, Any] = {"error_kind": "terminal", "error_type": type(error).__name__}
        status = getattr(error, "status", None)
        if status is not None:
            metadata["http_status"] = status
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after is not None:
            metadata["retry_after_s"] = retry_after
        raise Failure(
            description=f"{what}: {error} (terminal: not retried)",
            metadata=metadata,
            allow_retries=False,
        ) from error


def build_http_raw_asset(
    spec: PipelineSpec,
    name: str,
    partitions_def: PartitionsDefinition | None,
    retry_policy: RetryPolicy | None = NETWORK_RETRY_POLICY,
) -> AssetsDefinition:
    source = spec.sources[name]
    assert source.http is not None
    storage = spec.storage_for(source)

    @asset(
        key=raw_key(spec.pipeline, name),
        group_name=spec.pipeline,
        description=source.description or f"JSON API {source.http.url!r}, every page, flattened.",
        io_manager_key=IO_MANAGER_KEYS[storage],
        kinds={"pandas", storage, "http"},
        metadata={"source_url": source.http.url, "source_format": "http"},
        retry_policy=retry_policy,
        **partitioning(source.partitioned, partitions_def),
    )
    @traced_step(spec.pipeline, "raw", raw_key(spec.pipeline, name))
    def http_raw_asset(
        context: AssetExecutionContext, http_client: HttpClientResource
    ) -> Output[pd.DataFrame]:
        started = time.perf_counter()
        client = http_client.get_client().configured(fresh_stats=True)
        client.log = context.log
        keys = list(context.partition_keys) if source.partitioned else None
        try:
            with classified_errors(f"source {name!r}"):
                frame = read_http_source(source, client, name=name, partition_keys=keys)
        finally:  # failed attempts count too: the totals cover every attempt of the step
            totals = add_attempt_counts(context, "http", client.stats.as_metadata())
        elapsed = max(time.perf_counter() - started, 1e-9)
        record_rows(rows_in=len(frame), rows_out=len(frame))
        return Output(
            frame,
            metadata={
                **totals,
                "step_attempts": context.retry_number + 1,
                "pages_read": int(frame["_source_file"].nunique()) if len(frame) else 0,
                "duration_s": MetadataValue.float(round(elapsed, 4)),
                "rows_per_s": MetadataValue.float(round(len(frame) / elapsed, 1)),
            },
        )

    return http_raw_asset
