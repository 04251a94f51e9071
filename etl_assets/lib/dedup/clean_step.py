"""Clean a raw frame, then deduplicate it, keeping every removed row (the duplicates table).

The plain Python API behind a clean table whose ``dedup`` is normalised or fuzzy: rows in =
clean out + rejected + duplicates, and the stats say so (``rows_deduplicated`` counts the
duplicates frame's rows).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from etl_assets.lib.dedup.engine import DedupOutcome, Embedder, deduplicate
from etl_assets.lib.quality.row_score import add_row_scores
from etl_assets.lib.quality.score import ROW_SCORE_COLUMN
from etl_assets.lib.spec.models import CleanSpec
from etl_assets.lib.transforms import clean_table
from etl_assets.lib.transforms.results import CleanResult

#: Merge strategies that keep the best row of a cluster by ``_quality_score``.
QUALITY_STRATEGIES = ("keep_best_quality", "field_wise")


def needs_row_quality(spec: CleanSpec) -> bool:
    """Whether the table's dedup picks survivors by row quality."""
    fuzzy = spec.dedup.fuzzy if spec.dedup is not None else None
    return fuzzy is not None and fuzzy.merge in QUALITY_STRATEGIES


@dataclass(frozen=True)
class CleanDedupResult:
    result: CleanResult
    #: Removed rows with ``_cluster_id``, ``_kept_id``, ``_score``, ``_match_kind`` (empty
    #: when the table has no normalised/fuzzy dedup).
    duplicates: pd.DataFrame
    dedup: DedupOutcome | None


def clean_and_deduplicate(
    raw: pd.DataFrame,
    spec: CleanSpec,
    *,
    table: str,
    embedder: Embedder | None = None,
    labels: pd.DataFrame | None = None,
    referenced: Mapping[str, pd.DataFrame] | None = None,
    threads: int | None = None,
) -> CleanDedupResult:
    """:func:`clean_table`, then :func:`deduplicate` when the spec's dedup records duplicates.

    A merge that keeps the best row (``keep_best_quality``, ``field_wise``) judges rows by the
    quality checks' per-row ``_quality_score``, computed here on the typed rows before dedup
    (``referenced``: the clean tables this one references, for the consistency part); the
    column stays on the kept rows and on the duplicates table, so a reviewer sees why a row lost.
    ``threads``: the clean step's (:func:`clean_table`).
    """
    result = clean_table(raw, spec, table=table, threads=threads)
    if spec.dedup is None or not spec.dedup.records_duplicates:
        return CleanDedupResult(result, result.clean.iloc[0:0], None)
    typed = result.clean
    if needs_row_quality(spec) and ROW_SCORE_COLUMN not in typed.columns:
        typed = add_row_scores(spec, typed, table=table, referenced=referenced)
    outcome = deduplicate(typed, spec.dedup, embedder=embedder, labels=labels)
    stats = dataclasses.replace(
        result.stats, rows_out=len(outcome.kept), rows_deduplicated=result.stats.rows_deduplicated + len(outcome.duplicates)
    )
    return CleanDedupResult(CleanResult(outcome.kept, result.rejected, stats), outcome.duplicates, outcome)
