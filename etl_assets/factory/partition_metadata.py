"""Each partition's own figures in a multi-partition run, not the run's totals.

A partition-range run (a backfill's single run, the demo's year in one run) builds every partition
of the range from one frame, and Dagster gives each partition's materialization the step's output
metadata unless metadata is added for that partition
(``AssetExecutionContext.add_asset_metadata(..., partition_key=)``). Without this every day of a
year run would show the year's conservation counts and quality score (each partition's
``dagster/row_count`` is the IO managers' part: ``lib/io/partition_metadata.py``). The counts
come from the frames' ``_partition`` column; a partition with no row left gets zeros, not the run's.
What stays the run's: timings, the rejected-row reasons by kind and the check results, which
judge the step as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetKey

from etl_assets.lib.spec import PARTITION_COLUMN


def multi_partition_keys(context: AssetExecutionContext, partitioned: bool) -> list[str]:
    """The partitions the step builds, when it builds more than one (else empty)."""
    if not partitioned or not context.has_partition_key_range:
        return []
    keys = list(context.partition_keys)
    return keys if len(keys) > 1 else []


def rows_by_partition(frame: pd.DataFrame, keys: Sequence[str]) -> dict[str, int]:
    """Rows of ``frame`` in each of ``keys`` (0 for a key with none)."""
    if PARTITION_COLUMN not in frame.columns:
        return dict.fromkeys(keys, 0)
    counts = frame[PARTITION_COLUMN].astype("string").value_counts()
    return {key: int(counts.get(key, 0)) for key in keys}


def add_partition_metadata(
    context: AssetExecutionContext, asset_key: AssetKey, by_partition: Mapping[str, Mapping[str, Any]]
) -> None:
    for key, metadata in by_partition.items():
        context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=key)


def clean_stats_by_partition(
    raw: pd.DataFrame, clean: pd.DataFrame, rejected: pd.DataFrame, keys: Sequence[str]
) -> dict[str, Any]:
    """What the clean step did in each partition: :class:`CleanStats` per key (rows removed as
    duplicates are what is neither kept nor rejected, so each partition conserves its rows)."""
    from etl_assets.lib.transforms.rejects import DROPPED, REASON_KIND
    from etl_assets.lib.transforms.results import CleanStats

    rows_in, rows_out = rows_by_partition(raw, keys), rows_by_partition(clean, keys)
    rows_rejected = rows_by_partition(rejected, keys)
    dropped = rejected[rejected[REASON_KIND] == DROPPED] if REASON_KIND in rejected.columns else rejected.iloc[:0]
    rows_dropped = rows_by_partition(dropped, keys)
    return {
        key: CleanStats(
            rows_in=rows_in[key],
            rows_out=rows_out[key],
            rows_rejected=rows_rejected[key],
            rows_dropped=rows_dropped[key],
            rows_deduplicated=rows_in[key] - rows_out[key] - rows_rejected[key],
        )
        for key in keys
    }


def raw_metadata_by_partition(frame: pd.DataFrame, keys: Sequence[str]) -> dict[str, dict[str, int]]:
    """Files read and rows with parse errors per partition (the IO manager records the rows)."""
    by_partition: dict[str, dict[str, int]] = {key: {} for key in keys}
    if PARTITION_COLUMN not in frame.columns:
        return by_partition
    grouped = frame.groupby(frame[PARTITION_COLUMN].astype("string"), observed=True, sort=False)
    if "_source_file" in frame.columns:
        files = grouped["_source_file"].nunique()
        for key in keys:
            by_partition[key]["files_read"] = int(files.get(key, 0))
    if "_parse_error" in frame.columns:
        errors = grouped["_parse_error"].count()
        for key in keys:
            by_partition[key]["rows_with_parse_errors"] = int(errors.get(key, 0))
    return by_partition
