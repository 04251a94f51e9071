"""The ``anomaly_rate`` check of a clean table with an ``anomalies:`` block.

The clean multi_asset tags its output (:func:`tag_clean_output`) and yields the check result the
tagging produced: the share of flagged rows against ``max_rate``, the counts per rule, and the
top anomalies with their reasons (a small sample, never the table).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from etl_assets.lib.spec.models import CleanSpec

ANOMALY_CHECK = "anomaly_rate"


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
    from etl_assets.lib.quality.schema import pii_columns
    from etl_assets.lib.quality.semantic import SEMANTIC_TYPES

    patterns = clean.anomalies.pattern_columns if clean.anomalies is not None else {}
    return pii_columns(clean) | {c for c, kind in patterns.items() if kind in SEMANTIC_TYPES and SEMANTIC_TYPES[kind].pii}


def _masked(rows: list[dict[str, Any]], clean: CleanSpec) -> list[dict[str, Any]]:
    """The top anomalies with PII values masked, as in the schema check's failing-row sample."""
    from etl_assets.lib.quality.schema import mask_pii

    hidden = _pii(clean)
    return [{k: (mask_pii(v) if k in hidden and v is not None else v) for k, v in row.items()} for row in rows]


def tag_clean_output(clean: CleanSpec, frame: pd.DataFrame, asset_key: AssetKey) -> tuple[pd.DataFrame, AssetCheckResult | None]:
    """``frame`` tagged with the anomaly columns and the ``anomaly_rate`` check result (or unchanged and None)."""
    from etl_assets.lib.quality.anomaly import tag_anomalies, top_anomalies
    from etl_assets.lib.quality.anomaly_spec import anomaly_config

    spec = clean.anomalies
    if spec is None:
        return frame, None
    result = tag_anomalies(frame, anomaly_config(spec))
    stats = result.stats
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
            "top_anomalies": MetadataValue.json(_masked(top_anomalies(result.frame, spec.sample_rows, _sample_columns(clean)), clean)),
        },
    )
    return result.frame, check
