"""Code location entry point (``workspace.yaml``, ``dg``, ``dagster dev``).

The deployment environment (which pipeline folder to load, where data lives, S3, PostgreSQL) is
read here and in ``etl_assets/component/settings.py``, which ``etl_assets.PipelineComponent``
shares with every dg project. Everything below takes them as arguments or resource config.

- ``ETL_ASSETS_PIPELINES``: folder of pipeline specs (default: ``pipelines/`` of the project),
  loaded by ``etl_assets/defs/pipelines/defs.yaml`` (an ``etl_assets.PipelineComponent``)
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
import warnings
from pathlib import Path

from dagster import BetaWarning, ComponentTree, Definitions, EnvVar, PreviewWarning

from etl_assets.component.settings import location, storage_settings
from etl_assets.component.shared import s3_config
from etl_assets.defs.alerts import WEBHOOK_ENV, AlertWebhook, alert_definitions

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The settings as this code location resolves them (``etl-assets run`` reads them back).
PIPELINES_DIR = location(os.environ.get("ETL_ASSETS_PIPELINES"), PROJECT_ROOT / "pipelines")
if os.environ.get("ETL_ASSETS_PIPELINES") and isinstance(PIPELINES_DIR, Path):
    # defs.yaml resolves a relative folder against its own directory (dg's rule for component
    # paths); the setting means the current directory, as for every other ETL_ASSETS_* folder.
    # Stored absolute, the component, the CLI and every step process agree on it.
    os.environ["ETL_ASSETS_PIPELINES"] = str(PIPELINES_DIR)
SETTINGS = storage_settings(PROJECT_ROOT)
DATA_ROOT = SETTINGS.data_root
WAREHOUSE = SETTINGS.warehouse
S3_SETTINGS = s3_config(SETTINGS)

# etl_assets/defs/pipelines/defs.yaml: one etl_assets.PipelineComponent over the pipelines folder,
# loaded by Dagster's component tree as in any dg project. Only that folder is built: the whole
# tree (``load_from_defs_folder``) would also import every installed Component library to list
# them in the UI (dagster-aws's: boto3, ~0.7 s on each import of this module, i.e. every step
# process). etl_assets/defs/alerts is plain Python, added below when configured.
with warnings.catch_warnings():
    # The same suppression Dagster's public ``load_from_defs_folder`` applies to its own loader
    # (``suppress_dagster_warnings``), scoped to this one call: building a component tree flags
    # Dagster's own internals as beta (``LocalFileCodeReference`` links to defs.yaml, sensors
    # rebuilt with ``owners``) and reads defs.yaml with pydantic's deprecated ``parse_obj_as``.
    # None is an API this project calls; our own code warns nothing (tests run -W error).
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    warnings.filterwarnings(
        "ignore", message="`parse_obj_as` is deprecated", category=DeprecationWarning,
        module=r"dagster\._utils\.pydantic_yaml",
    )
    defs = ComponentTree.for_project(path_within_project=Path(__file__).parent).build_defs("pipelines")
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
