"""Group-by aggregates with joins, time windows (tumbling and rolling) and ``having``.

Output columns: the ``group_by`` columns, then ``window_start`` (and ``window_end`` for rolling
windows) when there is a window, then the metrics in declared order, then ``_partition`` for a
partitioned aggregate whose input carries it (the partition is an implicit first group key).
Rows are sorted by ``_partition``, the group keys, then ``window_start``: the output of the same
input is always the same frame.

Semantics worth knowing:

* Null group keys form their own group (as SQL ``GROUP BY``); categorical keys only produce the
  groups that occur (no cartesian product of categories) and keep their categorical dtype.
* ``count()`` counts rows, ``count(c)`` non-null values, ``null_count(c)`` nulls; these and
  ``nunique`` (nulls not counted) are int64. ``sum`` of an all-null group is null (as in SQL),
  not 0. ``mean``, ``median`` and ``std`` (sample, ddof=1: null for a single value) are float64.
  ``min``/``max``/``first``/``last`` keep the column's dtype; ``first``/``last`` are the first and
  last non-null values in input order; ``min``/``max`` of a category compare its text.
* A rolling window of N periods gives, for each period p in which the group has at least one row,
  the metrics over all its rows in periods p-N+1 ... p, with ``window_start`` the start of period
  p-N+1 and ``window_end`` the (exclusive) end of period p. Periods without rows of the group get
  no output row (a trailing window is not extrapolated into days with no data). Every metric is
  exact: each row is replicated into the N windows it belongs to before grouping.
* Rows whose window column is null form one group with null window bounds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl_assets.lib.spec import PARTITION_COLUMN, AggregateSpec, Metric
from etl_assets.lib.transforms.errors import AggregateError
from etl_assets.lib.transforms.joins import join_table
from etl_assets.lib.transforms.results import AggregateResult, AggregateStats
from etl_assets.lib.transforms.windows import Periods, periods

WINDOW_START, WINDOW_END = "window_start", "window_end"
_PERIOD, _OWN_PERIOD, _ALL = "__period", "__own_period", "__all"
_NUMERIC_ONLY = {"sum", "mean", "median", "std"}
_FLOAT_RESULTS = {"mean", "median", "std"}
_COUNTS = {"count", "null_count", "nunique"}
_OPS: dict[str, Callable[[pd.Series, float], pd.Series]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)


def _check(frame: pd.DataFrame, spec: AggregateSpec, metrics: dict[str, Metric]) -> None:
    available = ", ".join(map(str, frame.columns))
    wanted = list(spec.group_by) + [m.column for m in metrics.values() if m.column is not None]
    if spec.window is not None:
        wanted.append(spec.window.column)
    missing = sorted({c for c in wanted if c not in frame.columns})
    if missing:
        raise AggregateError(f"aggregate input has no column {', '.join(map(repr, missing))} (columns: {available})")
    reserved = set(spec.group_by) | {WINDOW_START, WINDOW_END, PARTITION_COLUMN}
    clash = [name for name in metrics if name in reserved]
    if clash:
        raise AggregateError(f"metric name(s) {', '.join(map(repr, clash))} collide with a group column or window bound")
    for name, metric in metrics.items():
        if metric.function in _NUMERIC_ONLY and metric.column is not None and not _is_numeric(frame[metric.column]):
            raise AggregateError(
                f"metric {name!r}: {metric.function}({metric.column}) needs a numeric column, "
                f"{metric.column!r} is {frame[metric.column].dtype}"
            )


#: ``nunique`` of ints by direct addressing while groups x value range is at most this many
#: times the row count (plus a little, for tiny inputs).
_DENSE_NUNIQUE_FACTOR = 4
_DENSE_NUNIQUE_SLACK = 1 << 16


def _plain_ints(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(values as int64, where present) for a numpy or nullable int column that fits int64."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype) or not pd.api.types.is_integer_dtype(dtype):
        return None
    if dtype.kind == "u" and dtype.itemsize >= 8:
        return None
    present = values.notna().to_numpy(dtype=bool)
    return values.to_numpy(dtype=np.int64, na_value=0), present


def _dense_nunique(grouped: pd.core.groupby.SeriesGroupBy) -> pd.Series | None:
    """``nunique`` (nulls not counted) of an int column whose values span a range close to the
    row count (ids, user numbers), else None.

    pandas factorizes the values and hashes every (group, value) pair (~60 ms of a 120 ms
    aggregate at 1M rows); marking each pair in a groups x range table of booleans and counting
    the marks per group is a linear pass that decides the same thing: two rows are one pair
    exactly when their group and value are equal. Group numbers and the result index are the
    ones pandas' own ``nunique`` uses (the grouper's ``ids`` and ``result_index``: ``ngroup()``
    re-ranks them with a sort); when they are not there as expected, None."""
    values = grouped.obj
    found = _plain_ints(values)
    grouper = getattr(grouped, "_grouper", None)
    index = getattr(grouper, "result_index", None)
    ids = getattr(grouper, "ids", None)
    if found is None or not isinstance(index, pd.Index) or not isinstance(ids, np.ndarray) or len(ids) != len(values):
        return None
    groups = len(index)
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= groups):
        return None
    ints, present = found
    ints, ids = ints[present], ids[present].astype(np.int64, copy=False)
    if not len(ints):
        return pd.Series(np.zeros(groups, dtype=np.int64), index=index)
    low, high = int(ints.min()), int(ints.max())
    span = high - low + 1
    if groups * span > _DENSE_NUNIQUE_FACTOR * len(values) + _DENSE_NUNIQUE_SLACK:
        return None
    seen = np.zeros(groups * span, dtype=bool)
    seen[ids * span + (ints - low)] = True
    return pd.Series(seen.reshape(groups, span).sum(axis=1, dtype=np.int64), index=index)


def _metric(grouped: pd.core.groupby.DataFrameGroupBy, metric: Metric, texts: dict[str, str]) -> pd.Series:
    function, column = metric.function, metric.column
    if column is None:
        return grouped.size().astype("int64")
    if function in ("min", "max") and column in texts:
        column = texts[column]
    values = grouped[column]
    if function == "count":
        result = values.count()
    elif function == "null_count":
        result = grouped.size() - values.count()
    elif function == "nunique":
        dense = _dense_nunique(values)
        result = values.nunique(dropna=True) if dense is None else dense
    elif function == "sum":
        result = values.sum(min_count=1)
    elif function == "std":
        result = values.std(ddof=1)
    elif function in ("first", "last"):
        result = getattr(values, function)(skipna=True)
    else:  # mean, median, min, max
        result = getattr(values, function)()
    if function in _COUNTS:
        return result.astype("int64")
    if function in _FLOAT_RESULTS:
        return result.astype("float64")
    return result


def _replicate(work: pd.DataFrame, found: Periods, length: int) -> pd.DataFrame:
    """Each row once per rolling window containing it (periods p ... p+N-1), in input order;
    ``__own_period`` marks the copy in the row's own period (a window ending there is output)."""
    valid = np.flatnonzero(found.valid)
    rows = np.repeat(valid, length)
    step = np.tile(np.arange(length, dtype=np.int64), len(valid))
    period = found.index[rows] + step
    missing = np.zeros(len(rows), dtype=bool)
    invalid = np.flatnonzero(~found.valid)
    if len(invalid):  # null timestamps: one group with null bounds, counted once
        rows = np.concatenate([rows, invalid])
        step = np.concatenate([step, np.zeros(len(invalid), dtype=np.int64)])
        period = np.concatenate([period, np.zeros(len(invalid), dtype=np.int64)])
        missing = np.concatenate([missing, np.ones(len(invalid), dtype=bool)])
    copies = work.take(rows).reset_index(drop=True)
    copies[_PERIOD] = pd.arrays.IntegerArray(period, missing)
    copies[_OWN_PERIOD] = step == 0
    return copies


