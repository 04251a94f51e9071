"""Quality checks of generated assets: schema, references (foreign keys) and quality score.

The checks run inside the asset's own step, on the frame just built, so they are
partition-aware by construction: a run over some partitions checks exactly those rows and
never loads the rest. The builders here only wire Dagster objects; the work is done by
:mod:`etl_assets.lib.quality`.

- ``schema``: the pandera schema of the declared columns and rules (ERROR, blocking unless the
  spec's ``quality.schema_blocking`` is false). Metadata: failures per column and rule and a
  small sample of failing rows.
- ``references``: every ``references`` column against the referenced clean table, loaded through
  that table's IO manager inside the step. The referenced tables are dependencies (``deps``), not
  inputs, so that materializing one table alone still works when a dimension has never been
  built: the check then says which references it could not verify. WARN by default: orphans are
  a consistency score, not a reason to stop the pipeline.
- ``quality_score``: the 0-100 score against ``quality.min_score`` (WARN unless the spec says
  ``severity: error``, which also makes it blocking).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    build_input_context,
)

from etl_assets.factory.keys import agg_key, clean_key
from etl_assets.lib.io import IO_MANAGER_KEYS
from etl_assets.lib.spec import PARTITION_COLUMN, PipelineSpec
from etl_assets.lib.spec.models import QualitySpec

if TYPE_CHECKING:  # the quality modules (pandera, ...) are imported by the check bodies, at run time
    from etl_assets.lib.quality.consistency import OrphanReport
    from etl_assets.lib.quality.schema import SchemaReport
    from etl_assets.lib.quality.score import QualityScore
    from etl_assets.lib.transforms.results import CleanStats

SCHEMA_CHECK = "schema"
REFERENCES_CHECK = "references"
SCORE_CHECK = "quality_score"
SAMPLE_ROWS = 10


def _quality(spec: QualitySpec | None) -> QualitySpec:
    return spec or QualitySpec()


def _severity(level: str) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if level == "error" else AssetCheckSeverity.WARN


def _score_description(quality: QualitySpec) -> str:
    """The quality_score check's description: its threshold and what failing it does."""
    effect = "ERROR, blocks downstream" if quality.severity == "error" else "WARN, does not block"
    return (
        f"quality score (0-100: mean of completeness, uniqueness, validity, consistency"
        f"{', timeliness' if quality.freshness_column else ''}) at least {quality.min_score:g} ({effect})"
    )


def _referenced_tables(spec: PipelineSpec, name: str) -> list[str]:
    """Other clean tables this one references (a self-reference reads the frame itself)."""
    found = {c.reference[0] for c in spec.clean[name].columns.values() if c.reference is not None}
    return sorted(found - {name})


# --------------------------------------------------------------------------- specs and inputs


def clean_check_specs(spec: PipelineSpec, name: str) -> list[AssetCheckSpec]:
    clean = spec.clean[name]
    quality = _quality(clean.quality)
    key = clean_key(spec.pipeline, name)
    scope = " within the partitions of the run" if spec.is_clean_partitioned(name) else ""
    specs = [
        AssetCheckSpec(SCHEMA_CHECK, asset=key, blocking=quality.schema_blocking,
                       description="declared types, nullability, unique, ranges, allowed values, patterns, semantic types and rules (pandera)"
                       + (f"; unique and self-references are checked{scope}" if scope else "")),
        AssetCheckSpec(SCORE_CHECK, asset=key, blocking=quality.severity == "error",
                       description=_score_description(quality)),
    ]
    if any(c.references is not None for c in clean.columns.values()):
        specs.append(AssetCheckSpec(REFERENCES_CHECK, asset=key, blocking=quality.references_severity == "error",
                                    description="every referenced value exists in the referenced clean table"))
    return specs


def clean_reference_deps(spec: PipelineSpec, name: str) -> list[AssetKey]:
    """The referenced (unpartitioned) clean tables: run before this one when both are selected."""
    return [clean_key(spec.pipeline, t) for t in _referenced_tables(spec, name)]


def clean_reference_resources(spec: PipelineSpec, name: str) -> set[str]:
    """IO managers the step loads the referenced tables with."""
    return {IO_MANAGER_KEYS[spec.storage_for(spec.clean[t])] for t in _referenced_tables(spec, name)}


