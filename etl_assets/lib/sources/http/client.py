"""An HTTP client for JSON APIs that retries what is worth retrying and nothing else.

Every request goes through, in order: the circuit breaker of its host (fail fast while the
service is known dead), the token bucket (rate limit), the request with a timeout, and the
classification of the outcome:

- 2xx/3xx: success (the breaker closes);
- 429, 408, 425, 5xx, timeouts, refused or dropped connections: transient. Retried with
  exponential backoff and jitter, or after ``Retry-After`` when the server says so, up to
  ``max_attempts`` in all; then :class:`TransientHttpError`. Each counts as a failure for the
  breaker;
- any other 4xx (401/403 included): :class:`TerminalHttpError` at once, no retry;
- a ``Retry-After`` longer than ``max_retry_after_s``: :class:`RetryAfterTooLongError` (terminal:
  neither the client nor a step retry waits that long).

The requests library's session does the connection pooling; ``sleep`` and ``rng`` are
injectable so tests run fast and deterministic. Nothing here logs or raises request headers.
Credential headers (``auth=``) go only where the caller sends them and never follow a redirect
to another origin.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from etl_assets.lib.sources.http.errors import (
    MalformedResponseError,
    RetryAfterTooLongError,
    TerminalHttpError,
    TransientHttpError,
)
from etl_assets.lib.sources.http.ratelimit import TokenBucket
from etl_assets.lib.sources.http.retry import (
    RETRY_STATUSES,
    CircuitBreaker,
    RetrySettings,
    parse_retry_after,
)

_LOG = logging.getLogger(__name__)
_SNIPPET = 200
TRANSIENT_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class ClientSettings:
    timeout_s: float = 30.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    #: Requests per second (token bucket); None: no limit.
    rate_per_s: float | None = None
    burst: int = 1
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    user_agent: str = "etl-assets"


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    waited_s: float = 0.0

    def as_metadata(self) -> dict[str, float | int]:
        return {
            "http_requests": self.requests,
            "http_retries": self.retries,
            "http_wait_s": round(self.waited_s, 3),
        }


def same_origin(url: str, other: str) -> bool:
    """Same scheme, host and port (a missing port is the scheme's default): where a token
    configured for ``url`` may be sent."""
    a, b = urlsplit(url), urlsplit(other)
    default = {"http": 80, "https": 443}
    return (a.scheme.lower(), a.hostname, a.port or default.get(a.scheme.lower())) == (
        b.scheme.lower(),
        b.hostname,
        b.port or default.get(b.scheme.lower()),
    )


class CredentialSafeSession(requests.Session):
    """A session that drops every credential header, not only ``Authorization``, when a
    redirect leaves the origin (another host, port or scheme).

    requests strips ``Authorization`` alone on such a redirect, so an API-key header
    (``X-Api-Key``) would reach the third-party host. The client registers the names of the
    headers it sends as credentials (``HttpClient.request(..., auth=...)``) in
    ``credential_headers``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.credential_headers: set[str] = set()

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)
        previous = response.request.url or ""
        if not same_origin(previous, prepared_request.url or ""):
            for name in list(prepared_request.headers):
                if name.lower() in self.credential_headers:
                    del prepared_request.headers[name]


