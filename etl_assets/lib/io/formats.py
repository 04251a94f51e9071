"""One file of one format: write an Arrow table to a local file, read a file back as a table.

The formats only turn tables into bytes and back; where the bytes go (temporary names, atomic
replace, S3) is :mod:`etl_assets.lib.io.storage`'s job, and the exact pandas dtypes come from
:mod:`etl_assets.lib.io.convert`.

- Parquet keeps its own schema (pandas metadata included). Column statistics (min/max, null
  count) are written for every column except text columns unless ``string_statistics`` is on:
  min/max of strings cost about 0.13 s per million rows of a 13-text-column table (a third of
  the write), and text min/max rarely prunes anything (the raw layer is all text).
- CSV is written by ``pyarrow.csv.write_csv`` (every string value quoted, nulls as empty
  unquoted fields, floats in shortest round-trip form, instants with their UTC offset) and read
  by ``pyarrow.csv.read_csv`` with each column's type from the schema sidecar, so nothing is
  guessed: a quoted empty string stays ``""`` and an unquoted empty field is null.
- JSON Lines is written by :func:`etl_assets.lib.io.jsonl_writer.write_jsonl` and read by
  ``pyarrow.json.read_json`` with an explicit schema from the sidecar (dates and categories
  are parsed as text first, then cast).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from etl_assets.lib.io.jsonl_writer import write_jsonl

Source = str | pa.NativeFile


class FileFormat(Protocol):
    name: str
    extension: str
    has_sidecar: bool  # True when the types live in a schema sidecar next to the data

    def write_file(self, table: pa.Table, local_file: str) -> None: ...

    def read_file(self, source: Source, schema: pa.Schema, *, use_threads: bool = True) -> pa.Table:
        """The raw table; ``schema`` is the sidecar's (or the file's own for Parquet)."""
        ...


#: Rows sampled per text column to judge its cardinality (spread over the table, not its head).
DICTIONARY_SAMPLE_ROWS = 4096
#: A text column whose sample is more than this share distinct values is written without a
#: dictionary: the dictionary would be about as large as the data, and building it (hashing every
#: value) is wasted work; Parquet then falls back to plain pages anyway after the dictionary
#: page limit.
DICTIONARY_MAX_DISTINCT_SHARE = 0.5
_SAMPLE_WINDOWS = 16


def write_parquet_file(table: pa.Table, local_file: str, *, string_statistics: bool = False) -> None:
    pq.write_table(
        table,
        local_file,
        compression="snappy",
        write_statistics=_statistics_columns(table, string_statistics),
        use_dictionary=dictionary_columns(table),
    )


def dictionary_columns(table: pa.Table) -> bool | list[str]:
    """The columns worth dictionary-encoding: all but the high-cardinality plain text columns.

    Only the encoding changes: the values and the Arrow schema read back are the same either way.
    Cardinality is judged on a sample of evenly spaced windows (zero-copy slices, then one
    distinct count: a ``take`` of scattered rows from string chunks costs ~3 ms a column), so a
    column sorted on its value still looks as varied as it is.
    """
    rows = table.num_rows
    if rows <= DICTIONARY_SAMPLE_ROWS:
        return True
    width = DICTIONARY_SAMPLE_ROWS // _SAMPLE_WINDOWS
    starts = [(rows - width) * k // (_SAMPLE_WINDOWS - 1) for k in range(_SAMPLE_WINDOWS)]
    keep: list[str] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if _is_text(field.type) and not pa.types.is_dictionary(field.type):
            windows = [chunk for start in starts for chunk in column.slice(start, width).chunks]
            sample = pa.chunked_array(windows, type=field.type)
            if pc.count_distinct(sample).as_py() > DICTIONARY_MAX_DISTINCT_SHARE * len(sample):
                continue
        keep.append(field.name)
    return True if len(keep) == table.num_columns else keep


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _statistics_columns(table: pa.Table, string_statistics: bool) -> bool | list[str]:
    """``True`` (all columns) or the names of the non-text columns that get statistics."""
    if string_statistics:
        return True
    columns = [field.name for field in table.schema if not _is_text(field.type)]
    return columns or False


def write_csv_file(table: pa.Table, local_file: str) -> None:
    nested = [
        f.name
        for f in table.schema
        if pa.types.is_nested(f.type)
        or pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
    ]
    if nested:
        raise TypeError(
            f"CSV cannot store nested or binary columns {nested}; use Parquet or JSON Lines"
        )
    pacsv.write_csv(table, local_file)


def write_jsonl_file(table: pa.Table, local_file: str) -> None:
    write_jsonl(table, local_file)


@dataclass(frozen=True)
class ParquetFormat:
    name: str = "parquet"
    extension: str = ".parquet"
    has_sidecar: bool = False
    #: Min/max statistics for text columns too (off: see the module docstring).
    string_statistics: bool = False

    def write_file(self, table: pa.Table, local_file: str) -> None:
        write_parquet_file(table, local_file, string_statistics=self.string_statistics)

    def read_file(
        self, source: Source, schema: pa.Schema | None = None, *, use_threads: bool = True
    ) -> pa.Table:
        return pq.ParquetFile(source).read(use_threads=use_threads)

    def read_schema(self, source: Source) -> pa.Schema:
        return pq.read_schema(source)


def _csv_read_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


@dataclass(frozen=True)
class CsvFormat:
    name: str = "csv"
    extension: str = ".csv"
    has_sidecar: bool = True

    def write_file(self, table: pa.Table, local_file: str) -> None:
        write_csv_file(table, local_file)

    def read_file(self, source: Source, schema: pa.Schema, *, use_threads: bool = True) -> pa.Table:
        if len(schema) == 0:
            return schema.empty_table()
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(
                column_names=schema.names, skip_rows=1, use_threads=use_threads
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: _csv_read_type(f.type) for f in schema},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["true"],
                false_values=["false"],
            ),
        )


def _json_read_type(kind: pa.DataType) -> pa.DataType:
    """What ``pyarrow.json`` can parse the written text into; :func:`conform` casts the rest."""
    if pa.types.is_dictionary(kind):
        return _json_read_type(kind.value_type)
    if pa.types.is_date(kind) or pa.types.is_time(kind):
        return pa.large_string()
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        return pa.timestamp(kind.unit, "UTC")  # written as UTC with Z
    if pa.types.is_duration(kind):
        return pa.int64()  # written as a count of the unit
    return kind


# Blocks are parsed in parallel and one JSON line must fit in a block: a small file is read as
# one block, a large one in 16 MiB blocks (a 16 MiB block for every small partition file made
# reading 365 of them slower), and a file with a line longer than that as one block.
JSON_BLOCK_BYTES = 16 << 20


def _size(source: Source) -> int:
    return os.path.getsize(source) if isinstance(source, str) else source.size()


def _read_json(source: Source, schema: pa.Schema, block_size: int, use_threads: bool) -> pa.Table:
    return pajson.read_json(
        source,
        read_options=pajson.ReadOptions(use_threads=use_threads, block_size=block_size),
        parse_options=pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="error"
        ),
    )


@dataclass(frozen=True)
class JsonLinesFormat:
    name: str = "jsonl"
    extension: str = ".jsonl"
    has_sidecar: bool = True

    def write_file(self, table: pa.Table, local_file: str) -> None:
        write_jsonl_file(table, local_file)

    def read_file(self, source: Source, schema: pa.Schema, *, use_threads: bool = True) -> pa.Table:
        read_schema = pa.schema([pa.field(f.name, _json_read_type(f.type)) for f in schema])
        size = _size(source)
        if size == 0:
            return schema.empty_table()
        block = max(1 << 16, min(JSON_BLOCK_BYTES, size + 1))
        try:
            table = _read_json(source, read_schema, block, use_threads)
        except pa.ArrowInvalid as exc:
            if block > size or "straddling object" not in str(exc):
                raise
            if not isinstance(source, str):
                source.seek(0)
            table = _read_json(source, read_schema, size + 1, use_threads)
        return table.select(schema.names)


FORMATS: dict[str, FileFormat] = {
    "parquet": ParquetFormat(),
    "csv": CsvFormat(),
    "jsonl": JsonLinesFormat(),
}
