"""Parquet files: read with pyarrow, native column types kept.

The only format whose raw layer is typed: Parquet already carries a schema, so there is no
text to preserve. ``_source_row`` is the row's position in the file (1-based). A gzip- or
zip-wrapped file is decompressed in memory first (Parquet needs random access).

Nested columns (list, struct, map) are kept as they are, Arrow-typed (``pd.ArrowDtype``); the
clean step turns one declared ``type: string`` into JSON text. CSV storage cannot hold them:
store such a raw table as Parquet or JSON Lines, or declare them in a clean table. The physical count is the footer's: rows and row groups as
the writer recorded them, compared with the rows actually read.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl_assets.lib.paths import is_local
from etl_assets.lib.sources.files import (
    PARSE_ERROR_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    check_reserved,
    with_lineage,
)
from etl_assets.lib.sources.physical import PhysicalInput, attach_physical
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = ["read_parquet_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN)


def _open(file: SourceFile) -> tuple[pq.ParquetFile, int]:
    """The file opened for reading, and its size in bytes (as stored, after any gzip/zip)."""
    if file.compression == "none":
        if is_local(file.path):
            parquet = pq.ParquetFile(file.path.path)
        else:
            parquet = pq.ParquetFile(file.path.path, filesystem=file.path.fs)
        return parquet, int(file.path.fs.size(file.path.path))
    data = file.read_bytes()
    return pq.ParquetFile(pa.BufferReader(data)), len(data)


def _nested_as_arrow(data_type: pa.DataType) -> pd.ArrowDtype | None:
    """Nested columns stay Arrow-typed in pandas: as Python objects a map would come back as a
    list of pairs and a struct would lose its field types; the clean step needs the Arrow type
    to write their JSON text."""
    return pd.ArrowDtype(data_type) if pa.types.is_nested(data_type) else None


def read_parquet_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    del spec  # Parquet needs no options: the file carries its schema
    try:
        parquet, size = _open(file)
        footer = parquet.metadata
        table = parquet.read()
    except (pa.ArrowInvalid, OSError) as error:
        raise file.read_error(f"cannot read as Parquet: {error}") from None
    # Columns only: a pandas index stored in the file's metadata would otherwise become the
    # frame's index and be lost when frames are concatenated.
    table = table.replace_schema_metadata(None)
    check_reserved(file, table.column_names, _RESERVED)
    frame = with_lineage(table, file.label).to_pandas(types_mapper=_nested_as_arrow)
    physical = PhysicalInput(
        file=file.label,
        bytes=size,
        unit="rows",
        units=footer.num_rows,
        expected_rows=footer.num_rows,
        emitted_rows=len(frame),
        detail=(("row_groups", footer.num_row_groups),),
    )
    return attach_physical(frame, physical)
