"""What a span needs to know from Dagster's contexts: step identity, asset key, partitions.

Plain attribute reads on the context objects (no OpenTelemetry import). Every read tolerates a
context built outside a run (``build_output_context`` in a unit test, a manager called directly
from an asset body): the span is then simply not attached to a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from etl_assets.lib.telemetry.names import PARTITION_COUNT, PARTITION_KEY, PARTITION_RANGE

#: Marks a compute function wrapped by :func:`etl_assets.lib.telemetry.traced_step`; the value
#: is its step span's attributes (pipeline, layer, asset key).
TRACED_MARK = "__etl_assets_traced__"

StepIdentity = tuple[str, str]  # (run id, step key)


def step_of_body(context: Any) -> StepIdentity | None:
    """The (run id, step key) of an asset or op execution context."""
    try:
        step = context.get_step_execution_context()
        return str(step.run_id), str(step.step.key)
    except Exception:  # direct invocation, no step
        return None


def step_of_io(context: Any) -> StepIdentity | None:
    """The (run id, step key) of an ``InputContext`` / ``OutputContext`` inside a run."""
    try:
        step = context.step_context
        return str(step.run_id), str(step.step.key)
    except Exception:  # built by build_input_context / build_output_context
        return None


def traced_step_attributes(context: Any) -> dict[str, Any] | None:
    """The step span attributes of an IO context's step when its compute function opens a
    step span (so a step span opened by its input loads is closed by that function)."""
    try:
        compute = context.step_context.op_def.compute_fn
        marked = getattr(getattr(compute, "decorated_fn", None), TRACED_MARK, None)
    except Exception:
        return None
    return dict(marked) if isinstance(marked, dict) else None


def asset_key_of(context: Any) -> str | None:
    try:
        return context.asset_key.to_user_string() if context.has_asset_key else None
    except Exception:
        return None


def partition_attributes(keys: Sequence[str]) -> dict[str, Any]:
    """One key as ``partition.key``; several as ``partition.range`` (first..last) and a count."""
    keys = [str(k) for k in keys]
    if not keys:
        return {}
    if len(keys) == 1:
        return {PARTITION_KEY: keys[0], PARTITION_COUNT: 1}
    return {PARTITION_RANGE: f"{keys[0]}..{keys[-1]}", PARTITION_COUNT: len(keys)}


def body_partitions(context: Any) -> dict[str, Any]:
    """Partition attributes of an asset execution context (none when unpartitioned)."""
    try:
        if not (context.has_partition_key or context.has_partition_key_range):
            return {}
        return partition_attributes(list(context.partition_keys))
    except Exception:
        return {}


def io_partitions(context: Any) -> dict[str, Any]:
    """Partition attributes of an IO context: the partitions written or loaded."""
    try:
        if not context.has_asset_partitions:
            return {}
        return partition_attributes(list(context.asset_partition_keys))
    except Exception:
        return {}
