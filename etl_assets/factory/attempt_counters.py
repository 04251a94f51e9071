"""Counters of a step (HTTP requests sent, retries, seconds waited) that add up over its attempts.

When Dagster's ``RetryPolicy`` reruns a step, the new attempt starts with fresh Python objects
(often in a new process), so metadata counted in memory would cover the last attempt only:
a run that sent 14 requests would record 7. Each attempt therefore adds its counts to a total
kept in the instance's key-value store (``run_storage.get_cursor_values`` /
``set_cursor_values``, the store Dagster's daemons keep their cursors in), keyed by run id,
op (its node handle: one step per op) and counter set. The instance is what every executor shares (in-process, multiprocess,
Celery or Kubernetes workers), and attempts of one step never run at the same time, so a
read-add-write is safe. A new run (or a re-execution, which has its own run id) starts at zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from dagster import AssetExecutionContext

_PREFIX = "etl_assets/attempt_counters"


def _key(context: AssetExecutionContext, name: str) -> str:
    return f"{_PREFIX}/{context.run.run_id}/{context.op_execution_context.node_handle}/{name}"


def add_attempt_counts(
    context: AssetExecutionContext, name: str, counts: Mapping[str, int | float]
) -> dict[str, int | float]:
    """This attempt's ``counts`` added to those of the step's earlier attempts; the totals are
    stored for a later attempt and returned (first attempt: ``counts`` themselves)."""
    key = _key(context, name)
    storage = context.instance.run_storage
    earlier: dict[str, int | float] = {}
    if context.retry_number > 0:
        stored = storage.get_cursor_values({key}).get(key)
        earlier = json.loads(stored) if stored else {}
    totals = {
        counter: _rounded(earlier.get(counter, 0) + value) for counter, value in counts.items()
    }
    storage.set_cursor_values({key: json.dumps(totals)})
    return totals


def _rounded(value: int | float) -> int | float:
    return value if isinstance(value, int) else round(value, 3)


__all__ = ["add_attempt_counts"]
