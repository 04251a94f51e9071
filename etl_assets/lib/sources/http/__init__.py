"""JSON APIs as sources, and the HTTP machinery the loader shares.

Modules, one responsibility each:

- ``errors``: transient vs terminal failures (what a retry can fix);
- ``ratelimit``: a token bucket;
- ``retry``: backoff with jitter, ``Retry-After``, the circuit breaker;
- ``client``: :class:`HttpClient`, which applies them to every request;
- ``pagination``: page number, offset, cursor and ``Link`` header walks;
- ``flatten``: records at a path -> one table with storable columns;
- ``source``: :func:`read_http_source` for ``format: http`` specs;
The loader that POSTs rows in batches (same client) is :mod:`etl_assets.lib.exports.http`.
"""

from etl_assets.lib.sources.http.client import ClientSettings, ClientStats, HttpClient
from etl_assets.lib.sources.http.errors import (
    CircuitOpenError,
    HttpError,
    MalformedResponseError,
    RetryAfterTooLongError,
    TerminalHttpError,
    TransientHttpError,
)
from etl_assets.lib.sources.http.flatten import records_at, records_to_table
from etl_assets.lib.sources.http.pagination import Page, iter_pages
from etl_assets.lib.sources.http.ratelimit import TokenBucket
from etl_assets.lib.sources.http.retry import CircuitBreaker, RetrySettings, parse_retry_after
from etl_assets.lib.sources.http.source import read_http_source

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "ClientSettings",
    "ClientStats",
    "HttpClient",
    "HttpError",
    "MalformedResponseError",
    "Page",
    "RetryAfterTooLongError",
    "RetrySettings",
    "TerminalHttpError",
    "TokenBucket",
    "TransientHttpError",
    "iter_pages",
    "parse_retry_after",
    "read_http_source",
    "records_at",
    "records_to_table",
]
