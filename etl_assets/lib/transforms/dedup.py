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


#: Direct addressing is used while the key range is at most this many times the row count.
_DENSE_RANGE_FACTOR = 4


def _duplicated_ints(values: np.ndarray, keep: Keep) -> np.ndarray | None:
    """``duplicated`` for an int64 key whose values span a range near the row count (ids,
    sequence numbers): None otherwise.

    A hash table over millions of distinct keys misses the CPU caches on every row (pandas:
    ~35 ms at 1M rows, seconds at 10M). Counting each value by direct addressing
    (``bincount``) is a linear pass; only the rows whose key occurs more than once (a few
    percent) are then hashed, in their order, which decides the same rows: whether a row is a
    duplicate depends only on the other rows with its key."""
    if len(values) < 2:
        return None
    low, high = int(values.min()), int(values.max())
    if high - low >= _DENSE_RANGE_FACTOR * len(values):
        return None
    offsets = values - low
    repeated = np.flatnonzero(np.bincount(offsets)[offsets] > 1)
    result = np.zeros(len(values), dtype=bool)
    if len(repeated):
        result[repeated] = pd.Series(values[repeated], copy=False).duplicated(keep=keep).to_numpy()
    return result


def duplicated(keys: pd.DataFrame, keep: Keep = "first") -> np.ndarray:
    """Rows whose keys already appeared earlier (``first``) or appear again later (``last``)."""
    if keys.shape[1] == 1:
        column = keys.iloc[:, 0]
        if column.dtype == np.int64:
            dense = _duplicated_ints(column.to_numpy(), keep)
            if dense is not None:
                return dense
        return column.duplicated(keep=keep).to_numpy()
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
