"""Deployment settings read from the environment: the one place ``ETL_ASSETS_*`` is read.

Both ways of loading pipelines use it: the repo's code location (``etl_assets.definitions``)
and :class:`~etl_assets.component.PipelineComponent` in any ``dg`` project, so a pipeline finds
its data, its warehouse, S3 and PostgreSQL the same way wherever it is loaded.

- ``ETL_ASSETS_DATA_ROOT``: root of landed source files (default: ``data/`` of the project)
- ``ETL_ASSETS_WAREHOUSE``: where tables are stored (default: ``<data root>/warehouse``)
- ``ETL_ASSETS_S3_ENDPOINT_URL`` / ``ETL_ASSETS_S3_REGION``: S3 settings (unset: AWS defaults)
- ``ETL_ASSETS_POSTGRES_HOST`` (+ ``_PORT``, ``_USER``, ``_DB``, ``_SSLMODE``; the password in
  ``ETL_ASSETS_POSTGRES_PASSWORD`` is read at run time through ``EnvVar``, never stored)

Either root may be an ``s3://bucket/prefix`` URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variables that select the deployment (the cache key of shared resources).
SETTINGS_ENV = (
    "ETL_ASSETS_DATA_ROOT",
    "ETL_ASSETS_WAREHOUSE",
    "ETL_ASSETS_S3_ENDPOINT_URL",
    "ETL_ASSETS_S3_REGION",
    "ETL_ASSETS_POSTGRES_HOST",
    "ETL_ASSETS_POSTGRES_PORT",
    "ETL_ASSETS_POSTGRES_USER",
    "ETL_ASSETS_POSTGRES_DB",
    "ETL_ASSETS_POSTGRES_SSLMODE",
)


def location(value: str | None, default: Path | str, base: Path | None = None) -> Path | str:
    """A folder setting: an ``s3://`` URL stays a URL; a relative path resolves under ``base``
    (default: the current directory); unset gives ``default``."""
    if value and "://" in value:
        return value.rstrip("/")
    if not value:
        return default
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    return path.resolve()


def warehouse_under(data_root: Path | str) -> Path | str:
    return f"{data_root}/warehouse" if isinstance(data_root, str) else data_root / "warehouse"


@dataclass(frozen=True)
class StorageSettings:
    """Where sources are read and tables stored, plus the servers some specs need."""

    data_root: Path | str
    warehouse: Path | str
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_db: str = "postgres"
    postgres_sslmode: str = "prefer"
    #: whether ``ETL_ASSETS_POSTGRES_PASSWORD`` is set (its value is read at run time only)
    postgres_password_env: bool = False


def storage_settings(
    project_root: Path, data_root: str | None = None, warehouse: str | None = None
) -> StorageSettings:
    """Settings from the environment; ``data_root``/``warehouse`` (relative to ``project_root``)
    override ``ETL_ASSETS_DATA_ROOT``/``ETL_ASSETS_WAREHOUSE`` when given."""
    env = os.environ
    root = (
        location(data_root, project_root / "data", base=project_root)
        if data_root
        else location(env.get("ETL_ASSETS_DATA_ROOT"), project_root / "data")
    )
    tables = (
        location(warehouse, warehouse_under(root), base=project_root)
        if warehouse
        else location(env.get("ETL_ASSETS_WAREHOUSE"), warehouse_under(root))
    )
    return StorageSettings(
        data_root=root,
        warehouse=tables,
        s3_endpoint_url=env.get("ETL_ASSETS_S3_ENDPOINT_URL") or None,
        s3_region=env.get("ETL_ASSETS_S3_REGION") or None,
        postgres_host=env.get("ETL_ASSETS_POSTGRES_HOST") or None,
        postgres_port=int(env.get("ETL_ASSETS_POSTGRES_PORT", "5432")),
        postgres_user=env.get("ETL_ASSETS_POSTGRES_USER", "postgres"),
        postgres_db=env.get("ETL_ASSETS_POSTGRES_DB", "postgres"),
        postgres_sslmode=env.get("ETL_ASSETS_POSTGRES_SSLMODE", "prefer"),
        postgres_password_env="ETL_ASSETS_POSTGRES_PASSWORD" in env,
    )
