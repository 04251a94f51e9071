"""The ``anomaly_rate`` check of a clean table with an ``anomalies:`` block.

The clean multi_asset tags its output (:func:`tag_clean_output`) and yields the check result the
tagging produced: the share of flagged rows against ``max_rate``, the counts per rule, and the
top anomalies with their reasons (a small sample, never the table).

A partitioned table is tagged partition by partition (:mod:`etl_assets.lib.quality.anomaly_partitions`),
so a partition's tags do not depend on which other partitions shared its run; the check then
also shows the rate of each partition.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from etl_assets.lib.quality.anomaly import top_anomalies
from etl_assets.lib.quality.anomaly_partitions import tag_anomalies_per_partition
from etl_assets.lib.quality.anomaly_spec import anomaly_config
from etl_assets.lib.quality.schema import mask_pii, pii_columns
from etl_assets.lib.spec.models import PARTITION_COLUMN, CleanSpec

ANOMALY_CHECK = "anomaly_rate"
#: What each row was scored against, recorded on the materialization and the check.
PER_PARTITION = "per_partition"
WHOLE_TABLE = "whole_table"


def anomaly_check_specs(clean: CleanSpec, asset_key: AssetKey) -> list[AssetCheckSpec]:
    if clean.anomalies is None:
        return []
    return [
        AssetCheckSpec(
            ANOMALY_CHECK,
            asset=asset_key,
            blocking=clean.anomalies.blocking,
            description=f"share of rows tagged _is_anomaly <= {clean.anomalies.max_rate:g}",
        )
    ]


def _sample_columns(clean: CleanSpec) -> list[str]:
    spec = clean.anomalies
    assert spec is not None
    # what identifies a row: the dedup keys, else the first declared column
    cols: list[str] = list(clean.dedup.keys) if clean.dedup is not None and clean.dedup.keys else list(clean.columns)[:1]
    for block in spec.zscore_blocks:
        cols += [*block.group_by, *block.columns]
    if spec.isolation_forest is not None:
        cols += spec.isolation_forest.columns
    cols += list(spec.pattern_columns)
    return list(dict.fromkeys(cols))


def _pii(clean: CleanSpec) -> set[str]:
    """Columns declared, or tagged by pattern anomalies, with a personally identifiable type."""
    from etl_assets.lib.quality.semantic import SEMANTIC_TYPES

    patterns = clean.anomalies.pattern_columns if clean.anomalies is not None else {}
    return pii_columns(clean) | {c for c, kind in patterns.items() if kind in SEMANTIC_TYPES and SEMANTIC_TYPES[kind].pii}


def _masked(rows: list[dict[str, Any]], clean: CleanSpec) -> list[dict[str, Any]]:
    """The top anomalies with PII values masked, as in the schema check's failing-row sample."""
    hidden = _pii(clean)
    return [{k: (mask_pii(v) if k in hidden and v is not None else v) for k, v in row.items()} for row in rows]


def tag_clean_output(
    clean: CleanSpec, frame: pd.DataFrame, asset_key: AssetKey
) -> tuple[pd.DataFrame, AssetCheckResult | None, dict[str, Any]]:
    """``frame`` tagged with the anomaly columns, the ``anomaly_rate`` check result and the
    materialization metadata naming the reference (or ``frame`` unchanged, None and ``{}``)."""
    spec = clean.anomalies
    if spec is None:
        return frame, None, {}
    tagged = tag_anomalies_per_partition(frame, anomaly_config(spec))
    result, stats = tagged.result, tagged.result.stats
    reference = PER_PARTITION if PARTITION_COLUMN in frame.columns else WHOLE_TABLE
    by_partition = {key: round(part.rate, 6) for key, part in tagged.by_partition.items()}
    passed = stats.rate <= spec.max_rate
    severity = AssetCheckSeverity.ERROR if spec.severity == "error" else AssetCheckSeverity.WARN
    verdict = "within" if passed else "above"
    check = AssetCheckResult(
        check_name=ANOMALY_CHECK,
        asset_key=asset_key,
        passed=passed,
        severity=severity,
        description=f"{stats.anomalies} of {stats.rows} rows tagged as anomalies ({stats.rate:.3%}), {verdict} the threshold {spec.max_rate:.3%}",
        metadata={
            "anomaly_rate": MetadataValue.float(round(stats.rate, 6)),
            "max_rate": MetadataValue.float(spec.max_rate),
            "anomalies": MetadataValue.int(stats.anomalies),
            "rows": MetadataValue.int(stats.rows),
            "anomalies_by_rule": MetadataValue.json(stats.by_rule),
            "anomaly_reference": MetadataValue.text(reference),
            **({"anomaly_rate_by_partition": MetadataValue.json(by_partition)} if by_partition else {}),
            "top_anomalies": MetadataValue.json(_masked(top_anomalies(result.frame, spec.sample_rows, _sample_columns(clean)), clean)),
        },
    )
    return result.frame, check, {"anomaly_reference": MetadataValue.text(reference)}
