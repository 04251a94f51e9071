"""Many-to-one joins of a clean table onto the frame being aggregated.

Keys are normalised before matching, so values that mean the same thing match: categories and
strings as text, datetimes as UTC microseconds whatever their unit or zone. Keys whose kinds
cannot mean the same thing (an int and a string, a naive and an aware datetime) are an error
rather than an empty join. Null keys never match (as in SQL).

The joined table must have at most one row per key: a repeated key would multiply the rows being
aggregated and silently inflate every count, so it is an error that names an example key.

Matching is positional: both sides' keys get dense ids from one factorization, the right side's
ids index a lookup array, and the brought columns are taken at the matched positions. That keeps
the left frame's order and avoids a general hash join.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl_assets.lib.spec import PARTITION_COLUMN, JoinSpec
from etl_assets.lib.transforms.dedup import group_ids
from etl_assets.lib.transforms.errors import AggregateError


class JoinError(AggregateError):
    pass


def _kind(values: pd.Series) -> str:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "text"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "aware datetime"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "naive datetime"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if isinstance(dtype, pd.ArrowDtype):
        return str(dtype.pyarrow_dtype)
    return str(dtype)


def _normalised(values: pd.Series) -> pd.Series:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return values.astype("str")
    if isinstance(dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.as_unit("us")
    if pd.api.types.is_datetime64_dtype(dtype):
        return values.dt.as_unit("us")
    if pd.api.types.is_string_dtype(dtype):
        return values.astype("str")
    return values


def _take(values: pd.Series, positions: np.ndarray, missing: bool) -> pd.Series:
    """``values`` at ``positions`` (-1: no match -> null), keeping a nullable dtype."""
    if missing and values.dtype.kind in "iub":
        values = values.astype("boolean" if values.dtype.kind == "b" else "Int64")
    taken = values.array.take(positions, allow_fill=missing)
    return pd.Series(taken, name=values.name)


def join_table(frame: pd.DataFrame, join: JoinSpec, other: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``join.columns`` of ``other`` brought in on ``join.on`` (left or inner)."""
    where = f"join with {join.table!r}"
    for side, table in (("the aggregated frame", frame), (f"clean table {join.table!r}", other)):
        missing = [key for key in join.on if key not in table.columns]
        if missing:
            raise JoinError(f"{where}: key(s) {', '.join(map(repr, missing))} not in {side} (columns: {', '.join(map(str, table.columns))})")
    brought = join.columns if join.columns is not None else [c for c in other.columns if c not in join.on and c != PARTITION_COLUMN]
    absent = [c for c in brought if c not in other.columns]
    if absent:
        raise JoinError(f"{where}: column(s) {', '.join(map(repr, absent))} not in {join.table!r} (columns: {', '.join(map(str, other.columns))})")
    clash = [c for c in brought if c in frame.columns]
    if clash:
        raise JoinError(f"{where}: column(s) {', '.join(map(repr, clash))} already exist in the aggregated frame; list the columns to bring with 'columns'")

    left, right = [], []
    for key in join.on:
        lkind, rkind = _kind(frame[key]), _kind(other[key])
        if lkind != rkind:
            raise JoinError(
                f"{where}: key {key!r} is {frame[key].dtype} ({lkind}) in the aggregated frame but "
                f"{other[key].dtype} ({rkind}) in {join.table!r}; these cannot be matched"
            )
        left.append(_normalised(frame[key]).reset_index(drop=True))
        right.append(_normalised(other[key]).reset_index(drop=True))
    n_left = len(frame)
    ids = group_ids([pd.concat([lk, rk], ignore_index=True) for lk, rk in zip(left, right, strict=True)])
    left_ids, right_ids = ids[:n_left], ids[n_left:]
    left_null = np.logical_or.reduce([k.isna().to_numpy() for k in left])
    right_null = np.logical_or.reduce([k.isna().to_numpy() for k in right])

    usable = np.flatnonzero(~right_null)
    repeated = pd.Series(right_ids[usable]).duplicated(keep=False).to_numpy()
    if repeated.any():
        example = other.iloc[usable[np.flatnonzero(repeated)[0]]][list(join.on)].to_dict()
        raise JoinError(
            f"{where}: {join.table!r} has {int(repeated.sum())} rows sharing a key (e.g. {example}); "
            f"a join must find at most one row per key, so dedup {join.table!r} on {', '.join(join.on)}"
        )
    lookup = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
    lookup[right_ids[usable]] = usable
    positions = lookup[left_ids] if n_left else np.zeros(0, dtype=np.int64)
    positions[left_null] = -1

    result = frame.reset_index(drop=True)
    if join.how == "inner":
        matched = positions >= 0
        result = result[matched].reset_index(drop=True)
        positions = positions[matched]
    missing = bool((positions < 0).any())
    brought_values = {c: _take(other[c].reset_index(drop=True), positions, missing) for c in brought}
    return pd.concat([result, pd.DataFrame(brought_values)], axis=1)
