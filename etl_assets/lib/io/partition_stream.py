"""Several stored partitions of one table, handed over unread so they can be used one at a time.

An IO manager returns a :class:`PartitionFrames` instead of one concatenated frame when the input
asks for it (input metadata ``etl_assets/stream_partitions: True``; the file IO managers honour
it, the Postgres one returns a frame as before). A consumer that can work a partition at a time
(the unpartitioned aggregate) iterates it and never holds the whole history; anything else calls
:meth:`PartitionFrames.to_frame` and gets exactly the frame the IO manager would have loaded.

Each partition read alone must have the dtypes it has inside the concatenation: partitions store
only the categories they use, and a column can be null-typed in one file and typed in another.
The schemas (Parquet footers or sidecars, no data) are unified once up front, exactly as
``concat_tables`` unifies whole tables; every partition is then concatenated with that zero-row
unified table, which gives it the union dictionary and the promoted types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
from upath import UPath

from etl_assets.lib.io.convert import concat_tables, conform, table_to_frame

STREAM_PARTITIONS = "etl_assets/stream_partitions"


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
        """A zero-row table with every column's type and categories across all partitions."""
        if self._unified is None:
            empties = [conform(s.empty_table(), s) for s in map(self.read_schema, self.paths)]
            self._unified = concat_tables(empties, self.keys)
        return self._unified

    def frames(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each partition's frame in key order, with the dtypes of the concatenated frame."""
        unified = self.unified()
        for key, path in zip(self.keys, self.paths, strict=True):
            table = self.read_table(path)
            combined = concat_tables([unified, table], ["(all partitions)", key])
            yield key, table_to_frame(combined)
