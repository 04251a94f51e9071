"""Assets generated from a pipeline spec: raw sources, clean tables (+ rejected), aggregates.
# No `from __future__ import annotations` here: Dagster reads these annotations at definition time.

Each builder returns one ordinary Dagster ``AssetsDefinition`` that calls the same library
functions a user would call from a hand-written ``@asset`` (``etl_assets.lib``); this module
only wires keys, partitions, IO managers, metadata and checks.
"""


import time
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    MetadataValue,
    Output,
    PartitionsDefinition,
    TableColumnDep,
    TableColumnLineage,
    asset,
    multi_asset,
)

from etl_assets.factory.aggregate_engine import compute_aggregate
from etl_assets.factory.anomaly_checks import (
    ReferenceContext,
    anomaly_check_specs,
    tag_clean_output,
)
from etl_assets.factory.column_docs import aggregate_column_metadata, clean_column_metadata
from etl_assets.factory.dedup import clean_with_dedup, dedup_resource_keys, duplicates_outs
from etl_assets.factory.drift_checks import (
    aggregate_nullability,
    clean_nullability,
    drift_check_specs,
    evaluate_drift,
)
from etl_assets.factory.executors import step_queue_tags, worker_metadata
from etl_assets.factory.file_versions import record_source_versions
from etl_assets.factory.keys import agg_key, clean_key, raw_key, rejected_key
from etl_assets.factory.lineage_metadata import LINEAGE_TABLE_KEY, lineage_table
from etl_assets.factory.mapping import (
    map_inputs,
    mapping_check_specs,
    mapping_ins,
    mapping_resource_keys,
)
from etl_assets.factory.network import classified_errors
from etl_assets.factory.partition_metadata import (
    add_partition_metadata,
    clean_stats_by_partition,
    multi_partition_keys,
    raw_metadata_by_partition,
    rows_by_partition,
)
from etl_assets.factory.partitions import partitioning
from etl_assets.factory.physical_checks import (
    conservation_result,
    physical_check_spec,
    physical_outcome,
    recorded_expected_rows,
)
from etl_assets.factory.quality_checks import (
    aggregate_check_specs,
    clean_check_specs,
    clean_reference_deps,
    clean_reference_resources,
    evaluate_aggregate,
    evaluate_clean,
    load_referenced,
)
from etl_assets.factory.step_threads import step_threads
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.io.partition_stream import STREAM_PARTITIONS
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.telemetry import record_rows, traced_step

CONSERVATION_CHECK = "row_conservation"


def _timing(started: float, rows: int) -> dict[str, Any]:
    elapsed = max(time.perf_counter() - started, 1e-9)
    return {
        "duration_s": MetadataValue.float(round(elapsed, 4)),
        "rows_per_s": MetadataValue.float(round(rows / elapsed, 1)),
    }


def build_raw_asset(spec: PipelineSpec, name: str, partitions_def: PartitionsDefinition | None) -> AssetsDefinition:
    source = spec.sources[name]
    storage = spec.storage_for(source)

    @asset(
        key=raw_key(spec.pipeline, name),
        group_name=spec.pipeline,
        description=source.description or f"{source.format} source {source.path!r}, as landed (text kept as text).",
        io_manager_key=IO_MANAGER_KEYS[storage],
        kinds={"pandas", storage, source.format},
        metadata={"source_path": source.path, "source_format": source.format},
        check_specs=[physical_check_spec(raw_key(spec.pipeline, name))],
        **partitioning(source.partitioned, partitions_def),
    )
    @traced_step(spec.pipeline, "raw", raw_key(spec.pipeline, name))
    def raw_asset(context: AssetExecutionContext, source_files: SourceFiles):
        started = time.perf_counter()
        keys = list(context.partition_keys) if source.partitioned else None
        with classified_errors(f"source {name!r}"):  # a missing file is not retried
            record_source_versions(context, source, source_files, keys)  # what the landing sensor skips
            read = source_files.read_physical(source, name=name, partition_keys=keys)
        frame = read.frame
        files = int(frame["_source_file"].nunique()) if "_source_file" in frame else 0
        metadata: dict[str, Any] = {"files_read": files, **_timing(started, len(frame)), **worker_metadata()}
        if "_parse_error" in frame:
            metadata["rows_with_parse_errors"] = int(frame["_parse_error"].notna().sum())
        physical, check = physical_outcome(context, raw_key(spec.pipeline, name), read.physical, len(frame))
        record_rows(rows_in=len(frame), rows_out=len(frame))
        range_keys = multi_partition_keys(context, source.partitioned)
        add_partition_metadata(context, raw_key(spec.pipeline, name), raw_metadata_by_partition(frame, range_keys))
        yield Output(frame, metadata={**metadata, **physical})
        yield check

    return raw_asset


def _clean_lineage(spec: PipelineSpec, name: str) -> TableColumnLineage:
    clean = spec.clean[name]
    upstream = raw_key(spec.pipeline, clean.source)
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=upstream, column_name=declared.source or column)]
            for column, declared in clean.columns.items()
        }
    )


