"""Raw assets for ``format: postgres`` sources (a table or a parameterized query).
# No `from __future__ import annotations` here: Dagster reads these annotations at definition time.

The high-water mark of an incremental source lives in the asset's own materialization
metadata (``etl_assets/high_water_mark``): the next run reads it back from the Dagster
instance, so it survives restarts and is visible (and auditable) in the UI.
"""

import time
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    MetadataValue,
    Output,
    PartitionsDefinition,
    asset,
)

from etl_assets.factory.keys import raw_key
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.sources.postgres import decode_mark, encode_mark, read_postgres_source
from etl_assets.lib.spec import PipelineSpec

HIGH_WATER_MARK = "etl_assets/high_water_mark"
POSTGRES_RESOURCE_KEY = "postgres"


def previous_high_water_mark(instance: DagsterInstance, key: AssetKey) -> Any:
    """The mark recorded by the asset's latest materialization (None before the first)."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(HIGH_WATER_MARK)
    return decode_mark(value.value) if value is not None else None


def build_postgres_raw_asset(
    spec: PipelineSpec, name: str, partitions_def: PartitionsDefinition | None = None
) -> AssetsDefinition:
    source = spec.sources[name]
    options = source.postgres
    assert options is not None  # guaranteed by SourceSpec validation
    storage = spec.storage_for(source)
    what = f"table {options.table}" if options.table else "a query"
    metadata: dict[str, Any] = {"source_format": "postgres"}
    if options.table:
        metadata["source_table"] = options.table
    if options.cursor_column:
        metadata["cursor_column"] = options.cursor_column
    if options.primary_key:
        metadata["primary_key"] = list(options.primary_key)

    @asset(
        key=raw_key(spec.pipeline, name),
        group_name=spec.pipeline,
        description=source.description
        or f"PostgreSQL source: {what}"
        + (f", incremental by {options.cursor_column}" if options.cursor_column else ""),
        io_manager_key=IO_MANAGER_KEYS[storage],
        kinds={"pandas", storage, "postgres"},
        metadata=metadata,
        required_resource_keys={POSTGRES_RESOURCE_KEY},
    )
    def raw_asset(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        postgres: PostgresResource = getattr(context.resources, POSTGRES_RESOURCE_KEY)
        started = time.perf_counter()
        mark = None
        if options.cursor_column:
            mark = previous_high_water_mark(context.instance, context.asset_key)
        read = read_postgres_source(postgres, options, name=name, mark=mark)
        elapsed = max(time.perf_counter() - started, 1e-9)
        out: dict[str, Any] = {
            "rows_read": len(read.frame),
            "chunks_read": read.chunks,
            "source": postgres.describe(),
            "duration_s": MetadataValue.float(round(elapsed, 4)),
            "rows_per_s": MetadataValue.float(round(len(read.frame) / elapsed, 1)),
        }
        if options.cursor_column:
            out[HIGH_WATER_MARK] = MetadataValue.json(encode_mark(read.high_water_mark) or {})
            out["previous_high_water_mark"] = MetadataValue.json(encode_mark(mark) or {})
            context.log.info(
                f"{name}: {len(read.frame)} new row(s) after {options.cursor_column} > {mark!r}"
            )
        return Output(read.frame, metadata=out)

    return raw_asset
