"""Row problems found while cleaning, and the rejected frame that explains them.

Problems are collected as one boolean mask per (kind, column); reason text is only built for the
rows that end up rejected, with Arrow string kernels over that subset, so a clean file costs a
few mask operations and a dirty one never loops in Python per row.

Rejected frame columns, always present with these dtypes (even when empty):

``_source_file`` (str), ``_source_row`` (int64), ``_reason_kind`` (str: the row's first problem,
e.g. ``coercion``), ``_reason`` (str: every problem of the row, ``"; "``-joined, e.g.
``dep_time: 'abc' is not an int; carrier: required value is missing``), then each declared column
under its output name holding the raw input value as text, then ``_partition`` if the input had it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import PARTITION_COLUMN, CleanSpec
from etl_assets.lib.transforms.arrays import TEXT, ArrowColumns, as_text

SOURCE_FILE, SOURCE_ROW, PARSE_ERROR = "_source_file", "_source_row", "_parse_error"
REASON_KIND, REASON = "_reason_kind", "_reason"
LINEAGE = (SOURCE_FILE, SOURCE_ROW, PARSE_ERROR, PARTITION_COLUMN)
#: Raw values quoted in a reason are cut to this many characters.
MAX_VALUE_IN_REASON = 60

PARSE_ERROR_KIND, COERCION, CATEGORY, REQUIRED, DROPPED = "parse_error", "coercion", "category", "required", "dropped"


@dataclass(frozen=True)
class Problem:
    mask: np.ndarray
    kind: str
    #: Output column name (None for a parse error, which concerns the whole row).
    column: str | None
    #: Said after the quoted value, e.g. "is not an int"; unused for required/dropped.
    message: str = ""
    #: Input column the quoted value comes from.
    source: str | None = None

    @property
    def key(self) -> str:
        return self.kind if self.column is None else f"{self.kind}:{self.column}"


class Problems:
    """Per-row problems in column order.

    A row's ``_reason_kind`` is its first problem, except that ``dropped`` (removed on purpose by
    a ``nulls: drop`` policy) only counts when the row has no real problem: a row with a bad value
    is an error even if it would also have been dropped. Rows with a parse error have null data
    columns, so no other problem is recorded for them.
    """

    def __init__(self, rows: int, parse_errors: np.ndarray | None = None):
        self.rows = rows
        self.entries: list[Problem] = []
        self._first = np.full(rows, -1, dtype=np.int32)
        self._first_dropped = np.zeros(rows, dtype=bool)
        self._skip = parse_errors if parse_errors is not None and parse_errors.any() else None
        if self._skip is not None:
            self._record(Problem(self._skip, PARSE_ERROR_KIND, None))

    def add(self, mask: np.ndarray, kind: str, column: str, message: str = "", source: str | None = None) -> None:
        if self._skip is not None:
            mask = mask & ~self._skip
        if mask.any():
            self._record(Problem(mask, kind, column, message, source))

    def _record(self, problem: Problem) -> None:
        open_rows = self._first < 0
        if problem.kind != DROPPED:
            open_rows |= self._first_dropped
        take = problem.mask & open_rows
        self._first[take] = len(self.entries)
        self._first_dropped[take] = problem.kind == DROPPED
        self.entries.append(problem)

    @property
    def rejected(self) -> np.ndarray:
        return self._first >= 0

    def first_kinds(self, positions: np.ndarray) -> np.ndarray:
        kinds = np.array([e.kind for e in self.entries], dtype=object)
        return kinds[self._first[positions]] if len(kinds) else np.zeros(0, dtype=object)

    def count_dropped(self) -> int:
        return int(self._first_dropped.sum())

    def by_reason(self) -> dict[str, int]:
        """Rejected rows by their first problem (``kind:column``); sums to the rows rejected."""
        counts = np.bincount(self._first[self._first >= 0], minlength=len(self.entries))
        totals: Counter[str] = Counter()
        for entry, count in zip(self.entries, counts, strict=True):
            if count:
                totals[entry.key] += int(count)
        return dict(totals)


def _quoted(values: pa.Array) -> pa.Array:
    """``'value'``, cut to MAX_VALUE_IN_REASON characters (a missing value is ``''``)."""
    shown = values
    long = pc.greater(pc.utf8_length(values), MAX_VALUE_IN_REASON)
    if pc.any(long).as_py():
        cut = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(values, 0, MAX_VALUE_IN_REASON - 3), pa.scalar("...", TEXT), pa.scalar("", TEXT)
        )
        shown = pc.if_else(long, cut, values)
    return pc.binary_join_element_wise(pa.scalar("'", TEXT), pc.fill_null(shown, ""), pa.scalar("'", TEXT), pa.scalar("", TEXT))


def _text_column(raw: ArrowColumns, column: str, positions: np.ndarray) -> pa.Array:
    """The raw values at ``positions`` as text."""
    return as_text(raw.take(column, positions))


def _spread(text: pa.Array, rows: np.ndarray, length: int) -> pa.Array:
    """``text`` (one value per row in ``rows``) at those rows of a ``length``-long array, null
    elsewhere."""
    index = np.zeros(length, dtype=np.int64)
    index[rows] = np.arange(len(rows), dtype=np.int64)
    absent = np.ones(length, dtype=bool)
    absent[rows] = False
    return text.take(pa.array(index, mask=absent))


def _reasons(raw: ArrowColumns, problems: Problems, positions: np.ndarray) -> pa.Array:
    """Each rejected row's problems, ``"; "``-joined in column order. A problem's text is built
    for its own rows only (a column's bad values are a fraction of the rejected rows)."""
    pieces: list[pa.Array] = []
    for entry in problems.entries:
        rows = np.flatnonzero(entry.mask[positions])
        if not len(rows):
            continue
        if entry.kind == PARSE_ERROR_KIND:
            text = _text_column(raw, PARSE_ERROR, positions[rows])
        elif entry.kind in (REQUIRED, DROPPED):
            said = "required value is missing" if entry.kind == REQUIRED else "null, row dropped by the column's null policy (nulls: drop)"
            text = pa.repeat(pa.scalar(f"{entry.column}: {said}", TEXT), len(rows))
        else:
            assert entry.source is not None
            text = pc.binary_join_element_wise(
                pa.scalar(f"{entry.column}: ", TEXT),
                _quoted(_text_column(raw, entry.source, positions[rows])),
                pa.scalar(f" {entry.message}", TEXT),
                pa.scalar("", TEXT),
            )
        pieces.append(_spread(text, rows, len(positions)))
    if not pieces:
        return pa.nulls(len(positions), TEXT)
    if len(pieces) == 1:
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, pa.scalar("; ", TEXT), null_handling="skip")


