"""The stored anomaly reference of a clean table with ``anomalies: {reference: {window: ...}}``.

The reference (:class:`~etl_assets.lib.quality.anomaly_reference.AnomalyReference`) is fitted
once on the clean rows of the declared window of partitions and recorded on the Dagster
instance as an ``AssetObservation`` of the table (the JSON document, its content-hashed
version and the window), so every later run, on any machine sharing the instance, reuses it.
It is looked up by what it was fitted for (the window and the fitted settings: columns, groups,
forest sample size and seed), never by run; thresholds, contamination and tree count apply at
scoring time and may change without a refit.

When no reference is stored yet, the window's rows are taken from the run (partitions it is
building) and from storage (partitions already materialized); the fit is independent of where
they came from and of their order, so any run fits the same reference. A window partition
that is neither in the run nor stored stops the run, naming it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    Failure,
    MetadataValue,
    PartitionKeyRange,
    PartitionsDefinition,
    build_input_context,
)

from etl_assets.lib.quality.anomaly import AnomalyConfig
from etl_assets.lib.quality.anomaly_reference import AnomalyReference, fit_reference
from etl_assets.lib.spec.models import PARTITION_COLUMN, AnomalyWindowSpec

FIT_KEY = "anomaly_reference_fit"
VERSION_KEY = "anomaly_reference_version"
WINDOW_KEY = "anomaly_reference_window"
DOCUMENT_KEY = "anomaly_reference"
#: How many of the table's newest observations are searched for a stored reference.
LOOKUP_LIMIT = 200


@dataclass(frozen=True)
class ResolvedReference:
    reference: AnomalyReference
    #: ``stored`` (reused from the instance) or ``fitted`` (fitted by this run and recorded).
    origin: str
    window: AnomalyWindowSpec

    @property
    def window_text(self) -> str:
        return f"{self.window.start}..{self.window.end}"


def fit_id(config: AnomalyConfig, window: AnomalyWindowSpec) -> str:
    """What a reference was fitted for: the window and the settings the fit depends on."""
    fitted = {
        "window": [window.start, window.end],
        "zscore": [
            {"columns": list(z.columns), "group_by": list(z.group_by)}
            for z in config.zscore_configs
        ],
        "isolation_forest": None
        if config.isolation_forest is None
        else {
            "columns": list(config.isolation_forest.columns),
            "sample_size": config.isolation_forest.sample_size,
            "random_state": config.isolation_forest.random_state,
        },
    }
    return hashlib.sha256(json.dumps(fitted, sort_keys=True).encode()).hexdigest()[:16]


def _stored(
    context: AssetExecutionContext, asset_key: AssetKey, wanted: str
) -> AnomalyReference | None:
    records = context.instance.fetch_observations(asset_key, limit=LOOKUP_LIMIT).records
    for record in records:
        observation = record.asset_observation
        if observation is None or FIT_KEY not in observation.metadata:
            continue
        if observation.metadata[FIT_KEY].value == wanted:
            document = observation.metadata[DOCUMENT_KEY].value
            return AnomalyReference.from_json(json.dumps(document))
    return None


def _window_rows(
    context: AssetExecutionContext,
    frame: pd.DataFrame,
    asset_key: AssetKey,
    io_manager_key: str,
    partitions_def: PartitionsDefinition,
    window: AnomalyWindowSpec,
) -> pd.DataFrame:
    """The clean rows of every window partition, from this run or from storage."""
    try:
        keys = partitions_def.get_partition_keys_in_range(
            PartitionKeyRange(window.start, window.end)
        )
    except Exception as exc:  # Dagster raises several types for keys outside the definition
        raise Failure(
            f"{asset_key.to_user_string()}: anomalies.reference.window {window.start}..{window.end} is not a range "
            f"of this pipeline's partitions ({exc})",
            allow_retries=False,
        ) from exc
    in_run = (
        frame[PARTITION_COLUMN].astype("string")
        if PARTITION_COLUMN in frame.columns
        else pd.Series(dtype="string")
    )
    parts = [frame[in_run.isin(keys).fillna(False).to_numpy(dtype=bool)]] if len(in_run) else []
    present = set(in_run.dropna().unique().tolist())
    manager = getattr(context.resources, io_manager_key)
    missing: list[str] = []
    for key in keys:
        if key in present:
            continue
        try:
            stored = manager.load_input(
                build_input_context(
                    asset_key=asset_key,
                    instance=context.instance,
                    partition_key=key,
                    asset_partitions_def=partitions_def,
                )
            )
        except FileNotFoundError:
            missing.append(key)
            continue
        parts.append(stored)
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise Failure(
            f"{asset_key.to_user_string()}: the anomaly reference is fitted on partitions {window.start}..{window.end}, "
            f"but {len(missing)} of them are neither in this run nor materialized: {shown}. Build the window first "
            "(e.g. one run over the range), then this partition.",
            allow_retries=False,
        )
    columns = sorted({c for part in parts for c in part.columns})
    return (
        pd.concat([p.reindex(columns=columns) for p in parts], ignore_index=True)
        if parts
        else frame.iloc[:0]
    )


def resolve_reference(
    context: AssetExecutionContext,
    frame: pd.DataFrame,
    config: AnomalyConfig,
    window: AnomalyWindowSpec,
    *,
    asset_key: AssetKey,
    io_manager_key: str,
    partitions_def: PartitionsDefinition,
) -> ResolvedReference:
    """The stored reference for ``window``, or one fitted now (and recorded on the instance)."""
    wanted = fit_id(config, window)
    stored = _stored(context, asset_key, wanted)
    if stored is not None:
        return ResolvedReference(reference=stored, origin="stored", window=window)
    rows = _window_rows(context, frame, asset_key, io_manager_key, partitions_def, window)
    reference = fit_reference(
        rows, config, about={"window": {"start": window.start, "end": window.end}}
    )
    context.log_event(
        AssetObservation(
            asset_key=asset_key,
            description=f"anomaly reference {reference.version} fitted on {reference.rows} rows of partitions {window.start}..{window.end}",
            metadata={
                FIT_KEY: MetadataValue.text(wanted),
                VERSION_KEY: MetadataValue.text(reference.version),
                WINDOW_KEY: MetadataValue.text(f"{window.start}..{window.end}"),
                "anomaly_reference_rows": MetadataValue.int(reference.rows),
                DOCUMENT_KEY: MetadataValue.json(reference.document),
            },
        )
    )
    return ResolvedReference(reference=reference, origin="fitted", window=window)
