"""Wiring of schema mapping into the clean multi_asset (kept out of ``assets.py``).

A clean table with a ``mapping`` block maps each input (``from`` and every ``also_from``
source) to its declared columns before cleaning; inputs are then appended in order. Applied
mappings go to the clean output's metadata; the blocking ``mapping`` check fails when a
declared column has no confident source, listing the proposals (accept them with
``etl-assets mapping accept``). The ``from`` source, once mapped, is the "previous data" whose
values the other sources' columns are compared with.
"""

from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
)

from etl_assets.factory.keys import clean_key, raw_key
from etl_assets.lib.spec import PipelineSpec
from etl_assets.lib.spec.models import CleanSpec

MAPPING_CHECK = "mapping"
EMBEDDING_RESOURCE = "embedding_model"


def _input_name(source: str) -> str:
    return f"also_{source}"


def mapping_ins(spec: PipelineSpec, name: str) -> dict[str, AssetIn]:
    return {_input_name(s): AssetIn(key=raw_key(spec.pipeline, s)) for s in spec.clean[name].also_from}


def mapping_check_specs(spec: PipelineSpec, name: str) -> list[AssetCheckSpec]:
    if spec.clean[name].mapping is None:
        return []
    return [
        AssetCheckSpec(
            MAPPING_CHECK,
            asset=clean_key(spec.pipeline, name),
            blocking=True,
            description="every declared column has an accepted or confident source column in every input",
        )
    ]


def mapping_resource_keys(clean: CleanSpec) -> set[str]:
    return {EMBEDDING_RESOURCE} if clean.mapping is not None and clean.mapping.embeddings else set()


def map_inputs(
    context: AssetExecutionContext, raw: pd.DataFrame, also: dict[str, pd.DataFrame], spec: PipelineSpec, name: str
) -> tuple[pd.DataFrame, list[AssetCheckResult], dict[str, Any]]:
    """The inputs mapped to the declared columns and appended; the mapping check; metadata."""
    # scipy and rapidfuzz load at run time, not with the definitions
    from etl_assets.lib.mapping import expected_columns, map_columns

    clean = spec.clean[name]
    if clean.mapping is None:
        return raw, [], {}
    embedder = context.resources.embedding_model.encode if clean.mapping.embeddings else None
    applied: dict[str, dict[str, Any]] = {}
    unresolved: dict[str, list[dict[str, object]]] = {}
    frames = []
    previous = None
    for source in clean.all_sources:
        primary = source == clean.source
        frame = raw if primary else also[_input_name(source)]
        expected = expected_columns(clean.columns, primary=primary)
        outcome = map_columns(
            frame,
            clean.columns,
            expected=expected,
            accepted=clean.mapping.accepted.get(source, {}),
            threshold=clean.mapping.threshold,
            previous=previous,
            embedder=embedder,
        )
        mapped = outcome.frame
        if not primary:  # appended under the primary source's column names
            primary_names = expected_columns(clean.columns, primary=True)
            mapped = mapped.rename(columns={expected[t]: primary_names[t] for t in clean.columns})
        frames.append(mapped)
        applied[source] = {
            **{s: {"target": t, "how": "accepted"} for s, t in outcome.accepted.items()},
            **{s: {"target": p.target, "how": "automatic", "confidence": round(p.confidence, 3)} for s, p in outcome.automatic.items()},
        }
        if outcome.unresolved:
            unresolved[source] = [p.as_dict() for p in outcome.unresolved]
        if primary:
            previous = mapped.rename(columns={v: k for k, v in expected.items()})
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    passed = not unresolved
    listing = "; ".join(
        f"{source}: " + ", ".join(f"{p['target']} <- {p['source']} ({p['confidence']})" for p in items)
        for source, items in unresolved.items()
    )
    check = AssetCheckResult(
        check_name=MAPPING_CHECK,
        asset_key=clean_key(spec.pipeline, name),
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "every declared column mapped"
            if passed
            else f"declared columns without a confident source (threshold {clean.mapping.threshold}): {listing}. "
            f"Accept with: etl-assets mapping accept <pipeline file> {name}"
        ),
        metadata={
            "applied": MetadataValue.json(applied),
            "proposals": MetadataValue.json(unresolved),
            "threshold": float(clean.mapping.threshold),
        },
    )
    return combined, [check], {"mapping_applied": MetadataValue.json(applied)}