def shown_url(url: str, params: Mapping[str, Any] | None) -> str:
    """The URL as sent (query included), for messages and lineage (encoded as requests does)."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(list(params.items()), doseq=True)


class HttpClient:
    """Retries, rate limit and circuit breaking around one ``requests.Session``."""

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        session: CredentialSafeSession | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        log: logging.Logger | Any | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
        stats: ClientStats | None = None,
    ):
        self.settings = settings or ClientSettings()
        self.session = session or CredentialSafeSession()
        self.session.headers["User-Agent"] = self.settings.user_agent
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.log = log or _LOG
        self.bucket = (
            TokenBucket(self.settings.rate_per_s, self.settings.burst, sleep=sleep)
            if self.settings.rate_per_s
            else None
        )
        self._breakers = breakers if breakers is not None else {}
        self._breakers_lock = threading.Lock()
        self.stats = stats if stats is not None else ClientStats()

    def configured(self, *, fresh_stats: bool = False, **changes: Any) -> HttpClient:
        """A client with some settings changed that shares this one's session and breakers
        (and its counters, unless ``fresh_stats``)."""
        return HttpClient(
            replace(self.settings, **changes),
            session=self.session,
            sleep=self._sleep,
            rng=self._rng,
            log=self.log,
            breakers=self._breakers,
            stats=ClientStats() if fresh_stats else self.stats,
        )

    def breaker(self, url: str) -> CircuitBreaker:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        with self._breakers_lock:
            if host not in self._breakers:
                self._breakers[host] = CircuitBreaker(
                    self.settings.breaker_threshold, self.settings.breaker_reset_s
                )
            return self._breakers[host]

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        auth: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The response of the first attempt that is not a transient failure (see module doc).

        ``auth``: credential headers for ``url``'s origin; sent like ``headers``, but stripped
        from any redirect to another origin (see :class:`CredentialSafeSession`). The caller
        passes them only for requests to the origin the token was configured for.
        """
        shown = f"{method} {shown_url(url, params)}"
        send_headers = {**(headers or {}), **(auth or {})}
        if auth:
            self.session.credential_headers.update(name.lower() for name in auth)
        breaker = self.breaker(url)
        retry = self.settings.retry
        attempt = 0
        while True:
            attempt += 1
            breaker.before_request(shown)
            if self.bucket is not None:
                self.stats.waited_s += self.bucket.acquire()
            self.stats.requests += 1
            retry_after: float | None = None
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=send_headers,
                    data=data,
                    timeout=self.settings.timeout_s,
                )
            except TRANSIENT_EXCEPTIONS as error:
                reason = _describe(error, self.settings.timeout_s)
                breaker.record_failure(shown, reason)
            else:
                status = response.status_code
                if status < 400:
                    breaker.record_success()
                    return response
                if status not in RETRY_STATUSES:
                    breaker.record_success()  # the service answered; the request is wrong
                    raise TerminalHttpError(
                        f"{shown}: HTTP {status} {response.reason or ''}".rstrip()
                        + f" (not retried: {_hint(status)}); reply: {_snippet(response)}",
                        url=shown,
                        status=status,
                        attempts=attempt,
                    )
                reason = f"HTTP {status}"
                breaker.record_failure(shown, reason)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
            if retry_after is not None and retry_after > retry.max_retry_after_s:
                raise RetryAfterTooLongError(
                    f"{shown}: {reason} with Retry-After {retry_after:.0f}s, longer than the "
                    f"{retry.max_retry_after_s:.0f}s this client waits (max_retry_after_s); "
                    f"not retried in this run: run again after {retry_after:.0f}s",
                    url=shown,
                    status=status,
                    attempts=attempt,
                    retry_after_s=retry_after,
                )
            if attempt >= retry.max_attempts:
                raise TransientHttpError(
                    f"{shown}: gave up after {attempt} attempt(s); last: {reason}",
                    url=shown,
                    attempts=attempt,
                )
            delay = retry_after if retry_after is not None else retry.backoff(attempt, self._rng)
            self.log.warning(
                f"{shown}: {reason}; retry {attempt}/{retry.max_attempts - 1} in {delay:.2f}s"
                + (" (Retry-After)" if retry_after is not None else "")
            )
            self.stats.retries += 1
            self.stats.waited_s += delay
            self._sleep(delay)

    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Mapping[str, str] | None = None,
    ) -> tuple[Any, requests.Response]:
        """The parsed JSON body of a GET and the response (for its headers)."""
        response = self.request("GET", url, params=params, headers=headers, auth=auth)
        return parse_json(response, f"GET {shown_url(url, params)}"), response


def parse_json(response: requests.Response, shown: str) -> Any:
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = (
            f" at line {error.lineno} column {error.colno} (char {error.pos})"
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        raise MalformedResponseError(
            f"{shown}: reply is not valid JSON{where}: {getattr(error, 'msg', error)}; "
            f"it starts with {_snippet(response)}",
            url=shown,
            status=response.status_code,
        ) from None


def _describe(error: Exception, timeout_s: float) -> str:
    if isinstance(error, requests.Timeout):
        return f"no reply within {timeout_s:g}s ({type(error).__name__})"
    return f"connection failed ({type(error).__name__}: {root_cause(error)})"


def root_cause(error: BaseException) -> str:
    """The innermost reason of a connection failure (``ConnectionRefusedError: Connection
    refused``), built from exception types and OS error strings only.

    Never the exceptions' own text: urllib3 embeds the request path in it (``...with url:
    /services/T000/B000/<token>``), and webhook or API paths can carry secrets.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    innermost = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        innermost = current
        if isinstance(current, OSError) and current.strerror:
            return f"{type(current).__name__}: {current.strerror}"
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
        elif current.args and isinstance(current.args[-1], BaseException):
            current = current.args[-1]
        else:
            current = current.__cause__ or current.__context__
    return type(innermost).__name__


def _hint(status: int) -> str:
    if status in (401, 403):
        return "check the token (auth.token_env) and its permissions"
    if status == 404:
        return "the URL or the page does not exist"
    return "the request is refused as sent"


def _snippet(response: requests.Response) -> str:
    try:
        text = response.content[:_SNIPPET].decode("utf-8", errors="replace")
    except requests.RequestException:
        return "(unreadable)"
    return repr(text) + ("..." if len(response.content) > _SNIPPET else "")
