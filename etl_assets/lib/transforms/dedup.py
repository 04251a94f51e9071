"""Exact deduplication on declared keys.

The work is split so it can grow: :func:`group_ids` gives every row a dense id for its key
values; :func:`find_duplicates` picks the survivor of each group and returns, for every removed
row, the position of the row it duplicates. That pairing is what a duplicates table (and later a
fuzzy matcher that proposes pairs) needs; :func:`exact_dedup` is the frame-level wrapper.

Nulls in a key compare equal to each other (as in SQL ``DISTINCT`` / ``PARTITION BY``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Keep = Literal["first", "last"]
_COMBINE_LIMIT = 2**62


def group_ids(columns: Sequence[pd.Series]) -> np.ndarray:
    """A dense int64 id per row (0, 1, ... in order of first appearance); equal keys, equal ids.

    Each column is factorized on its own (categories reuse their codes) and the codes are combined
    positionally, re-densifying before the product of cardinalities could overflow int64.
    """
    if not columns:
        raise ValueError("group_ids needs at least one column")
    ids: np.ndarray | None = None
    size = 1
    for column in columns:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        cardinality = max(len(uniques), 1)
        codes = np.asarray(codes, dtype=np.int64)
        if ids is None:
            ids, size = codes, cardinality
            continue
        if size * cardinality >= _COMBINE_LIMIT:
            ids, uniques = pd.factorize(ids)
            size = max(len(uniques), 1)
        ids = ids * cardinality + codes
        size *= cardinality
    assert ids is not None
    if len(columns) > 1:
        ids = np.asarray(pd.factorize(ids)[0], dtype=np.int64)
    return ids


@dataclass(frozen=True)
class Duplicates:
    """Positions (0-based, into the frame given) of the removed rows and, when asked for, of the
    row each one duplicates (same order)."""

    removed: np.ndarray
    survivors: np.ndarray | None

    def __len__(self) -> int:
        return len(self.removed)


def duplicated(keys: pd.DataFrame, keep: Keep = "first") -> np.ndarray:
    """Rows whose keys already appeared earlier (``first``) or appear again later (``last``)."""
    if keys.shape[1] == 1:
        return keys.iloc[:, 0].duplicated(keep=keep).to_numpy()
    return pd.Series(group_ids([keys[c] for c in keys.columns]), copy=False).duplicated(keep=keep).to_numpy()


def find_duplicates(keys: pd.DataFrame, keep: Keep = "first", *, survivors: bool = True) -> Duplicates:
    """The rows to remove so each key appears once, keeping its first (or last) row in frame
    order; with ``survivors``, also the row each removed one duplicates."""
    empty = np.zeros(0, dtype=np.int64)
    if len(keys) == 0:
        return Duplicates(empty, empty if survivors else None)
    if not survivors:
        return Duplicates(np.flatnonzero(duplicated(keys, keep)), None)
    ids = group_ids([keys[column] for column in keys.columns])
    removed_mask = pd.Series(ids, copy=False).duplicated(keep=keep).to_numpy()
    removed = np.flatnonzero(removed_mask)
    kept = np.flatnonzero(~removed_mask)
    survivor_of_group = np.empty(len(kept), dtype=np.int64)  # ids are dense: one per kept row
    survivor_of_group[ids[kept]] = kept
    return Duplicates(removed, survivor_of_group[ids[removed]])


@dataclass(frozen=True)
class DedupResult:
    kept: pd.DataFrame
    removed: pd.DataFrame
    #: For each removed row (same order), the index label of the kept row with the same keys
    #: (None unless asked for with ``with_kept_index``).
    kept_index: pd.Index | None


def exact_dedup(
    frame: pd.DataFrame, keys: list[str], keep: Keep = "first", *, with_kept_index: bool = False
) -> DedupResult:
    """Keep the first (or last) row, in frame order, of every group of equal keys."""
    found = find_duplicates(frame[keys], keep, survivors=with_kept_index)
    survivors = frame.index[found.survivors] if found.survivors is not None else None
    if not len(found):
        return DedupResult(frame, frame.iloc[0:0], survivors)
    mask = np.ones(len(frame), dtype=bool)
    mask[found.removed] = False
    return DedupResult(frame[mask], frame.iloc[found.removed], survivors)