def load_referenced(context: AssetExecutionContext, spec: PipelineSpec, name: str) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The referenced tables through their IO managers, and why any could not be loaded."""
    frames: dict[str, pd.DataFrame] = {}
    missing: dict[str, str] = {}
    for table in _referenced_tables(spec, name):
        manager = getattr(context.resources, IO_MANAGER_KEYS[spec.storage_for(spec.clean[table])])
        key = clean_key(spec.pipeline, table)
        try:
            frames[table] = manager.load_input(build_input_context(asset_key=key, instance=context.instance))
        except FileNotFoundError as exc:
            missing[table] = f"{key.to_user_string()} is not materialized ({exc})"
    return frames, missing


def aggregate_check_specs(spec: PipelineSpec, name: str) -> list[AssetCheckSpec]:
    quality = _quality(spec.aggregates[name].quality)
    key = agg_key(spec.pipeline, name)
    return [
        AssetCheckSpec(SCHEMA_CHECK, asset=key, blocking=quality.schema_blocking,
                       description="group keys, window and metric columns present; one row per group; counts >= 0; having holds"),
        AssetCheckSpec(SCORE_CHECK, asset=key, blocking=quality.severity == "error",
                       description=_score_description(quality)),
    ]


# --------------------------------------------------------------------------- evaluation


@dataclass
class QualityOutcome:
    """What the asset step yields: the frame to store, extra metadata and the check results."""

    frame: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    results: list[AssetCheckResult] = field(default_factory=list)
    #: In a multi-partition run: each partition's own ``quality/*`` metadata (the checks stay
    #: the run's: they judge what the step wrote).
    metadata_by_partition: dict[str, dict[str, Any]] = field(default_factory=dict)


def markdown_table(frame: pd.DataFrame, max_chars: int = 60) -> str:
    """A small frame as a Markdown table (values cut to ``max_chars``), for check metadata."""
    if frame.empty:
        return "(no rows)"

    def cell(value: Any) -> str:
        text = "" if value is None or (not isinstance(value, list | tuple) and pd.isna(value)) else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _reference_time(context: AssetExecutionContext | None, partitioned: bool) -> pd.Timestamp | None:
    """End of the partitions just built (a partition's data is judged against its own period)."""
    if context is None or not partitioned:
        return None
    try:
        return pd.Timestamp(context.partition_time_window.end)
    except Exception:  # not a time-window partition: fall back to now
        return None


def _schema_result(key: Any, report: SchemaReport, blocking_severity: AssetCheckSeverity) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=SCHEMA_CHECK,
        asset_key=key,
        passed=report.passed,
        severity=blocking_severity,
        description=report.describe(),
        metadata={
            "rows_checked": report.rows,
            "failing_rows": int(report.failing_rows().sum()),
            "failures_by_column_and_rule": MetadataValue.json(report.failures),
            "failing_rows_sample": MetadataValue.md(markdown_table(report.sample)),
        },
    )


def _score_result(key: Any, score: QualityScore, quality: QualitySpec) -> AssetCheckResult:
    passed = score.overall >= quality.min_score
    dims = ", ".join(f"{k} {v:.1f}" for k, v in score.dimensions.items())
    verdict = "at least" if passed else "below"
    return AssetCheckResult(
        check_name=SCORE_CHECK,
        asset_key=key,
        passed=passed,
        severity=_severity(quality.severity),
        description=f"score {score.overall:.1f} {verdict} {quality.min_score:g} ({dims})",
        metadata={
            **score.as_metadata(),
            "min_score": float(quality.min_score),
            "counted": MetadataValue.json(score.details),
        },
    )


def _references_result(
    key: Any, reports: dict[str, OrphanReport], unchecked: dict[str, str], quality: QualitySpec, pii: set[str]
) -> AssetCheckResult:
    orphans = sum(r.orphans for r in reports.values())
    described = [r.describe() for r in reports.values()] + [f"{c}: not checked, {why}" for c, why in unchecked.items()]
    return AssetCheckResult(
        check_name=REFERENCES_CHECK,
        asset_key=key,
        passed=orphans == 0 and not unchecked,
        severity=_severity(quality.references_severity),
        description="; ".join(described),
        metadata={
            "not_checked": MetadataValue.json(unchecked),
            "orphan_rows": orphans,
            **{f"orphans/{c}": r.orphans for c, r in reports.items()},
            **{f"coverage/{c}": round(r.coverage, 6) for c, r in reports.items()},
            "orphan_values_sample": MetadataValue.json(
                {c: (r.sample if c not in pii else {"(PII, not shown)": r.orphans}) for c, r in reports.items() if r.orphans}
            ),
        },
    )


