"""Code location entry point (``workspace.yaml``, ``dg``, ``dagster dev``).

This is the one place the deployment environment is read: which pipeline folder to load and
where data lives. Everything below takes them as arguments or resource config.

- ``ETL_ASSETS_PIPELINES``: folder of pipeline specs (default: ``pipelines/`` of the project)
- ``ETL_ASSETS_DATA_ROOT``: root of landed source files (default: ``data/`` of the project)
- ``ETL_ASSETS_WAREHOUSE``: where tables are stored (default: ``<data root>/warehouse``)
"""

from __future__ import annotations

import os
from pathlib import Path

from etl_assets.factory import definitions_from_folder

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _setting(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


PIPELINES_DIR = _setting("ETL_ASSETS_PIPELINES", PROJECT_ROOT / "pipelines")
DATA_ROOT = _setting("ETL_ASSETS_DATA_ROOT", PROJECT_ROOT / "data")
WAREHOUSE = _setting("ETL_ASSETS_WAREHOUSE", DATA_ROOT / "warehouse")

defs = definitions_from_folder(PIPELINES_DIR, DATA_ROOT, WAREHOUSE)
