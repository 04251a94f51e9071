"""Retry timing (exponential backoff with jitter, ``Retry-After``) and a circuit breaker.

Backoff: attempt ``n`` (1-based) waits ``min(max_s, base_s * 2**(n-1))`` scaled by a random
factor in [0.5, 1] ("equal jitter": never zero, so retries of many clients spread out). A
``Retry-After`` header (seconds or an HTTP date) replaces the computed delay; one asking for
longer than ``max_retry_after_s`` is not waited for, the request fails as transient instead.

Circuit breaker: after ``failure_threshold`` consecutive transient failures against a host the
circuit opens, and for ``reset_after_s`` every request fails at once with
:class:`CircuitOpenError` without touching the network. Its message names the request that
failed last (the page or cursor included) and why, not only the request it refused. Then one trial request is let through
(half-open): success closes the circuit, failure opens it again.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from etl_assets.lib.sources.http.errors import CircuitOpenError

#: Status codes worth retrying: rate limited, and the server-side failures that pass.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    jitter: bool = True

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        if self.jitter:
            delay *= 0.5 + 0.5 * (rng or random).random()
        return delay


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._last_failure: tuple[str, str] | None = None  # (request, reason) that failed last
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_after_s:
            return "half-open"
        return "open"

    def before_request(self, target: str) -> None:
        """Raise :class:`CircuitOpenError` unless a request may go out now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            remaining = self.reset_after_s - (self._clock() - (self._opened_at or 0.0))
            failed, reason = self._last_failure or ("(unknown)", "(unknown)")
            raise CircuitOpenError(
                f"circuit open after {self._failures} consecutive failures of this host, the "
                f"last {failed}: {reason}; {target} not sent, no request to the host for "
                f"{max(remaining, 0):.1f}s",
                url=failed,
            )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self, target: str = "(unknown)", reason: str = "(unknown)") -> None:
        """Count a transient failure of ``target`` (the request, page or cursor included)."""
        with self._lock:
            self._failures += 1
            self._last_failure = (target, reason)
            half_open_failed = self._trial_in_flight
            self._trial_in_flight = False
            if half_open_failed or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
