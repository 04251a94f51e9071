"""What can go wrong talking to an HTTP API, split by what a caller should do about it.

- :class:`TransientHttpError`: worth trying again later (429, 5xx, timeouts, dropped
  connections, an open circuit). The client already retried within its budget; a Dagster run
  may retry the step (``RetryPolicy``).
- :class:`TerminalHttpError`: trying again cannot help (401/403, other 4xx, malformed JSON, bad
  configuration). Steps fail at once with ``Failure(allow_retries=False)``.

Messages name the method, URL (query included) and status, never request headers: the auth
token travels in a header and must not reach a log.
"""

from __future__ import annotations


class HttpError(RuntimeError):
    """An HTTP request that did not give a usable reply."""

    def __init__(self, message: str, *, url: str, status: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class TransientHttpError(HttpError):
    """The service may answer later: rate limited, overloaded, down or slow."""


class TerminalHttpError(HttpError):
    """The request itself is wrong (auth, missing resource, bad reply); retrying cannot help."""


class CircuitOpenError(TransientHttpError):
    """Requests to this host are paused after repeated failures (the circuit breaker is open)."""


class MalformedResponseError(TerminalHttpError):
    """The reply is not the JSON the source expects (not JSON, or records not where declared)."""
