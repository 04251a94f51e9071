"""Quality score of one materialization: 0-100 overall and per dimension, plus a per-row score.

Dimensions (each 0-100, higher is better):

- **completeness**: share of non-null cells over the declared columns.
- **uniqueness**: share of rows that are not duplicates: rows removed by dedup and rows that
  break a ``unique`` column count against it.
- **validity**: share of rows that are valid: rows rejected by the clean step for bad values
  (not the ones dropped on purpose) and rows breaking a column rule (range, allowed values,
  pattern, semantic type, dtype) count against it.
- **consistency**: share of rows with no orphan reference and no broken cross-field rule.
- **timeliness** (only when ``freshness_column`` and ``max_age`` are set): 100 while the newest
  timestamp is at most ``max_age`` old at the reference time, falling linearly to 0 at twice
  that age.

``overall`` is the mean of the dimensions measured. The per-row score (0-1) is the share of a
row's checks it passes: one completeness check per declared column, one per column rule and
cross-field rule, one per reference. Later steps use it (fuzzy dedup keeps the best row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from etl_assets.lib.quality.consistency import OrphanReport
from etl_assets.lib.quality.schema import NULLABLE, UNIQUE, SchemaReport

DIMENSIONS = ("completeness", "uniqueness", "validity", "consistency", "timeliness")
ROW_SCORE_COLUMN = "_quality_score"


@dataclass(frozen=True)
class QualityScore:
    overall: float
    #: Dimension -> 0-100 (timeliness only when configured).
    dimensions: dict[str, float]
    #: Per-row score in [0, 1], aligned with the scored frame.
    row_scores: np.ndarray = field(repr=False)
    #: Inputs of each dimension, for the metadata (what was counted).
    details: dict[str, float | int | str] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, float]:
        """``quality/score`` and ``quality/<dimension>`` as floats (plotted by the UI)."""
        metadata = {"quality/score": round(self.overall, 3)}
        metadata.update({f"quality/{name}": round(value, 3) for name, value in self.dimensions.items()})
        return metadata


def _is_uniqueness(rule: str) -> bool:
    return rule == UNIQUE or rule.startswith(f"{UNIQUE}: ")


def _share(bad: float, total: float) -> float:
    return 100.0 if total <= 0 else max(0.0, 100.0 * (1.0 - bad / total))


def timeliness(newest: pd.Timestamp | None, max_age: dt.timedelta, reference_time: pd.Timestamp) -> tuple[float, float | None]:
    """``(score, age in hours)``; a table with no timestamp at all scores 0."""
    if newest is None or pd.isna(newest):
        return 0.0, None
    newest = pd.Timestamp(newest)
    reference = pd.Timestamp(reference_time)
    if newest.tzinfo is None:
        newest = newest.tz_localize("UTC")
    if reference.tzinfo is None:
        reference = reference.tz_localize("UTC")
    age = reference - newest
    hours = age / pd.Timedelta(hours=1)
    limit = pd.Timedelta(max_age)
    if age <= limit:
        return 100.0, hours
    return max(0.0, 100.0 * (1.0 - (age - limit) / limit)), hours


def _newest(values: pd.Series) -> pd.Timestamp | None:
    if values.notna().sum() == 0:
        return None
    if isinstance(values.dtype, pd.ArrowDtype) and str(values.dtype).startswith("date32"):
        # a date's data is complete at the end of that day
        return pd.Timestamp(values.max()) + pd.Timedelta(days=1)
    return pd.Timestamp(values.max())


def score_table(
    frame: pd.DataFrame,
    columns: list[str],
    schema_report: SchemaReport,
    orphans: Mapping[str, OrphanReport] | None = None,
    *,
    rows_rejected_invalid: int = 0,
    rows_deduplicated: int = 0,
    rules_checked: int = 0,
    freshness_column: str | None = None,
    max_age: dt.timedelta | None = None,
    reference_time: pd.Timestamp | None = None,
) -> QualityScore:
    """Score ``frame`` (the output just built) from the schema report and the orphan reports.

    ``columns``: the declared columns (completeness is measured over these);
    ``rules_checked``: how many column and cross-field rules the schema holds (row score);
    ``rows_rejected_invalid`` / ``rows_deduplicated``: what the clean step took out.
    """
    orphans = dict(orphans or {})
    rows = len(frame)
    present = [c for c in columns if c in frame.columns]
    nulls = frame[present].isna().to_numpy() if present and rows else np.zeros((rows, 0), dtype=bool)
    null_cells = int(nulls.sum())

    unique_bad = schema_report.failing_rows(_is_uniqueness)
    rule_bad = schema_report.failing_rows(lambda rule: rule.startswith("rule: "))
    valid_bad = schema_report.failing_rows(lambda rule: not _is_uniqueness(rule) and rule != NULLABLE and not rule.startswith("rule: "))
    orphan_bad = np.zeros(rows, dtype=bool)
    for report in orphans.values():
        orphan_bad |= report.mask

    dimensions = {
        "completeness": _share(null_cells, rows * len(present)),
        "uniqueness": _share(int(unique_bad.sum()) + rows_deduplicated, rows + rows_deduplicated),
        "validity": _share(int(valid_bad.sum()) + rows_rejected_invalid, rows + rows_rejected_invalid),
        "consistency": _share(int((orphan_bad | rule_bad).sum()), rows),
    }
    details: dict[str, float | int | str] = {
        "null_cells": null_cells,
        "rows_duplicated": int(unique_bad.sum()) + rows_deduplicated,
        "rows_invalid": int(valid_bad.sum()) + rows_rejected_invalid,
        "rows_inconsistent": int((orphan_bad | rule_bad).sum()),
    }
    if freshness_column is not None and max_age is not None:
        newest = _newest(frame[freshness_column]) if freshness_column in frame.columns else None
        reference = reference_time if reference_time is not None else pd.Timestamp.now(tz="UTC")
        score, age_hours = timeliness(newest, max_age, reference)
        dimensions["timeliness"] = score
        details["newest_age_hours"] = round(age_hours, 3) if age_hours is not None else "no timestamp"

    # per-row: failed checks / checks
    per_row_checks = len(present) + rules_checked + len(orphans)
    failed = nulls.sum(axis=1).astype(np.float64) if rows else np.zeros(0)
    for (_, rule), positions in schema_report.failing_positions.items():
        if rule != NULLABLE:  # a null in a required column is already counted as incomplete
            np.add.at(failed, positions, 1.0)
    for report in orphans.values():
        failed += report.mask
    row_scores = 1.0 - failed / per_row_checks if per_row_checks else np.ones(rows)
    row_scores = np.clip(row_scores, 0.0, 1.0)
    overall = float(np.mean(list(dimensions.values())))
    return QualityScore(overall=overall, dimensions=dimensions, row_scores=row_scores, details=details)


def score_rows(
    frame: pd.DataFrame,
    columns: list[str],
    schema_report: SchemaReport,
    rows: np.ndarray,
    orphans: Mapping[str, OrphanReport] | None = None,
    **counts: Any,
) -> QualityScore:
    """The score of the rows ``rows`` selects (a bool mask over ``frame``) on their own: one
    partition of a multi-partition run, scored from the reports of the whole frame.

    ``counts`` are :func:`score_table`'s keyword arguments, for those rows (what the clean step
    took out of that partition, its reference time).
    """
    positions = np.flatnonzero(rows)
    renumber = np.full(len(rows), -1, dtype=np.int64)
    renumber[positions] = np.arange(len(positions))
    failing = {key: renumber[found[rows[found]]] for key, found in schema_report.failing_positions.items()}
    report = SchemaReport(rows=len(positions), failures={}, failing_positions=failing, sample=schema_report.sample.iloc[:0])
    sliced = {name: replace(report_, mask=report_.mask[rows]) for name, report_ in (orphans or {}).items()}
    return score_table(frame.iloc[positions], columns, report, sliced, **counts)