def _bounds(result: pd.DataFrame, found: Periods, rolling: int | None) -> pd.DataFrame:
    period = result[_PERIOD]
    valid = period.notna().to_numpy()
    index = period.fillna(0).to_numpy(dtype=np.int64)
    if rolling:
        start = found.starts(index - (rolling - 1)).where(valid)
        return _with_bounds(result, start, found.starts(index + 1).where(valid))
    return _with_bounds(result, found.starts(index).where(valid), None)


def _with_bounds(result: pd.DataFrame, start: pd.Series, end: pd.Series | None) -> pd.DataFrame:
    result = result.drop(columns=[_PERIOD])
    result[WINDOW_START] = start.array
    if end is not None:
        result[WINDOW_END] = end.array
    return result


def _having(result: pd.DataFrame, spec: AggregateSpec) -> pd.DataFrame:
    if not spec.having:
        return result
    keep = np.ones(len(result), dtype=bool)
    for text, condition in zip(spec.having, spec.parsed_having, strict=True):
        if condition.name not in result.columns or condition.name.startswith("__"):
            raise AggregateError(f"having {text!r}: {condition.name!r} is neither a metric nor a group column")
        values = result[condition.name]
        if not _is_numeric(values):
            raise AggregateError(f"having {text!r}: {condition.name!r} is {values.dtype}, not a number")
        holds = _OPS[condition.op](values, condition.value)
        keep &= pd.Series(holds).fillna(False).to_numpy(dtype=bool)
    return result[keep]


