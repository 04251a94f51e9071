"""Several stored partitions of one table, handed over unread so they can be used one at a time.

An IO manager returns a :class:`PartitionFrames` instead of one concatenated frame when the input
asks for it (input metadata ``etl_assets/stream_partitions: True``; the file IO managers honour
it, the Postgres one returns a frame as before). A consumer that can work a chunk of partitions at a
time (the unpartitioned aggregate) iterates it and never holds the whole history (memory is
bounded by ``CHUNK_ROWS`` or the largest partition); anything else calls
:meth:`PartitionFrames.to_frame` and gets exactly the frame the IO manager would have loaded.

Each partition read alone must have the dtypes it has inside the concatenation: partitions store
only the categories they use, and a column can be null-typed in one file and typed in another.
The schemas (Parquet footers or sidecars, no data) are unified once up front, exactly as
``concat_tables`` unifies whole tables; every partition is then concatenated with that zero-row
unified table, which gives it the union dictionary and the promoted types.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
from upath import UPath

from etl_assets.lib.io.convert import concat_tables, stored_dictionaries, table_to_frame

STREAM_PARTITIONS = "etl_assets/stream_partitions"
#: Rows per frame handed to the consumer: big enough that per-frame costs (Arrow to pandas, a
#: groupby) are amortised, small enough to be a few tens of MB whatever the history's length.
CHUNK_ROWS = 100_000
#: Files read at once (in parallel by the IO manager's reader).
READ_BATCH = 32


@dataclass
class PartitionFrames:
    """The stored partitions ``keys`` (in key order) of one table, at ``paths``."""

    keys: list[str]
    paths: list[UPath]
    #: ``parquet``, ``csv`` or ``jsonl``: how the files are stored.
    storage: str
    read_table: Callable[[UPath], pa.Table]
    read_tables: Callable[[Sequence[UPath]], list[pa.Table]]
    read_schema: Callable[[UPath], pa.Schema]
    _unified: pa.Table | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    def to_frame(self) -> pd.DataFrame:
        """All partitions as one frame (what the IO manager loads without streaming)."""
        return table_to_frame(concat_tables(self.read_tables(self.paths), self.keys))

    def unified(self) -> pa.Table:
        """A zero-row table with every column's type and categories across all partitions, in
        one chunk per column (so concatenating it with a chunk's tables stays cheap)."""
        if self._unified is None:
            with ThreadPoolExecutor(max_workers=8) as pool:  # footers: I/O bound
                schemas = list(pool.map(self.read_schema, self.paths))
            combined = concat_tables([_empty_table(s) for s in schemas], self.keys)
            self._unified = _single_chunk(combined)
        return self._unified

    def frames(
        self, max_rows: int | None = None, columns: Collection[str] | None = None
    ) -> Iterator[tuple[list[str], pd.DataFrame]]:
        """Consecutive partitions in key order, concatenated into frames of about ``max_rows``
        rows (default ``CHUNK_ROWS``; a bigger partition is a frame of its own), with the dtypes
        of the whole concatenation: each frame is a slice of what :meth:`to_frame` returns
        (only ``columns``, in stored order, when given: less to convert and hold)."""
        max_rows = max_rows or CHUNK_ROWS
        unified = _select(self.unified(), columns)
        keys: list[str] = []
        tables: list[pa.Table] = []
        rows = 0
        for start in range(0, len(self.paths), READ_BATCH):
            batch = slice(start, start + READ_BATCH)
            for key, table in zip(
                self.keys[batch], self.read_tables(self.paths[batch]), strict=True
            ):
                keys.append(key)
                tables.append(_select(table, columns))
                rows += table.num_rows
                if rows >= max_rows:
                    yield keys, self._frame(unified, keys, tables)
                    keys, tables, rows = [], [], 0
        if keys:
            yield keys, self._frame(unified, keys, tables)

    @staticmethod
    def _frame(unified: pa.Table, keys: list[str], tables: list[pa.Table]) -> pd.DataFrame:
        return table_to_frame(concat_tables([unified, *tables], ["(all partitions)", *keys]))


def _empty_table(schema: pa.Schema) -> pa.Table:
    """``conform(schema.empty_table(), schema)`` without its per-column casts: the stored types,
    and for category columns the stored dictionary (or an empty one when none is stored)."""
    dictionaries = stored_dictionaries(schema)
    columns, fields = [], []
    for stored_field in schema:
        stored = dictionaries.get(stored_field.name)
        if stored is not None:
            column = stored
        elif pa.types.is_dictionary(stored_field.type):
            column = pa.DictionaryArray.from_arrays(
                pa.array([], stored_field.type.index_type),
                pa.array([], stored_field.type.value_type),
            )
        else:
            column = pa.array([], stored_field.type)
        columns.append(column)
        fields.append(stored_field.with_type(column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=schema.metadata))


def _single_chunk(table: pa.Table) -> pa.Table:
    """The zero-row ``table`` with one (empty) chunk per column, dictionaries kept."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            dictionary = (
                column.chunk(0).dictionary
                if column.num_chunks
                else pa.array([], column.type.value_type)
            )
            column = pa.DictionaryArray.from_arrays(
                pa.array([], column.type.index_type), dictionary, ordered=column.type.ordered
            )
        else:
            column = pa.array([], column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _select(table: pa.Table, columns: Collection[str] | None) -> pa.Table:
    if columns is None:
        return table
    return table.select([name for name in table.column_names if name in columns])
