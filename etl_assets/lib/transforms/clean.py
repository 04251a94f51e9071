"""Build a clean table from a raw frame: declared types, null policies, rejects, dedup.

Every input row ends up in exactly one place: the clean frame, the rejected frame (with the
reason, its source file and row, and its raw values), or counted as a removed duplicate.
"""

from __future__ import annotations

import difflib
from collections import Counter

import numpy as np
import pandas as pd

from etl_assets.lib.spec import PARTITION_COLUMN, CleanSpec, ColumnSpec
from etl_assets.lib.transforms.coerce import coerce_column, coerce_default
from etl_assets.lib.transforms.dedup import exact_dedup
from etl_assets.lib.transforms.results import CleanResult, CleanStats

SOURCE_FILE, SOURCE_ROW, PARSE_ERROR = "_source_file", "_source_row", "_parse_error"
LINEAGE = (SOURCE_FILE, SOURCE_ROW, PARSE_ERROR, PARTITION_COLUMN)
MAX_VALUE_IN_REASON = 60


class CleanError(ValueError):
    """The raw frame cannot be cleaned at all (e.g. a declared column is missing)."""


def _check_columns(raw: pd.DataFrame, spec: CleanSpec, table: str) -> None:
    present = [c for c in raw.columns if c not in LINEAGE]
    missing = [cs.source or name for name, cs in spec.columns.items() if (cs.source or name) not in raw.columns]
    if not missing:
        return
    hints = []
    for column in missing:
        close = difflib.get_close_matches(column, present, n=1)
        if close:
            hints.append(f"{column!r} (found {close[0]!r})")
    hint = f"; close matches: {', '.join(hints)}" if hints else ""
    raise CleanError(
        f"clean table {table!r}: input has no column {', '.join(map(repr, missing))}{hint}. "
        f"Input columns: {', '.join(present) or '(none)'}"
    )


def _short(value: object) -> str:
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= MAX_VALUE_IN_REASON else text[: MAX_VALUE_IN_REASON - 3] + "...'"


class _Problems:
    """Per-row problems, collected column by column; only rejected rows get reason text."""

    def __init__(self, rows: int):
        self.first_kind: np.ndarray = np.full(rows, None, dtype=object)
        self.entries: list[tuple[np.ndarray, str, str, object]] = []

    def add(self, mask: np.ndarray, kind: str, column: str, detail: object) -> None:
        if not mask.any():
            return
        unset = mask & (self.first_kind == None)  # noqa: E711 - elementwise on an object array
        self.first_kind[unset] = kind
        self.entries.append((mask, kind, column, detail))

    @property
    def rejected(self) -> np.ndarray:
        return self.first_kind != None  # noqa: E711

    def reasons(self, raw: pd.DataFrame, positions: np.ndarray) -> list[str]:
        texts: dict[int, list[str]] = {int(p): [] for p in positions}
        for mask, kind, column, detail in self.entries:
            for position in np.flatnonzero(mask):
                if kind == "parse_error":
                    texts[int(position)].append(str(raw[PARSE_ERROR].iloc[position]))
                elif kind in ("coercion", "category"):
                    texts[int(position)].append(f"{column}: {_short(raw[detail[0]].iloc[position])} is not {detail[1]}")
                elif kind == "required":
                    texts[int(position)].append(f"{column}: required value is missing")
                elif kind == "dropped":
                    texts[int(position)].append(f"{column}: null, row dropped by the column's null policy")
        return ["; ".join(texts[int(p)]) for p in positions]


def _apply_null_policy(name: str, spec: ColumnSpec, values: pd.Series, failed: np.ndarray, problems: _Problems) -> pd.Series:
    nulls = values.isna().to_numpy() & ~failed
    policy = spec.null_policy
    if policy == "reject":
        problems.add(nulls, "required", name, None)
    elif policy == "drop":
        problems.add(nulls, "dropped", name, None)
    elif policy == "default" and nulls.any():
        default = coerce_default(spec.default, spec)
        values = values.where(~nulls, default) if not isinstance(values.dtype, pd.CategoricalDtype) else values.fillna(default)
    return values


