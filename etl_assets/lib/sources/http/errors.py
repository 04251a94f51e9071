"""What can go wrong talking to an HTTP API, split by what a caller should do about it.

- :class:`TransientHttpError`: worth trying again later (429, 5xx, timeouts, dropped
  connections, an open circuit). The client already retried within its budget; a Dagster run
  may retry the step (``RetryPolicy``).
- :class:`TerminalHttpError`: trying again cannot help (401/403, other 4xx, malformed JSON, bad
  configuration), or not within this run: :class:`RetryAfterTooLongError`, a ``Retry-After``
  longer than the client waits. Steps fail at once with ``Failure(allow_retries=False)``.

Messages name the method, URL (query included) and status, never request headers: the auth
token travels in a header and must not reach a log.
"""

from __future__ import annotations

from typing import Any


class HttpError(RuntimeError):
    """An HTTP request that did not give a usable reply."""

    def __init__(self, message: str, *, url: str, status: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts

    def fields(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this error with another message."""
        return {"url": self.url, "status": self.status, "attempts": self.attempts}


class TransientHttpError(HttpError):
    """The service may answer later: rate limited, overloaded, down or slow."""


class TerminalHttpError(HttpError):
    """The request itself is wrong (auth, missing resource, bad reply); retrying cannot help."""


class RetryAfterTooLongError(TerminalHttpError):
    """The server asks to wait (``Retry-After``) longer than the client's limit.

    Terminal for this run: a step retry seconds later would only be refused again (and count
    against the service's rate limit); the next scheduled run, or a manual one after
    ``retry_after_s``, can succeed.
    """

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int, retry_after_s: float):
        super().__init__(message, url=url, status=status, attempts=attempts)
        self.retry_after_s = retry_after_s

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "retry_after_s": self.retry_after_s}


class CircuitOpenError(TransientHttpError):
    """Requests to this host are paused after repeated failures (the circuit breaker is open)."""


class MalformedResponseError(TerminalHttpError):
    """The reply is not the JSON the source expects (not JSON, or records not where declared)."""
