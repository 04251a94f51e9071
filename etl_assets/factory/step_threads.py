"""How many threads one step may use: its share of the CPUs its process can run on.

Threaded libraries (DuckDB in the aggregate step, the clean step's column pool) each default to
every CPU of the machine; steps that run side by side would then oversubscribe the cores and
each would run slower than on its share.
"""

import os

from etl_assets.lib.spec import PipelineSpec


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def step_threads(spec: PipelineSpec) -> int:
    """The step's share of the CPUs it may run on: all of them in a single-process run, a
    ``1/max_concurrent`` share (one CPU by default) when steps run side by side."""
    cpus = available_cpus()
    executor = spec.executor
    if executor.type == "in_process":
        return cpus
    return max(1, cpus // (executor.max_concurrent or cpus))
