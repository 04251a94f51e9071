"""Exact deduplication on declared keys.

Returns the removed rows together with the index of the row that was kept for each, so a later
step (a duplicates table, fuzzy matching) can show why a row went.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd


@dataclass(frozen=True)
class DedupResult:
    kept: pd.DataFrame
    removed: pd.DataFrame
    #: For each removed row (same order), the index label of the kept row with the same keys
    #: (None unless asked for: finding it costs a join over the whole kept frame).
    kept_index: pd.Index | None


def exact_dedup(
    frame: pd.DataFrame, keys: list[str], keep: Literal["first", "last"] = "first", *, with_kept_index: bool = False
) -> DedupResult:
    """Keep the first (or last) row, in input order, of every group of equal keys (nulls equal)."""
    duplicated = frame.duplicated(subset=keys, keep=keep)
    if not duplicated.any():
        return DedupResult(frame, frame.iloc[0:0], pd.Index([]) if with_kept_index else None)
    kept, removed = frame[~duplicated], frame[duplicated]
    if not with_kept_index:
        return DedupResult(kept, removed, None)
    survivor = kept.reset_index(names="__kept_index")[[*keys, "__kept_index"]]
    matched = removed[keys].merge(survivor, on=keys, how="left")
    return DedupResult(kept, removed, pd.Index(matched["__kept_index"].to_numpy()))
