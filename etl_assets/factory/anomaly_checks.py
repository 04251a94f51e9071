"""The ``anomaly_rate`` check of a clean table with an ``anomalies:`` block.

The clean multi_asset tags its output (:func:`tag_clean_output`) and yields the check result the
tagging produced: the share of flagged rows against ``max_rate``, the counts per rule, and the
top anomalies with their reasons (a small sample, never the table).

A partitioned table is tagged partition by partition (:mod:`etl_assets.lib.quality.anomaly_partitions`),
so a partition's tags do not depend on which other partitions shared its run; with
``reference: {window: ...}`` every row is scored against the stored reference of that window
(:mod:`etl_assets.factory.anomaly_reference`). The check also shows the rate of each partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MetadataValue,
    PartitionsDefinition,
)

from etl_assets.lib.spec.models import PARTITION_COLUMN, CleanSpec

if TYPE_CHECKING:
    from etl_assets.lib.quality.anomaly import AnomalyResult

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
    from etl_assets.lib.quality.schema import pii_columns
    from etl_assets.lib.quality.semantic import SEMANTIC_TYPES

    patterns = clean.anomalies.pattern_columns if clean.anomalies is not None else {}
    return pii_columns(clean) | {c for c, kind in patterns.items() if kind in SEMANTIC_TYPES and SEMANTIC_TYPES[kind].pii}


def _masked(rows: list[dict[str, Any]], clean: CleanSpec) -> list[dict[str, Any]]:
    """The top anomalies with PII values masked, as in the schema check's failing-row sample."""
    from etl_assets.lib.quality.schema import mask_pii

    hidden = _pii(clean)
    return [{k: (mask_pii(v) if k in hidden and v is not None else v) for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class ReferenceContext:
    """What resolving a window reference needs: the run, where the table is stored, its partitions."""

    context: AssetExecutionContext
    io_manager_key: str
    partitions_def: PartitionsDefinition | None


def _rates_by_partition(tagged: pd.DataFrame) -> dict[str, float]:
    if PARTITION_COLUMN not in tagged.columns or tagged.empty:
        return {}
    from etl_assets.lib.quality.anomaly import FLAG_COLUMN

    rates = tagged[FLAG_COLUMN].groupby(tagged[PARTITION_COLUMN].astype("string"), sort=True).mean()
    return {str(key): float(rate) for key, rate in rates.items()}


def _verdict(rate: float, by_partition: dict[str, float], max_rate: float) -> tuple[bool, str, dict[str, float]]:
    """Pass when every partition of the run (or the table) is within ``max_rate``: a partition's
    verdict is then the same in any run, whatever the other partitions' rates."""
    threshold = f"the threshold {max_rate:.3%}"
    above = {key: r for key, r in by_partition.items() if r > max_rate}
    if not by_partition:
        return rate <= max_rate, f"{'within' if rate <= max_rate else 'above'} {threshold}", {}
    if not above:
        return True, f"every partition within {threshold}", {}
    shown = ", ".join(f"{key} ({r:.3%})" for key, r in list(above.items())[:5]) + (" ..." if len(above) > 5 else "")
    return False, f"{len(above)} of {len(by_partition)} partition(s) above {threshold}: {shown}", above


def _tag(
    clean: CleanSpec, frame: pd.DataFrame, asset_key: AssetKey, run: ReferenceContext | None
) -> tuple[AnomalyResult, dict[str, Any]]:
    """Tag ``frame`` against the reference the spec declares; metadata naming that reference."""
    spec = clean.anomalies
    assert spec is not None
    # The scoring libraries (scikit-learn) load when a step tags, not with the definitions.
    from etl_assets.factory.anomaly_reference import VERSION_KEY, WINDOW_KEY, resolve_reference
    from etl_assets.lib.quality.anomaly import tag_anomalies
    from etl_assets.lib.quality.anomaly_partitions import tag_anomalies_per_partition
    from etl_assets.lib.quality.anomaly_spec import anomaly_config

    config = anomaly_config(spec)
    if isinstance(spec.reference, str):
        result = tag_anomalies_per_partition(frame, config).result
        name = PER_PARTITION if PARTITION_COLUMN in frame.columns else WHOLE_TABLE
        return result, {"anomaly_reference": MetadataValue.text(name)}
    if run is None or run.partitions_def is None:
        raise Failure(f"{asset_key.to_user_string()}: anomalies.reference.window needs a partitioned table", allow_retries=False)
    resolved = resolve_reference(
        run.context,
        frame,
        config,
        spec.reference.window,
        asset_key=asset_key,
        io_manager_key=run.io_manager_key,
        partitions_def=run.partitions_def,
    )
    result = tag_anomalies(frame, config, resolved.reference)
    return result, {
        "anomaly_reference": MetadataValue.text("window"),
        VERSION_KEY: MetadataValue.text(resolved.reference.version),
        WINDOW_KEY: MetadataValue.text(resolved.window_text),
        "anomaly_reference_origin": MetadataValue.text(resolved.origin),
    }


def tag_clean_output(
    clean: CleanSpec, frame: pd.DataFrame, asset_key: AssetKey, run: ReferenceContext | None = None
) -> tuple[pd.DataFrame, AssetCheckResult | None, dict[str, Any]]:
    """``frame`` tagged with the anomaly columns, the ``anomaly_rate`` check result and the
    materialization metadata naming the reference (or ``frame`` unchanged, None and ``{}``).

    ``run`` is needed for a window reference (stored on the instance, fitted from storage)."""
    from etl_assets.lib.quality.anomaly import top_anomalies

    spec = clean.anomalies
    if spec is None:
        return frame, None, {}
    result, reference_metadata = _tag(clean, frame, asset_key, run)
    stats = result.stats
    by_partition = _rates_by_partition(result.frame)
    passed, verdict, above = _verdict(stats.rate, by_partition, spec.max_rate)
    severity = AssetCheckSeverity.ERROR if spec.severity == "error" else AssetCheckSeverity.WARN
    check = AssetCheckResult(
        check_name=ANOMALY_CHECK,
        asset_key=asset_key,
        passed=passed,
        severity=severity,
        description=f"{stats.anomalies} of {stats.rows} rows tagged as anomalies ({stats.rate:.3%}), {verdict}",
        metadata={
            "anomaly_rate": MetadataValue.float(round(stats.rate, 6)),
            "max_rate": MetadataValue.float(spec.max_rate),
            "anomalies": MetadataValue.int(stats.anomalies),
            "rows": MetadataValue.int(stats.rows),
            "anomalies_by_rule": MetadataValue.json(stats.by_rule),
            **reference_metadata,
            **({"anomaly_rate_by_partition": MetadataValue.json({k: round(r, 6) for k, r in by_partition.items()})} if by_partition else {}),
            **({"partitions_above_max_rate": MetadataValue.json({k: round(r, 6) for k, r in above.items()})} if above else {}),
            "top_anomalies": MetadataValue.json(_masked(top_anomalies(result.frame, spec.sample_rows, _sample_columns(clean)), clean)),
        },
    )
    return result.frame, check, reference_metadata