def _str(array: pa.Array) -> pd.Series:
    return pd.Series(pd.array(array.cast(TEXT), dtype="str") if len(array) else pd.array([], dtype="str"))


def rejected_frame(raw: ArrowColumns, spec: CleanSpec, problems: Problems) -> pd.DataFrame:
    """One row per rejected input row: where it came from, why, and its raw values as text."""
    positions = np.flatnonzero(problems.rejected)
    if SOURCE_FILE in raw:
        files = _str(_text_column(raw, SOURCE_FILE, positions))
    else:
        files = pd.Series(pd.array([None] * len(positions), dtype="str"))
    if SOURCE_ROW in raw:
        rows = pd.Series(raw.frame[SOURCE_ROW].iloc[positions].to_numpy(dtype=np.int64, na_value=0), dtype="int64")
    else:
        rows = pd.Series(positions + 1, dtype="int64")
    columns: dict[str, pd.Series] = {
        SOURCE_FILE: files,
        SOURCE_ROW: rows,
        REASON_KIND: pd.Series(pd.array(problems.first_kinds(positions).tolist(), dtype="str")),
        REASON: _str(_reasons(raw, problems, positions)),
    }
    for name, column in spec.columns.items():
        columns[name] = _str(_text_column(raw, column.source or name, positions))
    if PARTITION_COLUMN in raw:
        columns[PARTITION_COLUMN] = _str(_text_column(raw, PARTITION_COLUMN, positions))
    return pd.DataFrame(columns)
