"""Exclusive wall-time accounting by category, for splitting a benchmark run (not a test).

``ExclusiveTimers.wrap(owner, attribute, category)`` replaces a function or method with one that
adds its wall time to ``category`` minus the time of wrapped calls nested inside it, so the
categories never count a second twice and ``total - sum(categories)`` is what no category
claims. A cheaper and steadier split than cProfile, whose per-call overhead inflates code that
makes many small calls (Dagster's serialisation) against code that makes few large ones.
"""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

#: A category, or a function of the categories of the enclosing wrapped calls giving one.
Category = str | Callable[[tuple[str, ...]], str]


class ExclusiveTimers:
    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._stack: list[list[Any]] = []  # [category, seconds of wrapped calls nested inside]

    def wrap(self, owner: Any, attribute: str, category: Category) -> None:
        original = getattr(owner, attribute)
        timers = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            enclosing = tuple(frame[0] for frame in timers._stack)
            name = category(enclosing) if callable(category) else category
            timers._stack.append([name, 0.0])
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                _, nested = timers._stack.pop()
                timers.seconds[name] += elapsed - nested
                timers.calls[name] += 1
                if timers._stack:
                    timers._stack[-1][1] += elapsed

        setattr(owner, attribute, timed)
