"""Code location entry point (``workspace.yaml``, ``dg``, ``dagster dev``).

This is the one place the deployment environment is read: which pipeline folder to load and
where data lives. Everything below takes them as arguments or resource config.

- ``ETL_ASSETS_PIPELINES``: folder of pipeline specs (default: ``pipelines/`` of the project)
- ``ETL_ASSETS_DATA_ROOT``: root of landed source files (default: ``data/`` of the project)
- ``ETL_ASSETS_WAREHOUSE``: where tables are stored (default: ``<data root>/warehouse``)

Either root may be an ``s3://bucket/prefix`` URL. S3 settings (see the README's "S3"):

- ``ETL_ASSETS_S3_ENDPOINT_URL``: an S3-compatible endpoint (MinIO, ...); unset: AWS
- ``ETL_ASSETS_S3_REGION``: the region; unset: the AWS default chain's
- credentials: the AWS default chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` in the
  environment, a profile, a role), read by botocore itself so they never enter resource config

Alerts (see the README's "Retries and alerts"): when ``ETL_ASSETS_ALERT_WEBHOOK`` is set, the
run-failure and check-failure alert sensors are included and post to it (the URL is read through
``EnvVar`` at run time, never stored); ``ETL_ASSETS_UI_URL`` is the UI base for run links.
- ``ETL_ASSETS_POSTGRES_HOST`` (+ ``_PORT``, ``_USER``, ``_DB``, ``_SSLMODE``, and the password in
  ``ETL_ASSETS_POSTGRES_PASSWORD``, read at run time through ``EnvVar``): PostgreSQL for
  ``storage: postgres`` and ``format: postgres`` sources; unset, nothing needs a server.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, EnvVar

from etl_assets.defs.alerts import WEBHOOK_ENV, AlertWebhook, alert_definitions
from etl_assets.factory import definitions_from_folder
from etl_assets.lib.resources import S3Config
from etl_assets.lib.resources.postgres import PostgresResource

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _setting(name: str, default: Path | str) -> Path | str:
    value = os.environ.get(name)
    if value and "://" in value:  # s3://bucket/prefix stays a URL
        return value.rstrip("/")
    return Path(value).expanduser().resolve() if value else default


def _s3_settings() -> S3Config | None:
    endpoint = os.environ.get("ETL_ASSETS_S3_ENDPOINT_URL") or None
    region = os.environ.get("ETL_ASSETS_S3_REGION") or None
    if endpoint is None and region is None:
        return None
    return S3Config(endpoint_url=endpoint, region_name=region)


PIPELINES_DIR = _setting("ETL_ASSETS_PIPELINES", PROJECT_ROOT / "pipelines")
DATA_ROOT = _setting("ETL_ASSETS_DATA_ROOT", PROJECT_ROOT / "data")
WAREHOUSE = _setting(
    "ETL_ASSETS_WAREHOUSE",
    f"{DATA_ROOT}/warehouse" if isinstance(DATA_ROOT, str) else DATA_ROOT / "warehouse",
)
S3_SETTINGS = _s3_settings()


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


defs = definitions_from_folder(PIPELINES_DIR, DATA_ROOT, WAREHOUSE, S3_SETTINGS, postgres=_postgres())
if os.environ.get(WEBHOOK_ENV):
    defs = Definitions.merge(
        defs,
        alert_definitions(
            AlertWebhook(
                url=EnvVar(WEBHOOK_ENV),
                ui_base_url=os.environ.get("ETL_ASSETS_UI_URL", "http://127.0.0.1:3000"),
            )
        ),
    )