def build_clean_asset(spec: PipelineSpec, name: str, partitions_def: PartitionsDefinition | None) -> AssetsDefinition:
    clean = spec.clean[name]
    storage = spec.storage_for(clean)
    partitioned = spec.is_clean_partitioned(name)
    clean_asset_key = clean_key(spec.pipeline, name)
    lineage = _clean_lineage(spec, name)
    resource_keys = dedup_resource_keys(clean) | mapping_resource_keys(clean) | clean_reference_resources(spec, name)

    @multi_asset(
        name=f"{spec.pipeline}__clean__{name}",
        group_name=spec.pipeline,
        ins={"raw": AssetIn(key=raw_key(spec.pipeline, clean.source)), **mapping_ins(spec, name)},
        deps=clean_reference_deps(spec, name),
        outs={
            "clean": AssetOut(
                key=clean_asset_key,
                io_manager_key=IO_MANAGER_KEYS[storage],
                description=clean.description or f"{name}: declared types, null policies and dedup applied.",
                kinds={"pandas", storage},
                metadata=clean_column_metadata(clean),
            ),
            "rejected": AssetOut(
                key=rejected_key(spec.pipeline, name),
                io_manager_key=IO_MANAGER_KEYS[storage],
                description=f"Rows rejected while building clean {name}, with the reason and the source file and row.",
                kinds={"pandas", storage},
            ),
            **duplicates_outs(spec, name),
        },
        required_resource_keys=resource_keys,
        op_tags=step_queue_tags(spec.executor, resource_keys),  # embedding steps to their queue
        check_specs=[
            AssetCheckSpec(
                CONSERVATION_CHECK,
                asset=clean_asset_key,
                blocking=True,
                description="rows in = rows out + rows rejected + duplicates removed",
            ),
            *clean_check_specs(spec, name),
            *anomaly_check_specs(clean, clean_asset_key),
            *drift_check_specs(clean.schema_drift, clean_asset_key),
            *mapping_check_specs(spec, name),
        ],
        **partitioning(partitioned, partitions_def),
    )
    @traced_step(spec.pipeline, "clean", clean_asset_key)
    def clean_asset(context: AssetExecutionContext, raw: pd.DataFrame, **also: pd.DataFrame):
        # the step's libraries (pandera, rapidfuzz, ...) load at run time, not with the definitions
        from etl_assets.lib.dedup.clean_step import needs_row_quality

        started = time.perf_counter()
        raw, mapping_checks, mapping_metadata = map_inputs(context, raw, also, spec, name)
        # a best-row dedup needs the per-row quality score (and so the referenced tables) before
        # the checks run: load the references once for both
        referenced, missing = load_referenced(context, spec, name) if needs_row_quality(clean) else (None, None)
        result, dedup_outputs, dedup_metadata = clean_with_dedup(
            context, raw, clean, name, referenced=referenced, threads=step_threads(spec)
        )
        stats = result.stats
        counts = stats.as_metadata()
        # quality (schema, references, scores, _quality_score) -> anomaly tags -> drift of the
        # frame that is actually stored (drift reads the previous run's schema before the yield)
        range_keys = multi_partition_keys(context, partitioned)
        by_partition = clean_stats_by_partition(raw, result.clean, result.rejected, range_keys)
        quality = evaluate_clean(
            spec, name, result.clean, stats, referenced=referenced, context=context, missing=missing, partitions=by_partition
        )
        reference_run = ReferenceContext(context, IO_MANAGER_KEYS[storage], partitions_def if partitioned else None)
        tagged, anomaly_check, anomaly_metadata = tag_clean_output(clean, quality.frame, clean_asset_key, reference_run)
        drift = evaluate_drift(context.instance, clean_asset_key, tagged, clean.schema_drift, clean_nullability(clean))
        record_rows(
            rows_in=stats.rows_in,
            rows_out=len(tagged),
            rejected=stats.rows_rejected,
            deduplicated=stats.rows_deduplicated,
            dropped=stats.rows_dropped,
        )
        add_partition_metadata(
            context,
            clean_asset_key,
            {
                key: {**counts.as_metadata(), **quality.metadata_by_partition[key]}
                for key, counts in by_partition.items()
            },
        )
        add_partition_metadata(
            context,
            rejected_key(spec.pipeline, name),
            {key: {"rows_rejected": c.rows_rejected} for key, c in by_partition.items()},
        )
        yield Output(
            tagged,
            output_name="clean",
            metadata={
                **counts,
                **drift.metadata,
                "rejected_by_reason": MetadataValue.json(dict(stats.rejected_by_reason)),
                "dagster/column_lineage": lineage,
                LINEAGE_TABLE_KEY: lineage_table(lineage),  # the same, visible in the OSS UI
                **_timing(started, stats.rows_in),
                **worker_metadata(),
                **quality.metadata,
                **dedup_metadata,
                **mapping_metadata,
                **anomaly_metadata,
            },
        )
        yield Output(result.rejected, output_name="rejected", metadata={"rows_rejected": stats.rows_rejected})
        yield from dedup_outputs
        yield from mapping_checks
        physical_rows = recorded_expected_rows(context, spec, clean.all_sources)
        yield conservation_result(CONSERVATION_CHECK, clean_asset_key, stats, physical_rows)
        yield from quality.results
        yield from (check for check in (anomaly_check, drift.check) if check is not None)

    return clean_asset


