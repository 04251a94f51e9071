"""Spec -> Dagster definitions: assets, checks, jobs, schedules and sensors.

A thin factory over :mod:`etl_assets.lib`: everything generated here is an ordinary Dagster
object calling the same library functions a hand-written asset would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dagster import AssetsDefinition, Definitions, PartitionsDefinition, RetryPolicy

from etl_assets.factory.assets import build_aggregate_asset, build_clean_asset, build_raw_asset
from etl_assets.factory.automation import (
    build_landing_sensor,
    build_pipeline_job,
    build_schedule,
    pipeline_job_name,
)
from etl_assets.factory.executors import ScaleOutError, executor_for
from etl_assets.factory.exports import build_export_asset
from etl_assets.factory.network import NETWORK_RETRY_POLICY, build_http_raw_asset
from etl_assets.factory.partitions import (
    partitions_definition,
    single_run_backfill_accepted,
    with_backfill_policy,
)
from etl_assets.factory.postgres_source import POSTGRES_RESOURCE_KEY, build_postgres_raw_asset
from etl_assets.factory.run_retries import with_run_retry_hooks
from etl_assets.lib.io import IO_MANAGER_KEYS, io_manager_for
from etl_assets.lib.io.managers import IO_MANAGER_CLASSES
from etl_assets.lib.resources import S3Config, SourceFiles
from etl_assets.lib.resources.embedding import EmbeddingModel
from etl_assets.lib.resources.http import HttpClientResource
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec import PipelineSpec, load_specs
from etl_assets.lib.spec.models import ExecutorSpec

__all__ = ["build_definitions", "build_pipeline_definitions", "definitions_from_folder", "pipeline_job_name"]


def _pipeline_assets(
    spec: PipelineSpec, partitions_def: PartitionsDefinition | None, network_retry: RetryPolicy | None
) -> list[AssetsDefinition]:
    assets: list[AssetsDefinition] = [
        build_http_raw_asset(spec, name, partitions_def, network_retry)
        if src.format == "http"
        else build_postgres_raw_asset(spec, name, partitions_def)
        if src.format == "postgres"
        else build_raw_asset(spec, name, partitions_def)
        for name, src in spec.sources.items()
    ]
    assets += [build_clean_asset(spec, name, partitions_def) for name in spec.clean]
    assets += [build_aggregate_asset(spec, name, partitions_def) for name in spec.aggregates]
    assets += [build_export_asset(spec, name, partitions_def, network_retry) for name in spec.exports]
    return assets


def build_pipeline_definitions(
    spec: PipelineSpec,
    network_retry: RetryPolicy | None = NETWORK_RETRY_POLICY,
    remote_storage: bool = False,
    shared_storage: bool = False,
) -> Definitions:
    """Assets, checks, job, schedule and sensors of one pipeline (resources not included).

    ``network_retry`` is the step retry policy of assets that call the network: http sources
    always, and every step of the pipeline job when ``remote_storage`` (tables or sources on S3)
    or when a source reads an ``s3://`` URL. ``shared_storage``: landing files and tables are on
    storage every machine reaches (S3), which the celery executor requires.
    """
    if spec.executor.type == "celery" and not shared_storage:
        raise ScaleOutError(
            f"pipeline {spec.pipeline}: executor 'celery' runs steps on other machines, which cannot read this "
            "machine's files: set ETL_ASSETS_DATA_ROOT and ETL_ASSETS_WAREHOUSE to s3:// URLs (docs/deploy.md)"
        )
    partitions_def = partitions_definition(spec.partitions) if spec.partitions is not None else None
    with single_run_backfill_accepted():
        assets = _pipeline_assets(spec, partitions_def, network_retry)
        assets = with_run_retry_hooks(with_backfill_policy(assets, spec.partitions))
    remote = remote_storage or any(src.path is not None and "://" in src.path for src in spec.sources.values())
    job = build_pipeline_job(
        spec, partitions_def, op_retry_policy=network_retry if remote else None, shared_storage=shared_storage
    )
    schedule = build_schedule(spec, job, partitions_def)
    sensors = [build_landing_sensor(spec, name, partitions_def) for name, src in spec.sources.items() if src.sensor]
    return Definitions(
        assets=assets,
        jobs=[job],
        schedules=[schedule] if schedule is not None else [],
        sensors=sensors,
    )


def _join(root: str | Path, child: str) -> str:
    text = str(root)
    return f"{text.rstrip('/')}/{child}" if "://" in text else str(Path(root) / child)


def build_resources(
    data_root: str | Path,
    output_root: str | Path | None = None,
    s3: S3Config | None = None,
    postgres: PostgresResource | None = None,
) -> dict[str, object]:
    """Resources every generated asset needs: where sources are read and where tables are stored.

    Either root may be ``s3://bucket/prefix``; ``s3`` holds the endpoint, region and credentials.
    ``postgres`` (optional) adds the ``postgres`` resource and ``postgres_io_manager``.
    """
    storage = str(output_root if output_root is not None else _join(data_root, "warehouse"))
    resources: dict[str, object] = {
        "source_files": SourceFiles(root=str(data_root), s3=s3),
        "http_client": HttpClientResource(),
        "embedding_model": EmbeddingModel(),
    }
    for fmt, key in IO_MANAGER_KEYS.items():
        if fmt in IO_MANAGER_CLASSES:
            resources[key] = io_manager_for(fmt, storage, s3=s3)
    if postgres is not None:
        # psycopg loads only when PostgreSQL is configured
        from etl_assets.lib.io.postgres import PostgresIOManager

        resources[POSTGRES_RESOURCE_KEY] = postgres
        resources[IO_MANAGER_KEYS["postgres"]] = PostgresIOManager(postgres=postgres)
    return resources


def uses_postgres(spec: PipelineSpec) -> bool:
    """Whether any entry of ``spec`` reads from or stores into PostgreSQL."""
    entries = [*spec.sources.values(), *spec.clean.values(), *spec.aggregates.values()]
    return any(spec.storage_for(e) == "postgres" for e in entries) or any(
        s.format == "postgres" for s in spec.sources.values()
    )


def build_definitions(
    specs: Iterable[PipelineSpec],
    data_root: str | Path,
    output_root: str | Path | None = None,
    s3: S3Config | None = None,
    network_retry: RetryPolicy | None = NETWORK_RETRY_POLICY,
    postgres: PostgresResource | None = None,
) -> Definitions:
    specs = list(specs)
    if postgres is None:
        needing = [spec.pipeline for spec in specs if uses_postgres(spec)]
        if needing:
            raise ValueError(
                f"pipeline(s) {', '.join(needing)} use PostgreSQL (storage or source 'postgres') but no "
                "PostgreSQL is configured: set ETL_ASSETS_POSTGRES_HOST (see README 'PostgreSQL')"
            )
    remote = any("://" in str(root) for root in (data_root, output_root) if root is not None)
    shared = is_shared_storage(data_root, output_root)
    # Steps that talk to a server (object store or database) retry transient failures.
    per_pipeline = [
        build_pipeline_definitions(spec, network_retry, remote or uses_postgres(spec), shared) for spec in specs
    ]
    return Definitions.merge(
        *per_pipeline,
        Definitions(
            resources=build_resources(data_root, output_root, s3, postgres),
            executor=executor_for(location_executor_spec(specs), shared),
        ),
    )


def is_shared_storage(data_root: str | Path, output_root: str | Path | None) -> bool:
    """Whether landing files and tables are on storage every machine reaches (an object store)."""
    return "://" in str(data_root) and (output_root is None or "://" in str(output_root))


def location_executor_spec(specs: Iterable[PipelineSpec]) -> ExecutorSpec:
    """The code location's default executor, for runs of asset selections (backfills, landing
    sensors, the UI's "Materialize"): the pipelines' choice when they all make the same one,
    else in process; switchable by run config like the jobs'."""
    choices = {spec.executor for spec in specs}
    return choices.pop() if len(choices) == 1 else ExecutorSpec()


def definitions_from_folder(
    pipelines: str | Path,
    data_root: str | Path,
    output_root: str | Path | None = None,
    s3: S3Config | None = None,
    postgres: PostgresResource | None = None,
) -> Definitions:
    return build_definitions(load_specs([pipelines]), data_root, output_root, s3, postgres=postgres)
