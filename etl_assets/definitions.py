"""Code location entry point (``workspace.yaml``, ``dg``, ``dagster dev``).

This is the one place the deployment environment is read: which pipeline folder to load and
where data lives. Everything below takes them as arguments or resource config.

- ``ETL_ASSETS_PIPELINES``: folder of pipeline specs (default: ``pipelines/`` of the project)
- ``ETL_ASSETS_DATA_ROOT``: root of landed source files (default: ``data/`` of the project)
- ``ETL_ASSETS_WAREHOUSE``: where tables are stored (default: ``<data root>/warehouse``)
- ``ETL_ASSETS_POSTGRES_HOST`` (+ ``_PORT``, ``_USER``, ``_DB``, ``_SSLMODE``, and the password in
  ``ETL_ASSETS_POSTGRES_PASSWORD``, read at run time through ``EnvVar``): PostgreSQL for
  ``storage: postgres`` and ``format: postgres`` sources; unset, nothing needs a server.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar

from etl_assets.factory import definitions_from_folder
from etl_assets.lib.resources.postgres import PostgresResource

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _setting(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


PIPELINES_DIR = _setting("ETL_ASSETS_PIPELINES", PROJECT_ROOT / "pipelines")
DATA_ROOT = _setting("ETL_ASSETS_DATA_ROOT", PROJECT_ROOT / "data")
WAREHOUSE = _setting("ETL_ASSETS_WAREHOUSE", DATA_ROOT / "warehouse")



def _postgres() -> PostgresResource | None:
    host = os.environ.get("ETL_ASSETS_POSTGRES_HOST")
    if not host:
        return None
    return PostgresResource(
        host=host,
        port=int(os.environ.get("ETL_ASSETS_POSTGRES_PORT", "5432")),
        user=os.environ.get("ETL_ASSETS_POSTGRES_USER", "postgres"),
        dbname=os.environ.get("ETL_ASSETS_POSTGRES_DB", "postgres"),
        sslmode=os.environ.get("ETL_ASSETS_POSTGRES_SSLMODE", "prefer"),  # type: ignore[arg-type]
        # the password itself is resolved by Dagster at run time, never stored in definitions
        password=EnvVar("ETL_ASSETS_POSTGRES_PASSWORD") if "ETL_ASSETS_POSTGRES_PASSWORD" in os.environ else "",
    )


defs = definitions_from_folder(PIPELINES_DIR, DATA_ROOT, WAREHOUSE, postgres=_postgres())
