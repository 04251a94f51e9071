"""Deduplication beyond exact keys: normalised keys, fuzzy matching, clustering, merge.

Plain Python API behind a spec's ``dedup:`` block; see :func:`deduplicate`. Nothing here loads
the embedding model: an ``Embedder`` (e.g. ``EmbeddingModel.encode``) is passed in.

Names are imported on first use (PEP 562): the spec models read ``dedup.keys`` and the embedding
resource reads ``dedup.embedding_cache`` when definitions load, and importing a submodule runs
this file; the matching engine (rapidfuzz, pandera through the row scores, ...) loads only when
a step deduplicates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "CleanDedupResult": "clean_step",
    "clean_and_deduplicate": "clean_step",
    **{
        name: "engine"
        for name in (
            "CLUSTER_ID",
            "CLUSTER_SIZE",
            "KEPT_ID",
            "MATCH_KIND",
            "SCORE",
            "DedupError",
            "DedupOutcome",
            "DedupStats",
            "Embedder",
            "deduplicate",
        )
    },
}

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
