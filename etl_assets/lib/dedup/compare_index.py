"""Per-row field values indexed once per run, so comparing millions of pairs is integer work.

At 1M records the candidate pairs number about 23M. Comparing them on object arrays of strings
(fancy-indexing the texts of every pair, testing each for ``None``, building lists for
rapidfuzz) cost more than the string metrics themselves. A :class:`TextIndex` gives each
distinct text an integer id once; per pair, presence and equality are then integer comparisons,
and only the pairs whose texts differ reach rapidfuzz. A :class:`DateIndex` holds each row's
date parts and its ``YYYYMMDD`` digits packed four bits each, taken once instead of per chunk
of pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Above this share of distinct values per row, pairs are compared directly, not per distinct pair.
MANY_DISTINCT = 0.5


@dataclass(frozen=True)
class TextIndex:
    """Normalised texts as an id per row (-1 where missing) into ``uniques`` (distinct texts)."""

    codes: np.ndarray
    uniques: np.ndarray
    #: each distinct text with its tokens sorted (``token_sort_ratio``'s preprocessing), for ``name``
    sorted_uniques: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def many_distinct(self) -> bool:
        """Whether pairs are compared one by one (else once per distinct pair of values)."""
        return len(self.uniques) > MANY_DISTINCT * len(self.codes)

    def row_values(self) -> np.ndarray:
        """The normalised text of every row (object array, ``None`` where missing)."""
        table = np.array([*self.uniques.tolist(), None], dtype=object)
        return table[self.codes]


def text_index(values: np.ndarray | pd.Series) -> TextIndex:
    """Index normalised texts (``None`` or NaN = missing)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    unique_texts = np.asarray(uniques, dtype=object)
    return TextIndex(np.asarray(codes, dtype=np.int32 if len(unique_texts) < 2**31 else np.int64), unique_texts)


def with_sorted_tokens(index: TextIndex) -> TextIndex:
    """``index`` with each distinct text's tokens sorted, once per distinct text (the ``name``
    comparator's token-sort ratio, without re-sorting both texts of every pair)."""
    if index.sorted_uniques is not None:
        return index
    sorted_uniques = np.array([" ".join(sorted(u.split())) for u in index.uniques.tolist()], dtype=object)
    return TextIndex(index.codes, index.uniques, sorted_uniques)


@dataclass(frozen=True)
class DateIndex:
    """Per row: nanoseconds since the epoch, year, month, day, the ``YYYYMMDD`` digits packed
    four bits each (two dates differ in as many digits as their XOR has non-zero nibbles), and
    whether the date is present."""

    stamp: np.ndarray
    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    digits: np.ndarray
    present: np.ndarray

    def __len__(self) -> int:
        return len(self.stamp)


def date_index(dates: pd.Series) -> DateIndex:
    """Index parsed dates (``datetime64``, ``NaT`` where missing)."""
    stamps = np.asarray(dates.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")), dtype="datetime64[ns]")
    present = ~np.isnat(stamps)
    days = stamps.astype("datetime64[D]")  # floors, also before 1970
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    digits = np.zeros(len(stamps), dtype=np.uint32)
    decimal = np.where(present, year * 10_000 + month * 100 + day, 0)  # datetime64[ns]: years 1677-2262
    for position in range(8):
        digits |= ((decimal // 10**position) % 10).astype(np.uint32) << np.uint32(4 * position)
    return DateIndex(stamps.astype(np.int64), year, month, day, digits, present)


def differing_digits(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """How many of the 8 packed decimal digits differ between ``left[k]`` and ``right[k]``."""
    x = left ^ right
    nibbles = (x | (x >> np.uint32(1)) | (x >> np.uint32(2)) | (x >> np.uint32(3))) & np.uint32(0x11111111)
    return np.bitwise_count(nibbles)
