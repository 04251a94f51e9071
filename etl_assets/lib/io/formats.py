"""Reading and writing one DataFrame file per format, with exact dtypes on the way back.

Parquet carries its schema (and pandas' dtype metadata) itself. CSV and JSON Lines do not, so
next to each such file a small sidecar ``<file>.schema`` holds the Arrow schema (with the
pandas metadata); loading reads every column as text and casts it to that schema, so nullable
ints, categories, timezones, dates and decimals come back as they went in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from upath import UPath

from etl_assets.lib.io.jsonl_writer import write_jsonl

SIDECAR_SUFFIX = ".schema"


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _arrow_backed(type_: pa.DataType) -> pd.ArrowDtype | None:
    """Types pandas has no native dtype for stay Arrow-backed (decimals, dates)."""
    if pa.types.is_decimal(type_) or pa.types.is_date(type_):
        return pd.ArrowDtype(type_)
    return None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_arrow_backed)


class FrameFormat(Protocol):
    extension: str

    def write(self, frame: pd.DataFrame, path: UPath) -> None: ...

    def read(self, path: UPath) -> pd.DataFrame: ...

    def companions(self, path: UPath) -> list[UPath]:
        """Files stored beside ``path`` that belong to it (moved and deleted with it)."""
        ...


def _local(path: UPath) -> str | None:
    """A plain file name for local paths: Arrow's native file IO beats a Python file object."""
    return path.path if path.protocol in ("", "file", "local") else None


@dataclass(frozen=True)
class ParquetFormat:
    extension: str = ".parquet"

    def write(self, frame: pd.DataFrame, path: UPath) -> None:
        local = _local(path)
        if local is not None:
            pq.write_table(to_arrow(frame), local, compression="snappy")
            return
        with path.open("wb") as sink:
            pq.write_table(to_arrow(frame), sink, compression="snappy")

    def read(self, path: UPath) -> pd.DataFrame:
        local = _local(path)
        if local is not None:
            return to_pandas(pq.read_table(local))
        with path.open("rb") as source:
            return to_pandas(pq.read_table(source))

    def companions(self, path: UPath) -> list[UPath]:
        return []


def _sidecar(path: UPath) -> UPath:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _write_schema(schema: pa.Schema, path: UPath) -> None:
    with _sidecar(path).open("wb") as sink:
        sink.write(schema.serialize().to_pybytes())


def _read_schema(path: UPath) -> pa.Schema:
    sidecar = _sidecar(path)
    if not sidecar.exists():
        raise FileNotFoundError(f"{path}: its schema file {sidecar.name} is missing; rewrite the asset to recreate it")
    with sidecar.open("rb") as source:
        return pa.ipc.read_schema(pa.py_buffer(source.read()))


def _text_type(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _cast_from_text(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast a text column read back from CSV/JSON to the stored Arrow type."""
    if _text_type(target):
        return column.cast(target)
    if isinstance(target, pa.DictionaryType):
        return pc.dictionary_encode(_cast_from_text(column, target.value_type)).cast(target)
    if pa.types.is_timestamp(target):
        # written as ISO text in UTC with 'Z' (tz-aware) or as naive wall time
        naive = pc.replace_substring_regex(column, r"Z$", "").cast(pa.timestamp(target.unit))
        if target.tz:
            return pc.assume_timezone(naive, "UTC").cast(target)
        return naive
    if pa.types.is_boolean(target):
        return pc.equal(pc.utf8_lower(column), "true")
    return column.cast(target)


def _from_text(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [_cast_from_text(table[field.name], field.type) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class CsvFormat:
    extension: str = ".csv"

    def write(self, frame: pd.DataFrame, path: UPath) -> None:
        table = to_arrow(frame)
        text = pa.Table.from_arrays([_to_text(c) for c in table.columns], names=table.column_names)
        with path.open("wb") as sink:
            pacsv.write_csv(text, sink)
        _write_schema(table.schema, path)

    def read(self, path: UPath) -> pd.DataFrame:
        schema = _read_schema(path)
        with path.open("rb") as source:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=schema.names, skip_rows=1) if len(schema) else None,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(schema.names, pa.large_string()),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
            )
        return to_pandas(_from_text(table, schema))

    def companions(self, path: UPath) -> list[UPath]:
        return [_sidecar(path)]


def _to_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text as CSV stores it; timestamps as ISO (UTC 'Z' when tz-aware) so they parse back exactly."""
    kind = column.type
    if isinstance(kind, pa.DictionaryType):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz:
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S" + ("Z" if kind.tz else ""))
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_floating(kind):
        return column.cast(pa.large_string())  # shortest round-trip repr
    return column if _text_type(kind) else column.cast(pa.large_string())


@dataclass(frozen=True)
class JsonLinesFormat:
    extension: str = ".jsonl"

    def write(self, frame: pd.DataFrame, path: UPath) -> None:
        table = to_arrow(frame)
        with path.open("wb") as sink:
            write_jsonl(table, sink)
        _write_schema(table.schema, path)

    def read(self, path: UPath) -> pd.DataFrame:
        schema = _read_schema(path)
        with path.open("rb") as source:
            records = [json.loads(line) for line in source.read().decode("utf-8").splitlines() if line]
        table = pa.Table.from_arrays(
            [pa.array([_as_text(r.get(name)) for r in records], type=pa.large_string()) for name in schema.names],
            names=schema.names,
        )
        return to_pandas(_from_text(table, schema))

    def companions(self, path: UPath) -> list[UPath]:
        return [_sidecar(path)]


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


FORMATS: dict[str, FrameFormat] = {"parquet": ParquetFormat(), "csv": CsvFormat(), "jsonl": JsonLinesFormat()}
