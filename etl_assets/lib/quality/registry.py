"""Schema registry: the schema of each materialization, recorded in its Dagster metadata.

A table's schema is its columns' names, storage types (Arrow spelling, the same vocabulary as
``dagster/column_schema``) and nullability. Nullability is DECLARED (from the spec), never
inferred from the data: a nullable column that happens to hold no nulls today must not look
like a schema change tomorrow.

The fingerprint is a SHA-256 of the canonical JSON of the columns sorted by name (column order
is not part of the contract). The version is a counter that goes up by one each time an asset's
fingerprint changes, so ``schema/version`` reads like a release number in the UI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from dagster import AssetKey, DagsterInstance, MetadataValue

from etl_assets.lib.io.metadata import type_name

FINGERPRINT_KEY = "schema/fingerprint"
VERSION_KEY = "schema/version"
COLUMNS_KEY = "schema/columns"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSchemaRecord:
    columns: tuple[ColumnSchema, ...]

    @property
    def by_name(self) -> dict[str, ColumnSchema]:
        return {c.name: c for c in self.columns}

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(
            sorted([c.name, c.type, c.nullable] for c in self.columns), separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in self.columns]

    @classmethod
    def from_json(cls, data: Any) -> TableSchemaRecord:
        """From ``[{name, type, nullable}, ...]``, a document with such a ``columns`` list, or the
        version list ``etl-assets schema history --json`` prints (its latest version is used)."""
        if isinstance(data, list) and data and isinstance(data[-1], Mapping) and "columns" in data[-1]:
            data = data[-1]
        if isinstance(data, Mapping):
            data = data.get("columns")
        if not isinstance(data, list):
            raise ValueError("a schema is a list of {name, type, nullable} objects (or {'columns': [...]})")
        columns = []
        for i, item in enumerate(data):
            if not isinstance(item, Mapping) or not {"name", "type"} <= set(item):
                raise ValueError(f"schema column {i}: expected an object with 'name', 'type' and 'nullable', got {item!r}")
            columns.append(ColumnSchema(str(item["name"]), str(item["type"]), bool(item.get("nullable", True))))
        return cls(tuple(columns))


def schema_of(frame: pd.DataFrame, nullable: Mapping[str, bool] | None = None) -> TableSchemaRecord:
    """The schema of ``frame``; columns missing from ``nullable`` are nullable."""
    nullable = nullable or {}
    return TableSchemaRecord(
        tuple(
            ColumnSchema(str(name), type_name(frame.iloc[:, i]), bool(nullable.get(str(name), True)))
            for i, name in enumerate(frame.columns)
        )
    )


@dataclass(frozen=True)
class RecordedVersion:
    """One schema as recorded on a materialization."""

    schema: TableSchemaRecord
    fingerprint: str
    version: int
    run_id: str | None = None
    timestamp: float | None = None
    partition: str | None = None


def schema_metadata(schema: TableSchemaRecord, version: int) -> dict[str, Any]:
    """Materialization metadata recording ``schema`` as ``version``."""
    return {
        FINGERPRINT_KEY: MetadataValue.text(schema.fingerprint),
        VERSION_KEY: MetadataValue.int(version),
        COLUMNS_KEY: MetadataValue.json(schema.to_json()),
    }


def _raw(value: Any) -> Any:
    return getattr(value, "value", getattr(value, "data", value))


def version_from_metadata(metadata: Mapping[str, Any]) -> RecordedVersion | None:
    """The schema recorded in a materialization's metadata, or None if it has none."""
    if FINGERPRINT_KEY not in metadata or COLUMNS_KEY not in metadata:
        return None
    schema = TableSchemaRecord.from_json(_raw(metadata[COLUMNS_KEY]))
    version = int(_raw(metadata[VERSION_KEY])) if VERSION_KEY in metadata else 1
    return RecordedVersion(schema=schema, fingerprint=str(_raw(metadata[FINGERPRINT_KEY])), version=version)


def latest_recorded(instance: DagsterInstance, asset_key: AssetKey) -> RecordedVersion | None:
    """The schema of the asset's latest materialization (call it before yielding the new output)."""
    event = instance.get_latest_materialization_event(asset_key)
    if event is None or event.asset_materialization is None:
        return None
    found = version_from_metadata(event.asset_materialization.metadata)
    if found is None:
        return None
    return RecordedVersion(
        found.schema, found.fingerprint, found.version, event.run_id, event.timestamp, event.asset_materialization.partition
    )


def next_version(previous: RecordedVersion | None, schema: TableSchemaRecord) -> int:
    if previous is None:
        return 1
    return previous.version if previous.fingerprint == schema.fingerprint else previous.version + 1


def _materializations(instance: DagsterInstance, asset_key: AssetKey, page: int = 1000) -> Iterator[Any]:
    """Every materialization event of the asset, oldest first."""
    cursor = None
    while True:
        result = instance.fetch_materializations(asset_key, limit=page, cursor=cursor, ascending=True)
        for record in result.records:
            yield record.event_log_entry
        if not result.has_more:
            return
        cursor = result.cursor


def schema_history(instance: DagsterInstance, asset_key: AssetKey) -> list[RecordedVersion]:
    """Each distinct schema version of the asset, oldest first, with the first run that wrote it."""
    history: list[RecordedVersion] = []
    for entry in _materializations(instance, asset_key):
        materialization = entry.asset_materialization
        found = version_from_metadata(materialization.metadata) if materialization is not None else None
        if found is None:
            continue
        if history and history[-1].fingerprint == found.fingerprint:
            continue
        history.append(
            RecordedVersion(found.schema, found.fingerprint, found.version, entry.run_id, entry.timestamp, materialization.partition)
        )
    return history
