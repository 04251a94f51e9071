"""Clean a raw frame, then deduplicate it, keeping every removed row (the duplicates table).

The plain Python API behind a clean table whose ``dedup`` is normalised or fuzzy: rows in =
clean out + rejected + duplicates, and the stats say so (``rows_deduplicated`` counts the
duplicates frame's rows).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from etl_assets.lib.dedup.engine import DedupOutcome, Embedder, deduplicate
from etl_assets.lib.spec.models import CleanSpec
from etl_assets.lib.transforms import clean_table
from etl_assets.lib.transforms.results import CleanResult


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
) -> CleanDedupResult:
    """:func:`clean_table`, then :func:`deduplicate` when the spec's dedup records duplicates."""
    result = clean_table(raw, spec, table=table)
    if spec.dedup is None or not spec.dedup.records_duplicates:
        return CleanDedupResult(result, result.clean.iloc[0:0], None)
    outcome = deduplicate(result.clean, spec.dedup, embedder=embedder, labels=labels)
    stats = dataclasses.replace(
        result.stats, rows_out=len(outcome.kept), rows_deduplicated=result.stats.rows_deduplicated + len(outcome.duplicates)
    )
    return CleanDedupResult(CleanResult(outcome.kept, result.rejected, stats), outcome.duplicates, outcome)
