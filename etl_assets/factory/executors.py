"""The executor of a pipeline's job, from the spec's ``executor`` block.

Dagster's own default executor (``multi_or_in_process_executor``) with the spec's choice as its
default config: a deployment switches either way by run config exactly as for any Dagster job
(``execution: {config: {multiprocess: {max_concurrent: 4}}}`` or ``{in_process: {}}``), while a
run launched without such config (a schedule tick, a sensor, the UI's "Materialize") uses the
spec's choice. Dagster's default would be a process per step: for the small steps of most
pipelines that is where the time goes (each process imports pandas, pyarrow and the project).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import ExecutorDefinition, Field, Selector, multi_or_in_process_executor
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    ExecutorRequirement,
    multiple_process_executor_requirements,
)

from etl_assets.lib.spec.models import ExecutorSpec


def _requirements(config: Mapping[str, Any]) -> Sequence[ExecutorRequirement]:
    # the same as Dagster's default executor: a persistent instance only for multiprocess
    return multiple_process_executor_requirements() if "multiprocess" in config else []


def default_executor_config(spec: ExecutorSpec) -> dict[str, Any]:
    """The executor config a run gets when its run config names none."""
    if spec.type == "multiprocess":
        return {
            "multiprocess": {"max_concurrent": spec.max_concurrent} if spec.max_concurrent else {}
        }
    return {"in_process": {}}


def executor_for(spec: ExecutorSpec) -> ExecutorDefinition:
    """Dagster's in-process/multiprocess executor defaulting to the spec's choice."""
    return ExecutorDefinition(
        name=multi_or_in_process_executor.name,
        config_schema=Field(
            Selector({"multiprocess": MULTI_PROC_CONFIG, "in_process": IN_PROC_CONFIG}),
            default_value=default_executor_config(spec),
        ),
        requirements=_requirements,
        executor_creation_fn=multi_or_in_process_executor.executor_creation_fn,
        description=f"Steps run {spec.type.replace('_', '-')} by default (pipeline spec); run config can switch.",
    )
