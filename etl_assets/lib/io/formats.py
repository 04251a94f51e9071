"""One file of one format: write an Arrow table to a local file, read a file back as a table.

The formats only turn tables into bytes and back; where the bytes go (temporary names, atomic
replace, S3) is :mod:`etl_assets.lib.io.storage`'s job, and the exact pandas dtypes come from
:mod:`etl_assets.lib.io.convert`.

- Parquet keeps its own schema (pandas metadata included). Column statistics (min/max, null
  count) are written for every column except text columns unless ``string_statistics`` is on:
  min/max of strings cost about 0.13 s per million rows of a 13-text-column table (a third of
  the write), and text min/max rarely prunes anything (the raw layer is all text).
- Per column, the encoding that pays (see :func:`parquet_write_options`): a dictionary only
  where a sample says values repeat; ``DELTA_BINARY_PACKED`` for increasing integers (row
  numbers: 4 KB instead of 4 MB, 4x faster); and snappy on every column, or, with a
  ``min_compression_ratio`` above 0, only where it shrinks a sample of a plain text column at
  least that many times (digit strings such as ids and amounts shrink 1.6-1.9x, and
  compressing them was a third of the raw layer's write).
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

import numpy as np
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


#: Snappy is kept on a plain (not dictionary-encoded) text column only when it shrinks the
#: column's sample at least this many times. 0 (the default) compresses every column: files
#: stay as small as before; 2.0 stores digit-string text (ids, amounts: 1.6-1.9x) uncompressed,
#: a faster write for a bigger file (the 1M-row raw benchmark file: 0.40 s / 42 MB against
#: 0.48 s / 31 MB), a choice for the user who pays for CPU rather than storage.
MIN_COMPRESSION_RATIO = 0.0
COMPRESSION = "snappy"


@dataclass(frozen=True)
class ParquetWriteOptions:
    """What :func:`pyarrow.parquet.write_table` is told per column (only encodings: the values
    and the Arrow schema read back are the same whatever is chosen)."""

    use_dictionary: bool | list[str]
    column_encoding: dict[str, str] | None
    compression: str | dict[str, str]


def write_parquet_file(
    table: pa.Table,
    local_file: str,
    *,
    string_statistics: bool = False,
    min_compression_ratio: float = MIN_COMPRESSION_RATIO,
) -> None:
    options = parquet_write_options(table, min_compression_ratio)
    pq.write_table(
        table,
        local_file,
        compression=options.compression,
        write_statistics=_statistics_columns(table, string_statistics),
        use_dictionary=options.use_dictionary,
        column_encoding=options.column_encoding,
    )


def parquet_write_options(
    table: pa.Table, min_compression_ratio: float = MIN_COMPRESSION_RATIO
) -> ParquetWriteOptions:
    """The dictionary, encoding and compression of each column, judged on a sample.

    - dictionary: see :func:`dictionary_columns`;
    - ``DELTA_BINARY_PACKED`` for an integer column without a dictionary whose sample windows
      all increase (``_source_row``, sequence ids): a few KB for a million rows;
    - no compression for a plain text column that snappy shrinks less than
      ``min_compression_ratio`` times (:func:`_compresses_well`).
    """
    dictionary = dictionary_columns(table)
    if table.num_rows <= DICTIONARY_SAMPLE_ROWS:
        return ParquetWriteOptions(dictionary, None, COMPRESSION)
    with_dictionary = set(table.column_names) if dictionary is True else set(dictionary)
    starts, width = _sample_windows(table.num_rows)
    encodings: dict[str, str] = {}
    compression: dict[str, str] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        compression[field.name] = COMPRESSION
        if field.name in with_dictionary:
            continue
        sample = _sample(column, field.type, starts, width)
        if pa.types.is_integer(field.type) and _increasing_windows(sample):
            encodings[field.name] = "DELTA_BINARY_PACKED"
            compression[field.name] = "none"  # deltas of 1 pack to almost nothing already
        elif _is_text(field.type) and not _compresses_well(sample, min_compression_ratio):
            compression[field.name] = "none"
    # a per-column codec names leaf paths and leaves the unnamed ones uncompressed: nested
    # columns (leaves "s.a", "l.list.element") keep one codec for the whole file
    nested = any(pa.types.is_nested(field.type) for field in table.schema)
    if nested or all(codec == COMPRESSION for codec in compression.values()):
        return ParquetWriteOptions(dictionary, encodings or None, COMPRESSION)
    return ParquetWriteOptions(dictionary, encodings or None, compression)


def dictionary_columns(table: pa.Table) -> bool | list[str]:
    """The columns worth dictionary-encoding: all but the high-cardinality plain columns.

    Only the encoding changes: the values and the Arrow schema read back are the same either way.
    Cardinality is judged on a sample of evenly spaced windows (zero-copy slices, then one
    distinct count: a ``take`` of scattered rows from string chunks costs ~3 ms a column), so a
    column sorted on its value still looks as varied as it is. Text, integer, floating point
    and temporal columns are judged (a dictionary of row numbers or ids is as large as the
    data, and building it hashes every value for nothing); others keep their dictionary.
    """
    rows = table.num_rows
    if rows <= DICTIONARY_SAMPLE_ROWS:
        return True
    starts, width = _sample_windows(rows)
    keep: list[str] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if _judged_for_dictionary(field.type):
            sample = _sample(column, field.type, starts, width)
            distinct = _distinct_count(sample)
            if distinct is not None and distinct > DICTIONARY_MAX_DISTINCT_SHARE * len(sample):
                continue
        keep.append(field.name)
    return True if len(keep) == table.num_columns else keep


def _distinct_count(sample: pa.ChunkedArray) -> int | None:
    """Distinct values in the sample; None for a type Arrow cannot count (``string_view``
    in pyarrow 26): such a column keeps its dictionary, as before it was judged."""
    try:
        return pc.count_distinct(sample).as_py()
    except pa.ArrowNotImplementedError:
        return None


def _judged_for_dictionary(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return False
    return (
        _is_text(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_temporal(kind)
    )


def _sample_windows(rows: int) -> tuple[list[int], int]:
    """Where the sample windows start, and their width."""
    width = DICTIONARY_SAMPLE_ROWS // _SAMPLE_WINDOWS
    starts = [(rows - width) * k // (_SAMPLE_WINDOWS - 1) for k in range(_SAMPLE_WINDOWS)]
    return starts, width


def _sample(column: pa.ChunkedArray, kind: pa.DataType, starts: list[int], width: int) -> pa.ChunkedArray:
    windows = [chunk for start in starts for chunk in column.slice(start, width).chunks]
    return pa.chunked_array(windows, type=kind)


def _increasing_windows(sample: pa.ChunkedArray) -> bool:
    """Every window of the sample strictly increases (and holds no null)."""
    if sample.null_count:
        return False
    for chunk in sample.chunks:
        if len(chunk) > 1:
            values = chunk.to_numpy()
            if not (values[1:] > values[:-1]).all():
                return False
    return True


def _compresses_well(sample: pa.ChunkedArray, min_ratio: float) -> bool:
    """Whether snappy shrinks the sample's text at least ``min_ratio`` times."""
    if min_ratio <= 0:
        return True
    data = _text_bytes(sample)
    if data.size == 0:
        return True
    return data.size >= min_ratio * pa.compress(data, codec="snappy").size


def _text_bytes(sample: pa.ChunkedArray) -> pa.Buffer:
    """The sample's values, end to end (what a plain page holds, less the length prefixes)."""
    if not sample.num_chunks or not len(sample):
        return pa.py_buffer(b"")
    array = pa.concat_arrays(sample.chunks).cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    return array.buffers()[2].slice(first, last - first)


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
    #: Compress a plain text column only when snappy shrinks its sample this many times.
    min_compression_ratio: float = MIN_COMPRESSION_RATIO

    def write_file(self, table: pa.Table, local_file: str) -> None:
        write_parquet_file(
            table,
            local_file,
            string_statistics=self.string_statistics,
            min_compression_ratio=self.min_compression_ratio,
        )

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