def evaluate_clean(
    spec: PipelineSpec,
    name: str,
    frame: pd.DataFrame,
    stats: CleanStats,
    referenced: dict[str, pd.DataFrame] | None = None,
    context: AssetExecutionContext | None = None,
    missing: dict[str, str] | None = None,
    partitions: Mapping[str, CleanStats] | None = None,
) -> QualityOutcome:
    """Run the schema, references and score of clean table ``name`` on the frame just built.

    ``partitions``: in a multi-partition run, what the clean step did in each partition; each
    is then also scored on its own rows (:attr:`QualityOutcome.metadata_by_partition`).

    ``referenced`` maps each referenced clean table to its frame; when omitted they are loaded
    through the IO managers of ``context``. ``missing``: why a referenced table given as absent
    could not be loaded (see :func:`load_referenced`), for the references check's description.
    """
    from etl_assets.lib.quality.row_score import reference_orphans
    from etl_assets.lib.quality.schema import build_schema, pii_columns, validate_frame
    from etl_assets.lib.quality.score import ROW_SCORE_COLUMN, score_table

    clean = spec.clean[name]
    quality = _quality(clean.quality)
    key = clean_key(spec.pipeline, name)
    schema = build_schema(clean, name=f"{spec.pipeline}/clean/{name}")
    report = validate_frame(frame, schema, sample_size=SAMPLE_ROWS, pii_columns=pii_columns(clean))

    missing: dict[str, str] = dict(missing or {})
    if referenced is None:
        referenced, missing = load_referenced(context, spec, name) if context is not None else ({}, {})
    orphans, not_given = reference_orphans(clean, name, frame, referenced)
    unchecked: dict[str, str] = {}
    for column in not_given:
        table = clean.columns[column].reference[0]  # type: ignore[index]
        unchecked[column] = missing.get(table, f"{table} not given")

    rules_checked = sum(len(schema.columns[c].checks) for c in schema.columns) + len(clean.rules)
    common = {"rules_checked": rules_checked, "freshness_column": quality.freshness_column, "max_age": quality.max_age_delta}
    score = score_table(
        frame,
        list(clean.columns),
        report,
        orphans,
        rows_rejected_invalid=stats.rows_rejected - stats.rows_dropped,
        rows_deduplicated=stats.rows_deduplicated,
        reference_time=_reference_time(context, spec.is_clean_partitioned(name)),
        **common,
    )
    out = frame.copy(deep=False)
    out[ROW_SCORE_COLUMN] = score.row_scores
    if PARTITION_COLUMN in out.columns:  # keep the partition column last, where the IO managers expect it
        out = out[[c for c in out.columns if c != PARTITION_COLUMN] + [PARTITION_COLUMN]]

    results = [_schema_result(key, report, AssetCheckSeverity.ERROR), _score_result(key, score, quality)]
    if orphans or unchecked:
        results.append(_references_result(key, orphans, unchecked, quality, pii_columns(clean)))
    removed = {
        key: {"rows_rejected_invalid": c.rows_rejected - c.rows_dropped, "rows_deduplicated": c.rows_deduplicated}
        for key, c in (partitions or {}).items()
    }
    by_partition = _partition_scores(frame, list(clean.columns), report, orphans, removed, context, **common)
    return QualityOutcome(frame=out, metadata=score.as_metadata(), results=results, metadata_by_partition=by_partition)


def _partition_scores(
    frame: pd.DataFrame,
    columns: list[str],
    report: SchemaReport,
    orphans: Mapping[str, OrphanReport] | None,
    counts_by_partition: Mapping[str, Mapping[str, Any]],
    context: AssetExecutionContext | None,
    **common: Any,
) -> dict[str, dict[str, Any]]:
    """``quality/*`` metadata of each partition of ``counts_by_partition``, scored on its own
    rows with its own counts (what the step took out of it) and its own reference time."""
    if not counts_by_partition:
        return {}
    from etl_assets.lib.quality.score import score_rows

    keys = frame[PARTITION_COLUMN].astype("string").to_numpy() if PARTITION_COLUMN in frame.columns else None
    scores: dict[str, dict[str, Any]] = {}
    for key, counts in counts_by_partition.items():
        rows = keys == key if keys is not None else np.zeros(len(frame), dtype=bool)
        reference = partition_end(context, key)
        part = score_rows(frame, columns, report, rows, orphans, reference_time=reference, **counts, **common)
        scores[key] = part.as_metadata()
    return scores


def partition_end(context: AssetExecutionContext | None, key: str) -> pd.Timestamp | None:
    """End of partition ``key``'s time window (None: not a time-window partition)."""
    partitions_def = getattr(getattr(context, "assets_def", None), "partitions_def", None)
    if partitions_def is None or not hasattr(partitions_def, "time_window_for_partition_key"):
        return None
    return pd.Timestamp(partitions_def.time_window_for_partition_key(key).end)


def evaluate_aggregate(
    spec: PipelineSpec,
    name: str,
    frame: pd.DataFrame,
    context: AssetExecutionContext | None = None,
    partitions: Sequence[str] = (),
) -> QualityOutcome:
    """Schema and score of aggregate ``name`` on the frame just built (and of each of
    ``partitions`` on its own rows, in a multi-partition run)."""
    from etl_assets.lib.quality.schema import build_aggregate_schema, validate_frame
    from etl_assets.lib.quality.score import score_table

    agg = spec.aggregates[name]
    quality = _quality(agg.quality)
    key = agg_key(spec.pipeline, name)
    partitioned = PARTITION_COLUMN in frame.columns
    schema = build_aggregate_schema(agg, name=f"{spec.pipeline}/agg/{name}", partitioned=partitioned)
    report = validate_frame(frame, schema, sample_size=SAMPLE_ROWS)
    common = {
        "rules_checked": sum(len(c.checks) for c in schema.columns.values()) + len(schema.checks),
        "freshness_column": quality.freshness_column,
        "max_age": quality.max_age_delta,
    }
    score = score_table(
        frame, list(schema.columns), report, reference_time=_reference_time(context, agg.partitioned), **common
    )
    results = [_schema_result(key, report, AssetCheckSeverity.ERROR), _score_result(key, score, quality)]
    counts = {partition: {} for partition in partitions}  # an aggregate takes no row out
    by_partition = _partition_scores(frame, list(schema.columns), report, None, counts, context, **common)
    return QualityOutcome(frame=frame, metadata=score.as_metadata(), results=results, metadata_by_partition=by_partition)
