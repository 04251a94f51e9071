"""Group-by aggregates with joins, time windows (tumbling and rolling) and ``having``."""

from __future__ import annotations

import operator
from collections.abc import Mapping

import numpy as np
import pandas as pd

from etl_assets.lib.spec import PARTITION_COLUMN, AggregateSpec, JoinSpec, Metric
from etl_assets.lib.transforms.results import AggregateResult, AggregateStats
from etl_assets.lib.transforms.windows import period_start, shift_periods

WINDOW_START, WINDOW_END = "window_start", "window_end"
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}


class AggregateError(ValueError):
    pass


def _join_key(values: pd.Series) -> pd.Series:
    """Comparable join keys: categories as text, datetimes as UTC microseconds."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("str")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.dt.tz_convert("UTC") if values.dt.tz is not None else values
        return stamps.dt.as_unit("us").dt.tz_localize(None) if values.dt.tz is not None else stamps.dt.as_unit("us")
    return values


def _join(frame: pd.DataFrame, join: JoinSpec, other: pd.DataFrame) -> pd.DataFrame:
    brought = join.columns if join.columns is not None else [c for c in other.columns if c not in join.on and c != PARTITION_COLUMN]
    right = other[[*join.on, *brought]].copy()
    left = frame.copy()
    keys = []
    for key in join.on:
        tmp = f"__join_{key}"
        left[tmp], right[tmp] = _join_key(left[key]), _join_key(right[key])
        if left[tmp].dtype != right[tmp].dtype and not (
            pd.api.types.is_numeric_dtype(left[tmp]) and pd.api.types.is_numeric_dtype(right[tmp])
        ) and not (pd.api.types.is_string_dtype(left[tmp]) and pd.api.types.is_string_dtype(right[tmp])):
            raise AggregateError(f"join with {join.table!r}: key {key!r} is {left[key].dtype} on one side and {right[key].dtype} on the other")
        keys.append(tmp)
    right = right.drop(columns=list(join.on)).drop_duplicates(subset=keys, keep="first")
    merged = left.merge(right, on=keys, how=join.how, validate="many_to_one")
    return merged.drop(columns=keys)


def _metric(group: pd.core.groupby.DataFrameGroupBy, frame: pd.DataFrame, name: str, metric: Metric) -> pd.Series:
    if metric.column is None:
        return group.size()
    column = group[metric.column]
    function = metric.function
    if function == "null_count":
        return group[metric.column].count().rsub(group.size())
    if function == "std":
        return column.std(ddof=1)
    return getattr(column, function)()


def _having(frame: pd.DataFrame, spec: AggregateSpec) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for condition in spec.parsed_having:
        values = pd.to_numeric(frame[condition.name], errors="coerce")
        keep &= _OPS[condition.op](values, condition.value).fillna(False).to_numpy(dtype=bool)
    return frame[keep]


def aggregate(frame: pd.DataFrame, spec: AggregateSpec, *, joins: Mapping[str, pd.DataFrame] | None = None) -> AggregateResult:
    rows_in = len(frame)
    for join in spec.join:
        if joins is None or join.table not in joins:
            raise AggregateError(f"aggregate needs the clean table {join.table!r} to join")
        frame = _join(frame, join, joins[join.table])
    if not spec.partitioned and PARTITION_COLUMN in frame.columns:
        frame = frame.drop(columns=[PARTITION_COLUMN])

    work = frame.copy()
    keys = list(spec.group_by)
    if spec.partitioned and PARTITION_COLUMN in work.columns:
        keys = [PARTITION_COLUMN, *keys]
    window = spec.window
    if window is not None:
        starts = period_start(work[window.column], window)
        if window.rolling:
            # Each row belongs to the N windows that end in its period or the N-1 after it.
            observed = set(starts.dropna().unique())
            copies = []
            for step in range(window.rolling):
                shifted = work.assign(**{WINDOW_END: shift_periods(starts, window, step)})
                copies.append(shifted)
            work = pd.concat(copies, ignore_index=True)
            work = work[work[WINDOW_END].isin(observed)]
            keys = [*keys, WINDOW_END]
        else:
            work[WINDOW_START] = starts
            keys = [*keys, WINDOW_START]
    if not keys:
        work["__all"] = 0
        keys = ["__all"]

    grouped = work.groupby(keys, observed=True, dropna=False, sort=True)
    metrics = {name: _metric(grouped, work, name, metric) for name, metric in spec.parsed_metrics.items()}
    result = pd.DataFrame(metrics).reset_index()
    if "__all" in result.columns:
        result = result.drop(columns=["__all"])
    if window is not None and window.rolling:
        period_ends = result[WINDOW_END]
        result[WINDOW_START] = shift_periods(period_ends, window, -(window.rolling - 1))
        result[WINDOW_END] = shift_periods(period_ends, window, 1)
    for name, metric in spec.parsed_metrics.items():
        if metric.function in ("count", "null_count", "nunique"):
            result[name] = result[name].astype("int64")
    groups = len(result)
    result = _having(result, spec)
    order = [k for k in spec.group_by]
    if window is not None:
        order += [WINDOW_START] + ([WINDOW_END] if window.rolling else [])
    columns = [*order, *spec.metrics]
    if spec.partitioned and PARTITION_COLUMN in result.columns:
        columns.append(PARTITION_COLUMN)
    result = result[columns].sort_values(order or columns[:1], kind="stable").reset_index(drop=True)
    stats = AggregateStats(rows_in=rows_in, groups_out=len(result), groups_filtered_by_having=groups - len(result))
    return AggregateResult(frame=result, stats=stats)
