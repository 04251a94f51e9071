"""The per-row quality score of a clean table's rows, for steps that run before the checks.

Deduplication (``keep_best_quality``, ``field_wise``) must choose the best row of a cluster
*before* the clean table's quality checks run on the deduplicated output, so it cannot wait for
their ``_quality_score`` column. :func:`add_row_scores` computes that column on the typed frame
with the same schema, reference lookup and :func:`~etl_assets.lib.quality.score.score_table`
the checks use, so a row's score means the same thing at both points: the share of its checks
(one completeness check per declared column, one per column and cross-field rule, one per
reference) that it passes.

The checks recompute the column on the final table, so the stored ``_quality_score`` is the
score of each row *in the output*. It equals the pre-dedup score except where a rule depends
on other rows (``unique`` columns, self-references): a row that broke ``unique`` only because
of a duplicate removed by dedup scores higher once the duplicate is gone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from etl_assets.lib.quality.consistency import OrphanReport, find_orphans
from etl_assets.lib.quality.schema import build_schema, validate_frame
from etl_assets.lib.quality.score import ROW_SCORE_COLUMN, score_table
from etl_assets.lib.spec import PARTITION_COLUMN
from etl_assets.lib.spec.models import CleanSpec


def reference_orphans(
    clean: CleanSpec, table: str, frame: pd.DataFrame, referenced: Mapping[str, pd.DataFrame]
) -> tuple[dict[str, OrphanReport], list[str]]:
    """Orphans of every ``references`` column of clean table ``table`` in ``frame``.

    A self-reference (``table`` references itself) is looked up in ``frame``; other tables in
    ``referenced``. Returns the reports per column and the columns whose referenced table was
    not given (not checked).
    """
    orphans: dict[str, OrphanReport] = {}
    unchecked: list[str] = []
    for column, declared in clean.columns.items():
        if declared.reference is None:
            continue
        other, ref_column = declared.reference
        if other != table and other not in referenced:
            unchecked.append(column)
            continue
        target = frame if other == table else referenced[other]
        orphans[column] = find_orphans(frame[column], target[ref_column], column=column, references=declared.references or "")
    return orphans, unchecked


def clean_row_scores(
    clean: CleanSpec, frame: pd.DataFrame, *, table: str, referenced: Mapping[str, pd.DataFrame] | None = None
) -> np.ndarray:
    """Per-row quality score in [0, 1] of ``frame`` (typed as clean table ``table`` declares).

    References to tables missing from ``referenced`` are not counted (as in the checks when a
    referenced table is not materialized).
    """
    schema = build_schema(clean, name=table)
    report = validate_frame(frame, schema, sample_size=0)
    orphans, _ = reference_orphans(clean, table, frame, referenced or {})
    rules_checked = sum(len(schema.columns[c].checks) for c in schema.columns) + len(clean.rules)
    return score_table(frame, list(clean.columns), report, orphans, rules_checked=rules_checked).row_scores


def add_row_scores(
    clean: CleanSpec, frame: pd.DataFrame, *, table: str, referenced: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``frame`` with the ``_quality_score`` column (before ``_partition``, which stays last)."""
    out = frame.copy(deep=False)
    out[ROW_SCORE_COLUMN] = clean_row_scores(clean, frame, table=table, referenced=referenced)
    if PARTITION_COLUMN in out.columns:
        out = out[[c for c in out.columns if c != PARTITION_COLUMN] + [PARTITION_COLUMN]]
    return out
