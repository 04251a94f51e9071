"""Data quality: semantic types, pandera schemas from the spec, quality scores, inference,
anomaly tagging (``anomaly``), schema registry and drift (``registry``, ``drift``).

Submodules are imported on first use (``etl_assets.lib.spec.models`` imports the semantic
catalogue, so this package must not import the spec models eagerly).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SEMANTIC_TYPES": "semantic",
    "SemanticType": "semantic",
    "valid_mask": "semantic",
    "build_schema": "schema",
    "validate_frame": "schema",
    "validate_clean": "schema",
    "SchemaReport": "schema",
    "find_orphans": "consistency",
    "OrphanReport": "consistency",
    "score_table": "score",
    "QualityScore": "score",
    "infer_files": "inference",
    "tag_anomalies": "anomaly",
    "AnomalyConfig": "anomaly",
    "tag_anomalies_per_partition": "anomaly_partitions",
    "fit_reference": "anomaly_reference",
    "AnomalyReference": "anomaly_reference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
