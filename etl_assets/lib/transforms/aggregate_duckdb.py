"""Exact ``median``, ``std`` and ``nunique`` per group over more rows than fit in memory.

These metrics cannot be merged from per-partition results, so every value must meet the other
values of its group. The streaming aggregate (``aggregate_streaming``) feeds them here a partition
at a time as ``(group id, value...)`` rows; DuckDB keeps them in a database file in a private
temporary folder and spills to disk beyond ``memory_limit``, then computes the metrics with SQL
aggregates of the same definitions pandas uses:

* ``median``: the middle value, the mean of the two middle values for an even count, nulls
  ignored (row numbers over a sort per group, which spills, rather than DuckDB's in-memory
  ``median``);
* ``std``: ``stddev_samp`` (ddof=1, null for a single value), as pandas' ``std``;
* ``nunique``: distinct ``(group, value)`` pairs counted per group, nulls not counted.

Group keys never reach DuckDB: the pandas side numbers the groups, so null keys, categories,
time-zone windows and join semantics stay those of the in-memory path. Values for ``median`` and
``std`` are stored as float64 (what pandas computes them in); ``std`` may differ from pandas' in
the last bits (another summation order).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa

#: One query per metric, each of operators that spill to disk (hash aggregates, window
#: partitions, sorts): DuckDB's holistic ``median``/``count(DISTINCT)`` keep a group's values in
#: memory and fail beyond ``memory_limit``. ``{c}`` is a stored column name (``c0``...).
_QUERIES = {
    "std": "SELECT gid, stddev_samp({c}) AS value FROM group_values GROUP BY gid",
    "nunique": "SELECT gid, count(*) AS value FROM"
    " (SELECT DISTINCT gid, {c} FROM group_values WHERE {c} IS NOT NULL) GROUP BY gid",
    # the middle value, or the mean of the two middle values of an even count
    "median": "SELECT gid, avg({c}) AS value FROM"
    " (SELECT gid, {c}, row_number() OVER (PARTITION BY gid ORDER BY {c}) AS position,"
    " count(*) OVER (PARTITION BY gid) AS n FROM group_values WHERE {c} IS NOT NULL)"
    " WHERE position IN ((n + 1) // 2, (n + 2) // 2) GROUP BY gid",
}
FLOAT_INPUT = frozenset({"median", "std"})


@dataclass(frozen=True)
class DuckDBLimits:
    """How much of the machine DuckDB may use: its memory before spilling, its threads (the
    step's share of the CPUs) and where its temporary folder goes (None: the system's)."""

    memory_limit: str = "256MB"
    threads: int = 1
    temp_root: str | None = None


def spilled_value(values: pd.Series, *, float_input: bool) -> pa.Array:
    """The Arrow array DuckDB receives (float64 for ``median``/``std``; NaN becomes null)."""
    if float_input:
        return pa.array(values.to_numpy(dtype="float64", na_value=np.nan), from_pandas=True)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("str")
    return pa.array(values, from_pandas=True)


def spillable(values: pd.Series, function: str) -> bool:
    """Whether DuckDB computes ``function`` over these values exactly as pandas does (plain numpy
    and pandas extension dtypes; not Python objects or Arrow decimals)."""
    if isinstance(values.dtype, pd.ArrowDtype) or values.dtype == object:
        return False
    return function in _QUERIES


class SpilledGroupValues:
    """A DuckDB table of ``(gid, c0, c1, ...)`` rows in its own temporary folder, removed on exit.

    ``columns`` names the stored value columns (``c0``...).
    """

    def __init__(self, columns: list[str], limits: DuckDBLimits) -> None:
        self.columns = columns
        self.limits = limits
        self.rows = 0
        self._folder: Path | None = None
        self._connection = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> SpilledGroupValues:
        if not self.columns:  # nothing to spill: no database, no folder
            return self
        import duckdb  # the step's library, loaded at run time

        self._folder = Path(tempfile.mkdtemp(prefix="etl_assets_agg_", dir=self.limits.temp_root))
        self._connection = duckdb.connect(
            str(self._folder / "values.duckdb"),
            config={
                "memory_limit": self.limits.memory_limit,
                "threads": max(1, int(self.limits.threads)),
                "temp_directory": str(self._folder / "spill"),
                "preserve_insertion_order": False,
            },
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def add(self, gids: np.ndarray, values: dict[str, pa.Array]) -> None:
        """Append one partition's rows: their group ids and, per stored column, their values."""
        if not len(gids):
            return
        table = pa.table(
            {"gid": pa.array(gids, type=pa.int64()), **{c: values[c] for c in self.columns}}
        )
        connection = self._connection
        assert connection is not None, "use SpilledGroupValues as a context manager"
        if self._schema is None:
            self._schema = table.schema
            connection.register("chunk", table)
            connection.execute("CREATE TABLE group_values AS SELECT * FROM chunk")
        else:
            connection.register("chunk", table.cast(self._schema))
            connection.execute("INSERT INTO group_values SELECT * FROM chunk")
        connection.unregister("chunk")
        self.rows += len(gids)

    def compute(self, requests: dict[str, tuple[str, str]]) -> pd.DataFrame:
        """One row per group id (the index) and a column per request ``name: (function, stored
        column)``, e.g. ``{"r0": ("median", "c0")}``; a group without values for a request gets
        null (0 for ``nunique``)."""
        connection = self._connection
        assert connection is not None or self._schema is None, (
            "use SpilledGroupValues as a context manager"
        )
        results: dict[str, pd.Series] = {}
        for name, (function, column) in requests.items():
            if self._schema is None:
                results[name] = pd.Series([], dtype="float64")
                continue
            table = connection.sql(_QUERIES[function].format(c=column)).to_arrow_table()
            values = table.to_pandas().set_index("gid")["value"]
            results[name] = values.astype("int64" if function == "nunique" else "float64")
        gids = pd.Index(
            sorted(set().union(*(r.index for r in results.values()))), dtype="int64", name="gid"
        )
        frame = pd.DataFrame({name: r.reindex(gids) for name, r in results.items()}, index=gids)
        for name, (function, _) in requests.items():
            if function == "nunique":
                frame[name] = frame[name].fillna(0).astype("int64")
        return frame
