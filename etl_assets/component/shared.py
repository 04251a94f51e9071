"""Resources and executor shared by every pipeline of a code location, built once per settings.

Each :class:`PipelineComponent` returns the resources its assets need (IO managers, source
files, HTTP client, embedding model, PostgreSQL). Dagster merges the Definitions of all
components of a project and refuses two *different* objects under one resource key, so
components with the same settings must hand back the very same objects: they are cached here
by settings.
"""

from __future__ import annotations

from functools import lru_cache

from dagster import Definitions, EnvVar

from etl_assets.component.settings import StorageSettings
from etl_assets.lib.resources import S3Config
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec.models import ExecutorSpec


def s3_config(settings: StorageSettings) -> S3Config | None:
    if settings.s3_endpoint_url is None and settings.s3_region is None:
        return None
    return S3Config(endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)


def postgres_resource(settings: StorageSettings) -> PostgresResource | None:
    if not settings.postgres_host:
        return None
    return PostgresResource(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        dbname=settings.postgres_db,
        sslmode=settings.postgres_sslmode,  # type: ignore[arg-type]
        # the password itself is resolved by Dagster at run time, never stored in definitions
        password=EnvVar("ETL_ASSETS_POSTGRES_PASSWORD") if settings.postgres_password_env else "",
    )


@lru_cache(maxsize=32)
def shared_definitions(settings: StorageSettings, location_executor: ExecutorSpec) -> Definitions:
    """The resources and default executor for ``settings`` (the same objects on every call, so
    that several components of one code location merge).

    ``location_executor`` runs asset selections (backfills, landing sensors, the UI's
    "Materialize"): the component's pipelines' common choice (``location_executor_spec``).
    Components of one code location that choose different executors cannot share one default:
    Dagster refuses to merge two; give them the same ``executor:`` or separate code locations.
    """
    from etl_assets.factory import build_resources, is_shared_storage
    from etl_assets.factory.executors import executor_for

    resources = build_resources(
        settings.data_root, settings.warehouse, s3_config(settings), postgres_resource(settings)
    )
    shared = is_shared_storage(settings.data_root, settings.warehouse)
    return Definitions(resources=resources, executor=executor_for(location_executor, shared))
