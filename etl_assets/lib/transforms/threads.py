"""A small thread pool for the per-column work of cleaning.

Cleaning is a dozen independent column jobs (parse, filter, convert to pandas), each a few Arrow
kernels or numpy passes over a whole column. Those release the GIL, so two threads run two
columns on two cores; a single column's kernels mostly run on one core, so without this the clean
step used one core of two. Results are always consumed in column order, so the output (columns,
rejected rows, reasons, their order) does not depend on the thread count or on which job ends
first; ``threads=1`` runs everything in the calling thread, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

import pyarrow as pa

T = TypeVar("T")
R = TypeVar("R")

#: More threads than this gain nothing on a dozen columns of unequal cost (the longest one sets
#: the pace) and take cores from other steps.
MAX_THREADS = 4


def default_threads() -> int:
    """Arrow's CPU count (which follows ``OMP_NUM_THREADS`` and ``pyarrow.set_cpu_count``, so
    one setting limits both Arrow's own pool and this one), at most :data:`MAX_THREADS`."""
    return max(1, min(MAX_THREADS, pa.cpu_count()))


def _results(futures: list[Future[R] | None]) -> Iterator[R]:
    for future in futures:
        assert future is not None
        yield future.result()


class ColumnJobs:
    """Runs column jobs in ``threads`` threads (in the caller when 1); use as a context manager.

    :meth:`map` yields results in input order and raises a job's exception where its result
    would have been, so a caller iterating it sees errors in the order the serial loop would.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = default_threads() if threads is None else max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ColumnJobs:
        if self.threads > 1:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="etl_assets_clean")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(
        self, function: Callable[[T], R], items: Iterable[T], cost: Callable[[T], float] | None = None
    ) -> Iterator[R]:
        """``function`` of each item, in input order. With ``cost`` (a guess of each job's
        length), the dearest jobs start first, so no thread is left alone with a long column at
        the end; the order of the results does not change."""
        if self._pool is None:
            return (function(item) for item in items)
        listed = list(items)
        if cost is None:
            return self._pool.map(function, listed)
        order = sorted(range(len(listed)), key=lambda i: -cost(listed[i]))  # stable: ties in input order
        futures: list[Future[R] | None] = [None] * len(listed)
        for i in order:
            futures[i] = self._pool.submit(function, listed[i])
        return _results(futures)

    def submit(self, function: Callable[[], R]) -> Future[R]:
        """``function`` started now (in the pool) or run now (serial), as a future."""
        if self._pool is not None:
            return self._pool.submit(function)
        done: Future[R] = Future()
        try:
            done.set_result(function())
        except Exception as error:  # handed to the caller through the future, as the pool would
            done.set_exception(error)
        return done