def _aggregate_lineage(spec: PipelineSpec, name: str) -> TableColumnLineage:
    agg = spec.aggregates[name]
    origin: dict[str, AssetKey] = {c: clean_key(spec.pipeline, agg.source) for c in spec.clean[agg.source].columns}
    for join in agg.join:
        other = spec.clean[join.table].columns
        for column in join.columns if join.columns is not None else [c for c in other if c not in join.on]:
            origin.setdefault(column, clean_key(spec.pipeline, join.table))
    deps: dict[str, list[TableColumnDep]] = {}
    for column in agg.group_by:
        if column in origin:
            deps[column] = [TableColumnDep(asset_key=origin[column], column_name=column)]
    if agg.window is not None and agg.window.column in origin:
        deps["window_start"] = [TableColumnDep(asset_key=origin[agg.window.column], column_name=agg.window.column)]
    for metric_name, metric in agg.parsed_metrics.items():
        if metric.column is not None and metric.column in origin:
            deps[metric_name] = [TableColumnDep(asset_key=origin[metric.column], column_name=metric.column)]
    return TableColumnLineage(deps_by_column=deps)


def _join_input_name(table: str) -> str:
    return f"join_{table}"


def build_aggregate_asset(spec: PipelineSpec, name: str, partitions_def: PartitionsDefinition | None) -> AssetsDefinition:
    agg = spec.aggregates[name]
    storage = spec.storage_for(agg)
    partitioned = agg.partitioned

    def input_for(table: str) -> AssetIn:
        # An unpartitioned aggregate over a partitioned table reads whatever partitions exist,
        # so a sensor run for one new day can refresh it before the whole range has landed.
        # It streams them (chunks of partitions, see aggregate_engine) rather than concatenate.
        reads_all = spec.is_clean_partitioned(table) and not partitioned
        metadata = {"allow_missing_partitions": reads_all, STREAM_PARTITIONS: reads_all}
        return AssetIn(key=clean_key(spec.pipeline, table), metadata=metadata)

    ins = {"source": input_for(agg.source)}
    for join in agg.join:
        ins[_join_input_name(join.table)] = input_for(join.table)
    lineage = _aggregate_lineage(spec, name)

    @asset(
        key=agg_key(spec.pipeline, name),
        group_name=spec.pipeline,
        description=agg.description or f"Aggregate of {agg.source}",
        metadata=aggregate_column_metadata(agg),
        ins=ins,
        io_manager_key=IO_MANAGER_KEYS[storage],
        kinds={"pandas", storage},
        check_specs=[
            *aggregate_check_specs(spec, name),
            *drift_check_specs(agg.schema_drift, agg_key(spec.pipeline, name)),
        ],
        **partitioning(partitioned, partitions_def),
    )
    @traced_step(spec.pipeline, "agg", agg_key(spec.pipeline, name))
    def aggregate_asset(context: AssetExecutionContext, source: Any, **joined: Any):
        # source/joined: a DataFrame, or PartitionFrames (unread partitions) for a streamed aggregate
        started = time.perf_counter()
        joins = {join.table: joined[_join_input_name(join.table)] for join in agg.join}
        result, engine_metadata = compute_aggregate(context, spec, name, source, joins)
        stats = result.stats
        range_keys = multi_partition_keys(context, partitioned)
        quality = evaluate_aggregate(spec, name, result.frame, context, partitions=range_keys)
        drift = evaluate_drift(context.instance, agg_key(spec.pipeline, name), quality.frame, agg.schema_drift, aggregate_nullability(agg))
        record_rows(rows_in=stats.rows_in, rows_out=len(quality.frame))
        groups = rows_by_partition(quality.frame, range_keys)
        add_partition_metadata(
            context,
            agg_key(spec.pipeline, name),
            {
                key: {"groups_out": groups[key], **quality.metadata_by_partition[key]}
                for key in range_keys
            },
        )
        yield Output(
            quality.frame,
            metadata={
                **drift.metadata,
                "rows_in": stats.rows_in,
                "groups_out": stats.groups_out,
                "groups_filtered_by_having": stats.groups_filtered_by_having,
                "dagster/column_lineage": lineage,
                LINEAGE_TABLE_KEY: lineage_table(lineage),  # the same, visible in the OSS UI
                **_timing(started, stats.rows_in),
                **worker_metadata(),
                **quality.metadata,
                **engine_metadata,
            },
        )
        yield from quality.results
        if drift.check is not None:
            yield drift.check

    return aggregate_asset
