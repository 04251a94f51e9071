"""Materialize every asset of a pipeline into a persistent Dagster instance.

Partitioned pipelines run a partition range (the demo: the whole range) as ONE run (single-run
backfill), the same run the UI launches for "Materialize all" over a range. Used by
``etl-assets demo`` (every pipeline, every partition) and ``etl-assets run`` (one pipeline,
``--from``/``--to``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetCheckSeverity, DagsterInstance, Definitions
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions, pipeline_job_name
from etl_assets.factory.partitions import partitions_definition
from etl_assets.lib.spec import PipelineSpec


@dataclass
class PipelineRun:
    pipeline: str
    run_id: str
    success: bool
    seconds: float
    partitions: str
    materializations: int
    checks_passed: int
    checks_failed: list[str] = field(default_factory=list)
    #: Failed checks of WARN severity (e.g. orphan references in the real data): reported, not fatal.
    checks_warned: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)


def prepare_instance_home(dagster_home: Path, instance_yaml: Path) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is the project's (linked, so there is one source of truth)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if target.is_symlink() or target.exists():
        if target.resolve() == instance_yaml.resolve():
            return dagster_home
        target.unlink()
    target.symlink_to(instance_yaml.resolve())
    return dagster_home


class PartitionRangeError(ValueError):
    """A requested range that is not within the pipeline's partitions."""


def partition_range_tags(
    spec: PipelineSpec, first: str | None = None, last: str | None = None
) -> tuple[dict[str, str], str]:
    """Run tags of a single-run range ``first``...``last`` (default: all partitions) and its label."""
    if spec.partitions is None:
        if first is not None or last is not None:
            raise PartitionRangeError(f"pipeline {spec.pipeline!r} is not partitioned: run it without --from/--to")
        return {}, "-"
    keys = partitions_definition(spec.partitions).get_partition_keys()
    if not keys:
        raise PartitionRangeError(f"pipeline {spec.pipeline!r} has no complete partition yet")
    span = f"{spec.partitions.type} partitions {keys[0]}...{keys[-1]}"
    for label, key in (("--from", first), ("--to", last)):
        if key is not None and key not in keys:
            raise PartitionRangeError(f"{label} {key}: not a partition of pipeline {spec.pipeline!r} ({span})")
    start = keys.index(first) if first is not None else 0
    end = keys.index(last) if last is not None else len(keys) - 1
    if start > end:
        raise PartitionRangeError(f"--from {keys[start]} is after --to {keys[end]}")
    return (
        {ASSET_PARTITION_RANGE_START_TAG: keys[start], ASSET_PARTITION_RANGE_END_TAG: keys[end]},
        f"{keys[start]}...{keys[end]} ({end - start + 1})",
    )


def run_pipeline(
    defs: Definitions,
    spec: PipelineSpec,
    instance: DagsterInstance,
    first: str | None = None,
    last: str | None = None,
) -> PipelineRun:
    """One run of the pipeline's job over partitions ``first``...``last`` (default: all)."""
    job = defs.resolve_job_def(pipeline_job_name(spec))
    tags, described = partition_range_tags(spec, first, last)
    started = time.perf_counter()
    # Step-level DEBUG events still reach the instance (and the UI); the terminal shows warnings.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(run_config=quiet, instance=instance, tags=tags, raise_on_error=False)
    elapsed = time.perf_counter() - started
    run = PipelineRun(
        pipeline=spec.pipeline,
        run_id=result.run_id,
        success=result.success,
        seconds=elapsed,
        partitions=described,
        materializations=0,
        checks_passed=0,
    )
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        run.materializations += 1
        count = materialization.metadata.get("dagster/row_count")
        if count is not None:
            # A single-run backfill emits one event per partition, each with its own row count.
            key = materialization.asset_key.to_user_string()
            run.row_counts[key] = run.row_counts.get(key, 0) + int(count.value)  # type: ignore[arg-type]
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            run.checks_passed += 1
        elif evaluation.severity == AssetCheckSeverity.WARN:
            run.checks_warned.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}: {evaluation.description}")
        else:
            run.checks_failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return run


def run_all(specs: list[PipelineSpec], data_root: Path, warehouse: Path, dagster_home: Path, instance_yaml: Path) -> list[PipelineRun]:
    prepare_instance_home(dagster_home, instance_yaml)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    defs = build_definitions(specs, data_root, warehouse)
    with DagsterInstance.get() as instance:
        return [run_pipeline(defs, spec, instance) for spec in specs]
