"""The ``schema_drift`` check and schema registry metadata for clean tables and aggregates.

:func:`evaluate_drift` must run BEFORE the asset yields its output: it reads the asset's latest
materialization from the instance, which is then still the previous one. It returns the
metadata to add to the output (``schema/fingerprint``, ``schema/version``, ``schema/columns``)
and the check result (ERROR, blocking when there are breaking changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    MetadataValue,
)

from etl_assets.lib.quality.anomaly import ANOMALY_COLUMNS
from etl_assets.lib.quality.drift import compare_schemas
from etl_assets.lib.quality.registry import (
    TableSchemaRecord,
    latest_recorded,
    next_version,
    schema_metadata,
    schema_of,
)
from etl_assets.lib.spec import PARTITION_COLUMN
from etl_assets.lib.spec.models import AggregateSpec, CleanSpec, SchemaDriftSpec

DRIFT_CHECK = "schema_drift"
_COUNT_FUNCTIONS = {"count", "null_count", "nunique"}


def drift_check_specs(drift: SchemaDriftSpec, asset_key: AssetKey) -> list[AssetCheckSpec]:
    if not drift.enabled:
        return []
    return [
        AssetCheckSpec(
            DRIFT_CHECK,
            asset=asset_key,
            blocking=True,
            description="no breaking schema change (removed column, narrowed type, nullable -> required) since the previous materialization"
            + (f" / pinned schema {drift.pinned}" if drift.pinned else ""),
        )
    ]


def clean_nullability(clean: CleanSpec) -> dict[str, bool]:
    """Declared nullability of a clean table's columns (nulls: keep -> nullable)."""
    nullable = {name: column.null_policy == "keep" for name, column in clean.columns.items()}
    nullable[PARTITION_COLUMN] = False
    # tagging may be switched on after a table exists: its columns count as added nullable
    nullable.update(dict.fromkeys(ANOMALY_COLUMNS, True))
    return nullable


def aggregate_nullability(agg: AggregateSpec) -> dict[str, bool]:
    """Counts are never null; every other metric and group key may be."""
    nullable = {name: metric.function not in _COUNT_FUNCTIONS for name, metric in agg.parsed_metrics.items()}
    nullable[PARTITION_COLUMN] = False
    return nullable


@dataclass(frozen=True)
class DriftOutcome:
    metadata: dict[str, Any]
    check: AssetCheckResult | None


def load_pinned(path: str) -> TableSchemaRecord:
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"pinned schema {file.resolve()} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"pinned schema {file}: not JSON ({exc})") from None
    try:
        return TableSchemaRecord.from_json(data)
    except ValueError as exc:
        raise ValueError(f"pinned schema {file}: {exc}") from None


def evaluate_drift(
    instance: DagsterInstance,
    asset_key: AssetKey,
    frame: pd.DataFrame,
    drift: SchemaDriftSpec,
    nullable: dict[str, bool],
) -> DriftOutcome:
    schema = schema_of(frame, nullable)
    previous = latest_recorded(instance, asset_key)
    version = next_version(previous, schema)
    metadata = schema_metadata(schema, version)
    if not drift.enabled:
        return DriftOutcome(metadata, None)
    if drift.pinned is not None:
        baseline, against = load_pinned(drift.pinned), f"pinned schema {drift.pinned}"
    elif previous is not None:
        baseline, against = previous.schema, f"version {previous.version} (run {previous.run_id})"
    else:
        baseline, against = None, "nothing (first recorded schema)"
    report = compare_schemas(baseline, schema) if baseline is not None else None
    changes = list(report.changes) if report is not None else []
    breaking = [c for c in changes if c.breaking]
    if report is None:
        description = f"schema version {version} recorded; nothing to compare with yet"
    elif breaking:
        description = f"{len(breaking)} breaking schema change(s) against {against}: " + "; ".join(map(str, breaking))
    elif changes:
        description = f"compatible schema change(s) against {against}: " + "; ".join(map(str, changes))
    else:
        description = f"schema unchanged against {against}"
    check = AssetCheckResult(
        check_name=DRIFT_CHECK,
        asset_key=asset_key,
        passed=not breaking,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "schema/fingerprint": MetadataValue.text(schema.fingerprint),
            "schema/version": MetadataValue.int(version),
            "compared_with": MetadataValue.text(against),
            "breaking_changes": MetadataValue.json([str(c) for c in breaking]),
            "compatible_changes": MetadataValue.json([str(c) for c in changes if not c.breaking]),
            "changes": MetadataValue.json([{"kind": c.kind, "column": c.column, "old": c.old, "new": c.new} for c in changes]),
        },
    )
    return DriftOutcome(metadata, check)