def clean_table(raw: pd.DataFrame, spec: CleanSpec, *, table: str) -> CleanResult:
    _check_columns(raw, spec, table)
    raw = raw.reset_index(drop=True)
    problems = _Problems(len(raw))
    if PARSE_ERROR in raw.columns:
        problems.add(raw[PARSE_ERROR].notna().to_numpy(), "parse_error", PARSE_ERROR, None)

    typed: dict[str, pd.Series] = {}
    for name, column_spec in spec.columns.items():
        source = column_spec.source or name
        coerced = coerce_column(raw[source], column_spec)
        kind = "category" if column_spec.type == "category" else "coercion"
        problems.add(coerced.failed, kind, name, (source, coerced.expected))
        typed[name] = _apply_null_policy(name, column_spec, coerced.values, coerced.failed, problems)

    clean = pd.DataFrame(typed)
    if spec.keep_undeclared:
        declared_sources = {cs.source or n for n, cs in spec.columns.items()} | set(LINEAGE)
        for column in raw.columns:
            if column not in declared_sources and column not in clean.columns:
                clean[column] = raw[column]
    if PARTITION_COLUMN in raw.columns:
        clean[PARTITION_COLUMN] = raw[PARTITION_COLUMN].astype("str")

    rejected_mask = problems.rejected
    rejected = _rejected_frame(raw, spec, problems, np.flatnonzero(rejected_mask))
    kept = clean[~rejected_mask]
    deduplicated = 0
    if spec.dedup is not None and len(kept):
        result = exact_dedup(kept, list(spec.dedup.keys), spec.dedup.keep)
        kept, deduplicated = result.kept, len(result.removed)

    kinds = Counter()
    for mask, kind, column, _ in problems.entries:
        first_here = mask & (problems.first_kind == kind)
        kinds[kind if kind == "parse_error" else f"{kind}:{column}"] += int(first_here.sum())
    stats = CleanStats(
        rows_in=len(raw),
        rows_out=len(kept),
        rows_rejected=int(rejected_mask.sum()),
        rows_dropped=int((problems.first_kind == "dropped").sum()),
        rows_deduplicated=deduplicated,
        rejected_by_reason={k: v for k, v in kinds.items() if v},
    )
    return CleanResult(clean=kept.reset_index(drop=True), rejected=rejected, stats=stats)


def _rejected_frame(raw: pd.DataFrame, spec: CleanSpec, problems: _Problems, positions: np.ndarray) -> pd.DataFrame:
    """Rejected rows: where they came from, why, and their values exactly as they arrived."""
    subset = raw.iloc[positions]
    frame = pd.DataFrame(
        {
            SOURCE_FILE: (subset[SOURCE_FILE].astype("str") if SOURCE_FILE in raw else pd.Series([None] * len(subset), dtype="str")).to_numpy(),
            SOURCE_ROW: (subset[SOURCE_ROW].astype("Int64") if SOURCE_ROW in raw else pd.Series(positions + 1, dtype="Int64")).to_numpy(),
            "_reason_kind": pd.array(problems.first_kind[positions].tolist(), dtype="str"),
            "_reason": pd.array(problems.reasons(raw, positions), dtype="str"),
        }
    )
    frame[SOURCE_FILE] = frame[SOURCE_FILE].astype("str")
    frame[SOURCE_ROW] = frame[SOURCE_ROW].astype("Int64")
    for name, column_spec in spec.columns.items():
        values = subset[column_spec.source or name]
        frame[name] = pd.array(values.astype("str").where(values.notna().to_numpy(), None).to_numpy(), dtype="str")
    if PARTITION_COLUMN in raw.columns:
        frame[PARTITION_COLUMN] = pd.array(subset[PARTITION_COLUMN].astype("str").tolist(), dtype="str")
    return frame
