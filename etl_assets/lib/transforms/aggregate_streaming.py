"""An unpartitioned aggregate computed a partition at a time, so history need not fit in memory.

The in-memory :func:`~etl_assets.lib.transforms.aggregate.aggregate` groups one frame holding
every row. Here each partition (any chunk of rows, in input order) is joined, windowed and
grouped on its own with the same code (``prepare``), and reduced to a small partial state per
group; partial states are combined exactly and finished with the same code (``finish``):

* mergeable metrics (``count``, ``null_count``, ``sum``, ``mean``, ``min``, ``max``, ``first``,
  ``last``): row counts, non-null counts and sums add up (``mean`` = sum / non-null count), minima
  and maxima of minima and maxima, first/last non-null values of the partials in input order;
* ``median``, ``std``, ``nunique``: the rows' values go to DuckDB keyed by a global group number
  (see ``aggregate_duckdb``), which spills to disk and computes them exactly at the end.

Tumbling and rolling windows stream too (a row's period, or its N window copies, depend only on
the row). Results equal the in-memory computation: same rows, order, values and dtypes; float
``mean``/``sum``/``std`` may differ in the last bits because the summation order differs.

Not streamed (the caller uses the in-memory path instead, see :class:`NotStreamable`): an input
without rows (its dtypes come from the stored schema alone), and ``median``/``std``/``nunique``
over Python-object or Arrow-decimal columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl_assets.lib.spec import PARTITION_COLUMN, AggregateSpec, Metric
from etl_assets.lib.transforms.aggregate import (
    _COUNTS,
    _FLOAT_RESULTS,
    _OWN_PERIOD,
    Prepared,
    _check,
    apply_joins,
    finish,
    prepare,
)
from etl_assets.lib.transforms.aggregate_duckdb import (
    FLOAT_INPUT,
    DuckDBLimits,
    SpilledGroupValues,
    spillable,
    spilled_value,
)
from etl_assets.lib.transforms.results import AggregateResult
from etl_assets.lib.transforms.windows import Periods

MERGEABLE = frozenset({"count", "null_count", "sum", "mean", "min", "max", "first", "last"})
SPILLED = frozenset({"median", "std", "nunique"})
#: Combine the accumulated partial states into one when they hold more rows than this.
REDUCE_AT_ROWS = 200_000
_SIZE, _GID = "__size", "__gid"


class NotStreamable(Exception):
    """This input cannot be streamed exactly; the message says why (recorded in metadata)."""


@dataclass(frozen=True)
class StreamedAggregate:
    result: AggregateResult
    #: ``streaming`` (mergeable metrics only) or ``duckdb`` (some metric went to DuckDB).
    engine: str
    #: Frames (chunks of rows) consumed.
    chunks: int
    #: Rows stored in DuckDB (window copies included); 0 for ``streaming``.
    spilled_rows: int


def _state_name(kind: str, column: str) -> str:
    return f"__{kind}__{column}"


def _states(metric: Metric, texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """The (kind, column) partial states a mergeable metric is finished from."""
    function, column = metric.function, metric.column
    if column is None:
        return []
    if function in ("count", "null_count"):
        return [("n", column)]
    if function in ("sum", "mean"):
        return [("n", column), ("sum", column)]
    if function in ("min", "max"):
        return [(function, texts.get(column, column))]
    return [(function, column)]  # first, last


def _partial(
    prepared: Prepared, grouped: pd.core.groupby.DataFrameGroupBy, states: set[tuple[str, str]]
) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {_SIZE: grouped.size().astype("int64")}
    for kind, column in sorted(states):
        values = grouped[column]
        if kind == "n":
            result = values.count().astype("int64")
        elif kind == "sum":
            result = values.sum(min_count=1)
        elif kind in ("first", "last"):
            result = getattr(values, kind)(skipna=True)
        else:  # min, max
            result = getattr(values, kind)()
        columns[_state_name(kind, column)] = result
    if _OWN_PERIOD in prepared.work.columns:
        columns[_OWN_PERIOD] = grouped[_OWN_PERIOD].sum()
    return pd.DataFrame(columns).reset_index()


def _combine(partials: list[pd.DataFrame], keys: list[str], observed: bool) -> pd.DataFrame:
    """One partial state per group from several (in input order, for first/last)."""
    frame = pd.concat(partials, ignore_index=True) if len(partials) > 1 else partials[0]
    grouped = frame.groupby(keys, observed=observed, dropna=False, sort=True)
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        if name in keys:
            continue
        values = grouped[name]
        kind = name.split("__")[1] if name.startswith("__") and name.count("__") >= 2 else name
        if name in (_SIZE, _OWN_PERIOD) or kind == "n":
            columns[name] = values.sum()
        elif kind == "sum":
            columns[name] = values.sum(min_count=1)
        elif name == _GID:
            columns[name] = values.first()
        elif kind in ("first", "last"):
            columns[name] = getattr(values, kind)(skipna=True)
        else:  # min, max
            columns[name] = getattr(values, kind)()
    return pd.DataFrame(columns).reset_index()


def _finish_metrics(
    state: pd.DataFrame,
    metrics: Mapping[str, Metric],
    texts: Mapping[str, str],
    spilled: pd.DataFrame | None,
) -> dict[str, pd.Series]:
    """Each metric's column from the combined partial states (and DuckDB's, by group number)."""
    columns: dict[str, pd.Series] = {}
    for name, metric in metrics.items():
        function, column = metric.function, metric.column
        if column is None:
            result = state[_SIZE]
        elif function in SPILLED:
            assert spilled is not None
            result = spilled[name].reindex(state[_GID].to_numpy())
            result.index = state.index
        elif function == "count":
            result = state[_state_name("n", column)]
        elif function == "null_count":
            result = state[_SIZE] - state[_state_name("n", column)]
        elif function == "sum":
            result = state[_state_name("sum", column)]
        elif function == "mean":
            result = state[_state_name("sum", column)] / state[_state_name("n", column)]
        elif function in ("min", "max"):
            result = state[_state_name(function, texts.get(column, column))]
        else:
            result = state[_state_name(function, column)]
        if function in _COUNTS:
            result = result.astype("int64")
        elif function in _FLOAT_RESULTS:
            result = result.astype("float64")
        columns[name] = result
    return columns


def _key_tuple(row: tuple) -> tuple:
    """A hashable group key in which every kind of null is the same value (as in the groupby)."""
    return tuple(None if pd.isna(value) else value for value in row)


class _GroupNumbers:
    """Dense global numbers for group keys met partition by partition."""

    def __init__(self) -> None:
        self.numbers: dict[tuple, int] = {}

    def of(self, keys: pd.DataFrame) -> np.ndarray:
        numbers = self.numbers
        return np.fromiter(
            (
                numbers.setdefault(_key_tuple(row), len(numbers))
                for row in keys.itertuples(index=False, name=None)
            ),
            dtype=np.int64,
            count=len(keys),
        )


def aggregate_streamed(
    parts: Iterable[pd.DataFrame],
    spec: AggregateSpec,
    *,
    joins: Mapping[str, pd.DataFrame] | None = None,
    limits: DuckDBLimits | None = None,
) -> StreamedAggregate:
    """The unpartitioned ``spec`` over the rows of ``parts`` (in order), as
    :func:`~etl_assets.lib.transforms.aggregate.aggregate` over their concatenation would give.

    Raises :class:`NotStreamable` when that cannot be guaranteed (then use ``aggregate``).
    """
    if spec.partitioned:
        raise NotStreamable("a partitioned aggregate reads only its own partitions")
    metrics = spec.parsed_metrics
    spilled_metrics = {name: m for name, m in metrics.items() if m.function in SPILLED}
    # one stored column per (kind of values, column): median and std of a column share floats
    stored: dict[tuple[bool, str], str] = {}
    requests: dict[str, tuple[str, str]] = {}
    for name, metric in spilled_metrics.items():
        family = (metric.function in FLOAT_INPUT, str(metric.column))
        stored.setdefault(family, f"c{len(stored)}")
        requests[name] = (metric.function, stored[family])

    rows_in = 0
    count = 0
    partials: list[pd.DataFrame] = []
    partial_rows = 0
    numbers = _GroupNumbers()
    found: Periods | None = None
    keys: list[str] = []
    observed = True
    texts: dict[str, str] = {}
    with SpilledGroupValues(list(stored.values()), limits or DuckDBLimits()) as store:
        for part in parts:
            count += 1
            frame = (
                part.drop(columns=[PARTITION_COLUMN]) if PARTITION_COLUMN in part.columns else part
            )
            rows_in += len(frame)
            frame = apply_joins(frame, spec, joins)
            _check(frame, spec, metrics)
            for name, metric in spilled_metrics.items():
                if not spillable(frame[metric.column], metric.function):
                    raise NotStreamable(
                        f"metric {name!r}: {metric.function} over a {frame[metric.column].dtype} column"
                    )
            if not len(frame):
                continue  # an empty part would only blur dtypes (an all-null partial)
            prepared = prepare(frame, spec, metrics, partitioned=False)
            keys, observed, texts = prepared.keys, prepared.observed, prepared.texts
            found = prepared.found if prepared.found is not None else found
            grouped = prepared.work.groupby(keys, observed=observed, dropna=False, sort=True)
            states = {
                state
                for metric in metrics.values()
                if metric.function in MERGEABLE
                for state in _states(metric, texts)
            }
            partial = _partial(prepared, grouped, states)
            if spilled_metrics:
                local = numbers.of(partial[keys])
                partial[_GID] = local
                gids = local[grouped.ngroup().to_numpy()]
                values = {}
                for (float_input, column), stored_name in stored.items():
                    values[stored_name] = spilled_value(
                        prepared.work[column], float_input=float_input
                    )
                store.add(gids, values)
            partials.append(partial)
            partial_rows += len(partial)
            if partial_rows > REDUCE_AT_ROWS and len(partials) > 1:
                partials = [_combine(partials, keys, observed)]
                partial_rows = len(partials[0])
        if rows_in == 0 or not partials:
            raise NotStreamable(
                "no rows: the result's dtypes come from the stored schema, read in memory"
            )
        state = _combine(partials, keys, observed) if len(partials) > 1 else partials[0]
        state = state.set_index(keys)
        spilled = None
        if spilled_metrics:
            spilled = store.compute(
                {f"r{i}": request for i, request in enumerate(requests.values())}
            )
            spilled.columns = list(requests)
        columns = _finish_metrics(state, metrics, texts, spilled)
        spilled_rows = store.rows
    result = pd.DataFrame(columns, index=state.index)
    if _OWN_PERIOD in state.columns:
        result[_OWN_PERIOD] = state[_OWN_PERIOD]
    finished = finish(result, spec, found, partitioned=False, rows_in=rows_in)
    return StreamedAggregate(
        result=finished,
        engine="duckdb" if spilled_metrics else "streaming",
        chunks=count,
        spilled_rows=spilled_rows,
    )
