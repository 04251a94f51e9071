"""Deduplication beyond exact keys: normalised keys, fuzzy matching, clustering, merge.

Plain Python API behind a spec's ``dedup:`` block; see :func:`deduplicate`. Nothing here loads
the embedding model: an ``Embedder`` (e.g. ``EmbeddingModel.encode``) is passed in.
"""

from etl_assets.lib.dedup.clean_step import CleanDedupResult, clean_and_deduplicate
from etl_assets.lib.dedup.engine import (
    CLUSTER_ID,
    CLUSTER_SIZE,
    KEPT_ID,
    MATCH_KIND,
    SCORE,
    DedupError,
    DedupOutcome,
    DedupStats,
    Embedder,
    deduplicate,
)

__all__ = [
    "CLUSTER_ID",
    "CLUSTER_SIZE",
    "KEPT_ID",
    "MATCH_KIND",
    "SCORE",
    "CleanDedupResult",
    "DedupError",
    "DedupOutcome",
    "DedupStats",
    "Embedder",
    "clean_and_deduplicate",
    "deduplicate",
]
