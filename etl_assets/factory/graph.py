"""Which generated assets depend on which, computed from the spec alone.

Used to target sensor runs: Dagster's own selection would include partitioned assets in a run
for an unpartitioned file, which cannot run without a partition key.
"""

from __future__ import annotations

from dagster import AssetKey

from etl_assets.factory.keys import agg_key, clean_key, raw_key, rejected_key
from etl_assets.lib.spec import PipelineSpec


def downstream_of_source(spec: PipelineSpec, source: str) -> dict[AssetKey, bool]:
    """Asset keys built from ``source`` (itself included), each mapped to 'is partitioned'."""
    keys: dict[AssetKey, bool] = {raw_key(spec.pipeline, source): spec.sources[source].partitioned}
    tables = {name for name, clean in spec.clean.items() if clean.source == source}
    for table in tables:
        partitioned = spec.is_clean_partitioned(table)
        keys[clean_key(spec.pipeline, table)] = partitioned
        keys[rejected_key(spec.pipeline, table)] = partitioned
    for name, agg in spec.aggregates.items():
        inputs = {agg.source, *(join.table for join in agg.join)}
        if inputs & tables:
            keys[agg_key(spec.pipeline, name)] = agg.partitioned
    return keys


def sensor_targets(spec: PipelineSpec, source: str) -> list[AssetKey]:
    """What a landed file of ``source`` should refresh in one run.

    A partitioned file refreshes its partition of everything downstream (unpartitioned
    aggregates included, over the partitions that exist). An unpartitioned file refreshes the
    unpartitioned assets only; partitioned assets that join it keep their partitions until
    they are backfilled, since one run cannot carry every partition key.
    """
    keys = downstream_of_source(spec, source)
    if spec.sources[source].partitioned:
        return list(keys)
    return [key for key, partitioned in keys.items() if not partitioned]