def apply_joins(frame: pd.DataFrame, spec: AggregateSpec, joins: Mapping[str, pd.DataFrame] | None) -> pd.DataFrame:
    """``frame`` with every declared join applied (row-wise, so a partition at a time is exact)."""
    for join in spec.join:
        if joins is None or join.table not in joins:
            raise AggregateError(f"aggregate needs the clean table {join.table!r} to join (pass it in joins=)")
        frame = join_table(frame, join, joins[join.table])
    return frame


def aggregate(
    frame: pd.DataFrame, spec: AggregateSpec, *, joins: Mapping[str, pd.DataFrame] | None = None
) -> AggregateResult:
    """Aggregate ``frame`` (a clean table) as ``spec`` declares; ``joins`` maps each joined
    table's name to its clean frame."""
    rows_in = len(frame)
    frame = apply_joins(frame, spec, joins)
    metrics = spec.parsed_metrics
    _check(frame, spec, metrics)
    partitioned = spec.partitioned and PARTITION_COLUMN in frame.columns
    prepared = prepare(frame, spec, metrics, partitioned=partitioned)
    grouped = prepared.work.groupby(prepared.keys, observed=prepared.observed, dropna=False, sort=True)
    columns = {name: _metric(grouped, metric, prepared.texts) for name, metric in metrics.items()}
    if spec.window is not None and spec.window.rolling:
        columns[_OWN_PERIOD] = grouped[_OWN_PERIOD].sum()
    return finish(pd.DataFrame(columns), spec, prepared.found, partitioned=partitioned, rows_in=rows_in)


@dataclass
class Prepared:
    """The frame to group (only the needed columns, plus period and helper columns), its keys."""

    work: pd.DataFrame
    keys: list[str]
    #: False only for the single whole-input group (one row even for an empty input).
    observed: bool
    #: Categorical column -> its text copy, for ``min``/``max`` (which compare text).
    texts: dict[str, str]
    found: Periods | None


def prepare(frame: pd.DataFrame, spec: AggregateSpec, metrics: dict[str, Metric], *, partitioned: bool) -> Prepared:
    """Group keys, period numbers (rows replicated for rolling windows) and text copies of
    categories; shared by the in-memory path and the per-partition streaming path."""
    keys = ([PARTITION_COLUMN] if partitioned else []) + list(spec.group_by)
    values = [m.column for m in metrics.values() if m.column is not None]
    work = frame[list(dict.fromkeys(keys + values))].reset_index(drop=True)
    texts: dict[str, str] = {}
    for metric in metrics.values():
        column = metric.column
        if metric.function in ("min", "max") and column is not None and isinstance(work[column].dtype, pd.CategoricalDtype):
            texts[column] = f"__text_{column}"
            work[texts[column]] = work[column].astype("str")

    window = spec.window
    found: Periods | None = None
    if window is not None:
        found = periods(frame[window.column].reset_index(drop=True), window)
        if window.rolling:
            work = _replicate(work, found, window.rolling)
        else:
            work[_PERIOD] = pd.arrays.IntegerArray(found.index, ~found.valid)
        keys.append(_PERIOD)
    observed = True
    if not keys:  # one row for the whole input, even an empty one (as SQL without GROUP BY)
        work[_ALL] = pd.Categorical(np.zeros(len(work), dtype=np.int64), categories=[0])
        keys, observed = [_ALL], False
    return Prepared(work=work, keys=keys, observed=observed, texts=texts, found=found)


def finish(
    result: pd.DataFrame, spec: AggregateSpec, found: Periods | None, *, partitioned: bool, rows_in: int
) -> AggregateResult:
    """From one row per group (indexed by the group keys, metrics in columns, plus
    ``__own_period`` for rolling windows) to the output: window bounds, ``having``, column order."""
    window = spec.window
    if _OWN_PERIOD in result.columns:
        result = result[result[_OWN_PERIOD] > 0].drop(columns=[_OWN_PERIOD])
    result = result.reset_index()
    if _ALL in result.columns:
        result = result.drop(columns=[_ALL])
    if found is not None:
        result = _bounds(result, found, window.rolling if window is not None else None)

    groups = len(result)
    result = _having(result, spec)
    order = list(spec.group_by)
    if window is not None:
        order += [WINDOW_START, WINDOW_END] if window.rolling else [WINDOW_START]
    order += list(spec.parsed_metrics)
    if partitioned:
        order.append(PARTITION_COLUMN)
    result = result[order].reset_index(drop=True)
    stats = AggregateStats(rows_in=rows_in, groups_out=len(result), groups_filtered_by_having=groups - len(result))
    return AggregateResult(frame=result, stats=stats)
