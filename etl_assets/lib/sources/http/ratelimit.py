"""A token bucket: at most ``rate`` requests per second on average, bursts up to ``capacity``.

Shared by every request a client makes (pages of a source, batches of a loader), and safe to
share between threads. ``clock`` and ``sleep`` are injectable so tests can check the schedule
exactly without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        capacity: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent waiting, for metadata

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the time waited."""
        with self._lock:
            self._refill(self._clock())
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            # Reserve the token now, so concurrent callers queue behind this one.
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)
            self.waited_s += wait
        return wait
