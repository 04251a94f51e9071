"""Raw assets for ``format: postgres`` sources (a table or a parameterized query).
# No `from __future__ import annotations` here: Dagster reads these annotations at definition time.

The high-water mark of an incremental source lives in the asset's own materialization
metadata (``etl_assets/high_water_mark``): the next run reads it back from the Dagster
instance, so it survives restarts and is visible (and auditable) in the UI.

An incremental raw table ACCUMULATES (with every storage): with ``storage: postgres`` the IO
manager upserts the new rows by ``primary_key``; with file storage the asset loads its previous
value through its IO manager and returns it with the new rows appended, deduplicated by
``primary_key``. If the stored table is gone while a mark exists, the source is read again
from the start rather than silently keeping only the new rows.
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
    build_input_context,
)

from etl_assets.factory.keys import raw_key
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.telemetry import record_rows, traced_step

HIGH_WATER_MARK = "etl_assets/high_water_mark"
POSTGRES_RESOURCE_KEY = "postgres"


def previous_high_water_mark(instance: DagsterInstance, key: AssetKey) -> Any:
    """The mark recorded by the asset's latest materialization (None before the first)."""
    from etl_assets.lib.sources.postgres import decode_mark  # psycopg: at run time

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
    # postgres storage upserts by primary_key; any other storage accumulates in the asset
    accumulates_here = bool(options.cursor_column) and storage != "postgres"

    @asset(
        key=raw_key(spec.pipeline, name),
        group_name=spec.pipeline,
        description=source.description
        or f"PostgreSQL source: {what}"
        + (f", incremental by {options.cursor_column}" if options.cursor_column else ""),
        io_manager_key=IO_MANAGER_KEYS[storage],
        kinds={"pandas", storage, "postgres"},
        metadata=metadata,
        required_resource_keys={POSTGRES_RESOURCE_KEY}
        | ({IO_MANAGER_KEYS[storage]} if options.cursor_column else set()),
    )
    @traced_step(spec.pipeline, "raw", raw_key(spec.pipeline, name))
    def raw_asset(context: AssetExecutionContext) -> Output[pd.DataFrame]:
        # psycopg and the reader load when the step runs, not when definitions load
        from etl_assets.lib.io.postgres.reader import table_exists
        from etl_assets.lib.sources.postgres import accumulate, encode_mark, read_postgres_source

        postgres: PostgresResource = getattr(context.resources, POSTGRES_RESOURCE_KEY)
        started = time.perf_counter()
        mark = None
        previous: pd.DataFrame | None = None
        if options.cursor_column:
            mark = previous_high_water_mark(context.instance, context.asset_key)
        if accumulates_here and mark is not None:
            manager = getattr(context.resources, IO_MANAGER_KEYS[storage])
            try:
                previous = manager.load_input(
                    build_input_context(asset_key=context.asset_key, instance=context.instance)
                )
            except FileNotFoundError as error:
                context.log.warning(
                    f"{name}: high-water mark {mark!r} but no stored table ({error}); "
                    "reading the source from the start"
                )
                mark = None
        elif options.cursor_column and mark is not None:  # postgres storage: upserts
            manager = getattr(context.resources, IO_MANAGER_KEYS[storage])
            target = manager.table_for(
                build_input_context(asset_key=context.asset_key, instance=context.instance)
            )
            if not table_exists(postgres, target):
                context.log.warning(
                    f"{name}: high-water mark {mark!r} but table {target} is gone; "
                    "reading the source from the start"
                )
                mark = None
        read = read_postgres_source(postgres, options, name=name, mark=mark)
        frame = read.frame
        merged = None
        if accumulates_here:
            merged = accumulate(previous, frame, list(options.primary_key or []), name=name)
            frame = merged.frame
        elapsed = max(time.perf_counter() - started, 1e-9)
        replaced = merged.rows_replaced if merged is not None else None
        record_rows(rows_in=len(read.frame), rows_out=len(frame), deduplicated=replaced)
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
            if merged is not None:
                out["rows_new"] = merged.rows_new
                out["rows_replaced"] = merged.rows_replaced  # counted dedup of re-read keys
                out["rows_total"] = len(frame)
            context.log.info(
                f"{name}: {len(read.frame)} row(s) read with {options.cursor_column} >= {mark!r}"
            )
        return Output(frame, metadata=out)

    return raw_asset
