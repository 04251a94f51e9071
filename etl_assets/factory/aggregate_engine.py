"""Which engine computes an aggregate step, and the metadata that says which one ran.

An unpartitioned aggregate over a partitioned clean table asks its IO manager for the partitions
unread (input metadata ``etl_assets/stream_partitions``); the file IO managers then hand over a
:class:`~etl_assets.lib.io.partition_stream.PartitionFrames` and the aggregate is computed a
partition at a time (``aggregate_streaming``), never holding the whole history:

* ``streaming``: every metric is mergeable and was combined from per-partition results;
* ``duckdb``: as streaming, plus ``median``/``std``/``nunique`` computed by DuckDB, which spills
  to a temporary folder beyond its memory limit and uses the step's share of the CPUs;
* ``in_memory``: one frame, as before: a partitioned aggregate, an input that is already one
  frame (an unpartitioned table, a single partition, PostgreSQL storage), or a case the streamed
  path cannot guarantee equal (``etl_assets/aggregate_engine_reason`` says which).
"""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext

from etl_assets.factory.step_threads import step_threads
from etl_assets.lib.io.partition_stream import PartitionFrames
from etl_assets.lib.spec import PARTITION_COLUMN, AggregateSpec, PipelineSpec
from etl_assets.lib.transforms.results import AggregateResult

ENGINE_KEY = "etl_assets/aggregate_engine"
REASON_KEY = "etl_assets/aggregate_engine_reason"
#: DuckDB's memory before it spills (its own buffers; pandas' per-partition frames come on top).
DUCKDB_MEMORY_LIMIT = "256MB"


def _frame(value: Any) -> pd.DataFrame:
    return value.to_frame() if isinstance(value, PartitionFrames) else value


def _needed_columns(
    agg: AggregateSpec, joins: Mapping[str, pd.DataFrame], source: PartitionFrames
) -> set[str]:
    """The source columns the aggregate uses (the others are not converted to pandas).

    Raises NotStreamable when one is missing, so that the in-memory path reports it with the
    table's full column list, as before."""
    from etl_assets.lib.transforms.aggregate_streaming import NotStreamable

    used = set(agg.group_by) | {
        m.column for m in agg.parsed_metrics.values() if m.column is not None
    }
    if agg.window is not None:
        used.add(agg.window.column)
    brought: set[str] = set()
    for join in agg.join:
        used |= set(join.on)
        other = joins.get(join.table)
        if join.columns is not None:
            brought |= set(join.columns)
        elif other is not None:
            brought |= {c for c in other.columns if c not in join.on}
    stored = set(source.unified().column_names)
    missing = sorted(c for c in used - brought if c not in stored)
    if missing:
        raise NotStreamable(
            f"column(s) {', '.join(map(repr, missing))} not in the stored partitions"
        )
    # brought columns that also exist in the source are kept, so a join still sees the clash
    return (used - brought) | (brought & stored)


def compute_aggregate(
    context: AssetExecutionContext,
    spec: PipelineSpec,
    name: str,
    source: pd.DataFrame | PartitionFrames,
    joins: Mapping[str, Any],
) -> tuple[AggregateResult, dict[str, Any]]:
    """The aggregate's result and metadata naming the engine that ran (see the module docstring)."""
    from etl_assets.lib.transforms import aggregate
    from etl_assets.lib.transforms.aggregate_duckdb import DuckDBLimits
    from etl_assets.lib.transforms.aggregate_streaming import NotStreamable, aggregate_streamed

    agg = spec.aggregates[name]
    frames = {table: _frame(value) for table, value in joins.items()}
    reason = "the input is one frame (unpartitioned, one partition, or a database table)"
    if isinstance(source, PartitionFrames) and not agg.partitioned:
        limits = DuckDBLimits(memory_limit=DUCKDB_MEMORY_LIMIT, threads=step_threads(spec))
        try:
            columns = _needed_columns(agg, frames, source)
            streamed = aggregate_streamed(
                (frame for _, frame in source.frames(columns=columns)),
                agg,
                joins=frames,
                limits=limits,
            )
        except NotStreamable as exc:
            reason = str(exc)
            context.log.info(f"aggregate {name!r} computed in memory: {reason}")
        else:
            metadata: dict[str, Any] = {
                ENGINE_KEY: streamed.engine,
                "etl_assets/aggregate_partitions_read": len(source),
                "etl_assets/aggregate_chunks": streamed.chunks,
            }
            if streamed.engine == "duckdb":
                metadata["etl_assets/duckdb_rows_spilled"] = streamed.spilled_rows
                metadata["etl_assets/duckdb_threads"] = limits.threads
                metadata["etl_assets/duckdb_memory_limit"] = limits.memory_limit
            return streamed.result, metadata
    frame = _frame(source)
    if not agg.partitioned and PARTITION_COLUMN in frame:
        frame = frame.drop(columns=[PARTITION_COLUMN])
    if agg.partitioned:
        reason = "a partitioned aggregate reads only its own partitions"
    return aggregate(frame, agg, joins=frames), {ENGINE_KEY: "in_memory", REASON_KEY: reason}
