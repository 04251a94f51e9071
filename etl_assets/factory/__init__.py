"""Spec -> Dagster definitions: assets, checks, jobs, schedules and sensors.

A thin factory over :mod:`etl_assets.lib`: everything generated here is an ordinary Dagster
object calling the same library functions a hand-written asset would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dagster import AssetsDefinition, Definitions

from etl_assets.factory.assets import build_aggregate_asset, build_clean_asset, build_raw_asset
from etl_assets.factory.automation import (
    build_landing_sensor,
    build_pipeline_job,
    build_schedule,
    pipeline_job_name,
)
from etl_assets.factory.partitions import partitions_definition
from etl_assets.lib.io import IO_MANAGER_KEYS, io_manager_for
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.resources.embedding import EmbeddingModel
from etl_assets.lib.spec import PipelineSpec, load_specs

__all__ = ["build_definitions", "build_pipeline_definitions", "definitions_from_folder", "pipeline_job_name"]


def build_pipeline_definitions(spec: PipelineSpec) -> Definitions:
    """Assets, checks, job, schedule and sensors of one pipeline (resources not included)."""
    partitions_def = partitions_definition(spec.partitions) if spec.partitions is not None else None
    assets: list[AssetsDefinition] = [build_raw_asset(spec, name, partitions_def) for name in spec.sources]
    assets += [build_clean_asset(spec, name, partitions_def) for name in spec.clean]
    assets += [build_aggregate_asset(spec, name, partitions_def) for name in spec.aggregates]
    job = build_pipeline_job(spec, partitions_def)
    schedule = build_schedule(spec, job, partitions_def)
    sensors = [build_landing_sensor(spec, name, partitions_def) for name, src in spec.sources.items() if src.sensor]
    return Definitions(
        assets=assets,
        jobs=[job],
        schedules=[schedule] if schedule is not None else [],
        sensors=sensors,
    )


def build_resources(data_root: str | Path, output_root: str | Path | None = None) -> dict[str, object]:
    """Resources every generated asset needs: where sources are read and where tables are stored."""
    storage = str(output_root if output_root is not None else Path(data_root) / "warehouse")
    resources: dict[str, object] = {"source_files": SourceFiles(root=str(data_root)), "embedding_model": EmbeddingModel()}
    for fmt, key in IO_MANAGER_KEYS.items():
        resources[key] = io_manager_for(fmt, storage)
    return resources


def build_definitions(specs: Iterable[PipelineSpec], data_root: str | Path, output_root: str | Path | None = None) -> Definitions:
    per_pipeline = [build_pipeline_definitions(spec) for spec in specs]
    return Definitions.merge(*per_pipeline, Definitions(resources=build_resources(data_root, output_root)))


def definitions_from_folder(pipelines: str | Path, data_root: str | Path, output_root: str | Path | None = None) -> Definitions:
    return build_definitions(load_specs([pipelines]), data_root, output_root)
