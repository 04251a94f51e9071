"""Anomaly tags of a partitioned table: each partition scored against its own rows only.

A Dagster run can hold one partition or a range of them (a single-run backfill). Statistics
fitted on whatever the run holds (medians, MADs, an IsolationForest) would make a row's tags
depend on which other partitions shared its run, so a day rebuilt alone would get different
tags than the same day built inside January. Here the frame is split on the partition column
and each partition is tagged on its own: a partition's tags are a function of its rows only,
whatever run builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl_assets.lib.quality.anomaly import AnomalyConfig, AnomalyResult, AnomalyStats, tag_anomalies
from etl_assets.lib.spec import PARTITION_COLUMN


@dataclass(frozen=True)
class PartitionedAnomalyResult:
    #: The whole frame, tagged, rows in their original order.
    result: AnomalyResult
    #: Counts per partition key (empty when the frame has no partition column).
    by_partition: dict[str, AnomalyStats]


def _combined(parts: list[AnomalyStats]) -> AnomalyStats:
    by_rule: dict[str, int] = {}
    for stats in parts:
        for rule, count in stats.by_rule.items():
            by_rule[rule] = by_rule.get(rule, 0) + count
    return AnomalyStats(
        rows=sum(s.rows for s in parts), anomalies=sum(s.anomalies for s in parts), by_rule=by_rule
    )


def tag_anomalies_per_partition(
    frame: pd.DataFrame, config: AnomalyConfig, partition_column: str = PARTITION_COLUMN
) -> PartitionedAnomalyResult:
    """Tag each partition of ``frame`` (by ``partition_column``) independently of the others.

    Without that column (an unpartitioned table) the whole frame is one reference, which is
    the table itself and so reproducible too.
    """
    if partition_column not in frame.columns or frame.empty:
        return PartitionedAnomalyResult(result=tag_anomalies(frame, config), by_partition={})
    keys = frame[partition_column].astype("string").fillna("").to_numpy(dtype=object)
    positions_by_key = {key: np.flatnonzero(keys == key) for key in sorted(set(keys.tolist()))}
    tagged_parts: list[pd.DataFrame] = []
    by_partition: dict[str, AnomalyStats] = {}
    for key, positions in positions_by_key.items():
        part = tag_anomalies(frame.iloc[positions], config)
        tagged_parts.append(part.frame)
        by_partition[key] = part.stats
    if len(tagged_parts) == 1:
        tagged = tagged_parts[0]
    else:
        order = np.concatenate(list(positions_by_key.values()))
        tagged = pd.concat(tagged_parts).iloc[np.argsort(order, kind="stable")]
    stats = _combined(list(by_partition.values()))
    return PartitionedAnomalyResult(
        result=AnomalyResult(frame=tagged, stats=stats), by_partition=by_partition
    )
