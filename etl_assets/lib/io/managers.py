"""Dagster IO managers storing pandas DataFrames as Parquet, CSV or JSON Lines files.

The configurable resources (:class:`ParquetIOManager`, :class:`CsvIOManager`,
:class:`JsonLinesIOManager`) follow Dagster's own ``FilesystemIOManager`` pattern: a
``ConfigurableIOManagerFactory`` with typed fields whose ``create_io_manager`` returns a
``UPathIOManager`` subclass (:class:`FrameIOManager`), so one code path serves a local folder
and ``s3://bucket/prefix`` (UPath + fsspec).

Layout under ``base_path``::

    <asset/key/parts>.<ext>                       unpartitioned
    <asset/key/parts>/<partition key>.<ext>       one file per partition
    <file>.schema.json                            schema sidecar, CSV and JSON Lines only

What this adds to ``UPathIOManager``:

- single-run backfills: one output frame covering several partitions is split on its
  ``_partition`` column and each partition's file is replaced on its own (a key without rows
  gets an empty file, so stale rows of an earlier run cannot survive);
- loading several partitions returns ONE concatenated frame in partition-key order (not a
  dict), read in parallel and converted to pandas once, so dtypes are consistent;
- atomic writes (see ``storage.py``) and exact dtypes (see ``convert.py``);
- metadata: ``dagster/row_count``, ``dagster/column_schema``, ``path``, ``bytes_written``
  (data files, sidecars excluded) and, when partitioned, ``partitions_written`` and
  ``rows_by_partition``. Dagster copies one output's metadata to every partition event of a
  range run, so each partition's event also gets its own ``dagster/row_count`` and
  ``partition_rows`` through partition-scoped asset metadata: the UI's row count per
  partition is that partition's, not the run's total.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import pandas as pd
import pyarrow as pa
from dagster import (
    ConfigurableIOManagerFactory,
    InitResourceContext,
    InputContext,
    MetadataValue,
    OutputContext,
    UPathIOManager,
)
from pydantic import Field
from upath import UPath

from etl_assets.lib.io.convert import (
    concat_tables,
    conform,
    frame_to_table,
    storable_frame,
    table_to_frame,
)
from etl_assets.lib.io.formats import FORMATS, MIN_COMPRESSION_RATIO, FileFormat, ParquetFormat
from etl_assets.lib.io.metadata import declared_columns, table_schema
from etl_assets.lib.io.partition_metadata import record_rows_per_partition
from etl_assets.lib.io.partition_stream import STREAM_PARTITIONS, PartitionFrames
from etl_assets.lib.io.partitions import split_by_partition
from etl_assets.lib.io.paths import check_asset_key_parts, check_partition_key, local_name
from etl_assets.lib.io.storage import (
    read_frame,
    read_schema,
    read_table,
    sweep_stale_temps,
    write_table,
)
from etl_assets.lib.remote_errors import classified_storage_errors
from etl_assets.lib.resources.s3 import S3Config, storage_path
from etl_assets.lib.telemetry import input_load, output_write

StorageFormat = Literal["parquet", "csv", "jsonl", "postgres"]
IO_MANAGER_KEYS: dict[str, str] = {
    "parquet": "parquet_io_manager",
    "csv": "csv_io_manager",
    "jsonl": "jsonl_io_manager",
    # PostgresIOManager (etl_assets.lib.io.postgres); only bound when PostgreSQL is configured
    "postgres": "postgres_io_manager",
}
ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"
READ_THREADS = 8
_SHOWN = 5


class FrameIOManager(UPathIOManager):
    """Stores pandas DataFrames in one file format; see the module docstring."""

    def __init__(self, file_format: FileFormat, base_path: UPath):
        self.file_format = file_format
        self.extension = file_format.extension
        super().__init__(base_path=base_path)

    # ---------------------------------------------------------------- paths

    def get_asset_relative_path(self, context: InputContext | OutputContext) -> UPath:
        key = context.asset_key
        return UPath(*check_asset_key_parts(key.path, key.to_user_string()))

    def make_safe_partition_path(self, base_path: UPath, partition: str) -> UPath:
        return base_path / check_partition_key(partition)

    # ---------------------------------------------------------------- writing

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        write_table(self.file_format, frame_to_table(obj), path)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:  # the asset stored its data itself
            return
        with output_write(context, self.file_format.name):
            self._store(context, obj)

    def _store(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"{type(self).__name__} stores pandas DataFrames; got {type(obj).__name__} for {_name(context)}"
            )
        frame = storable_frame(obj)
        table = frame_to_table(frame)
        metadata: dict[str, Any] = {
            "dagster/row_count": len(frame),
            "dagster/column_schema": table_schema(frame, declared_columns(context.definition_metadata)),
        }
        if context.has_asset_partitions:
            paths = {str(k): p for k, p in self._get_paths_for_partitions(context).items()}
            parts = split_by_partition(table, list(paths), _name(context))
            for folder in {p.parent for p in paths.values()}:
                sweep_stale_temps(folder)
            written = sum(
                write_table(self.file_format, part, paths[key]) for key, part in parts.items()
            )
            metadata["path"] = MetadataValue.path(str(self._get_path_without_extension(context)))
            metadata["partitions_written"] = len(parts)
            if len(parts) > 1:
                metadata["rows_by_partition"] = MetadataValue.json(
                    {k: p.num_rows for k, p in parts.items()}
                )
                record_rows_per_partition(context, {k: p.num_rows for k, p in parts.items()})
        else:
            path = self._get_path(context)
            sweep_stale_temps(path.parent)
            written = write_table(self.file_format, table, path)
            metadata["path"] = MetadataValue.path(str(path))
        metadata["bytes_written"] = written
        context.add_output_metadata(metadata)

    # ---------------------------------------------------------------- reading

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame:
        return read_frame(self.file_format, path)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        with input_load(context, self.file_format.name, lambda: self._location(context)) as traced:
            frame = self._load(context)
            traced(frame)
            return frame

    def _location(self, context: InputContext | OutputContext) -> UPath:
        """The file (unpartitioned) or folder of files (partitioned) of this asset."""
        if not context.has_asset_key:
            return self._base_path
        if context.has_asset_partitions:
            return self._get_path_without_extension(context)
        return self._get_path(context)

    def _load(self, context: InputContext) -> pd.DataFrame:
        if not context.has_asset_key or not context.has_asset_partitions:
            return read_frame(self.file_format, self._get_path(context))
        paths = {str(k): p for k, p in self._get_paths_for_partitions(context).items()}
        existing = _existing_files(paths.values())
        missing = [key for key, path in paths.items() if path not in existing]
        if missing:
            allowed = bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS, False))
            message = (
                f"{_name(context)}: {len(missing)} of {len(paths)} partition(s) not materialized: "
                f"{_listing(missing)} (looked in {self._get_path_without_extension(context)})"
            )
            if not allowed:
                raise FileNotFoundError(
                    f"{message}; set input metadata {ALLOW_MISSING_PARTITIONS}=True to skip them"
                )
            context.log.warning(f"{message}; skipped ({ALLOW_MISSING_PARTITIONS}=True)")
        present = [key for key in paths if key not in missing]
        if not present:
            return self._empty_frame(context)
        if len(present) > 1 and (context.definition_metadata or {}).get(STREAM_PARTITIONS):
            return self._partition_frames(present, paths)
        tables = self._read_tables([paths[key] for key in present])
        return table_to_frame(concat_tables(tables, present))

    def _partition_frames(self, present: list[str], paths: dict[str, UPath]) -> PartitionFrames:
        """The partitions unread, for a consumer that uses one at a time (see ``partition_stream``)."""
        return PartitionFrames(
            keys=present,
            paths=[paths[key] for key in present],
            storage=self.extension.lstrip("."),
            read_table=lambda path: read_table(self.file_format, path),
            read_tables=self._read_tables,
            read_schema=lambda path: read_schema(self.file_format, path),
        )

    def _read_tables(self, paths: list[UPath]) -> list[pa.Table]:
        """Files read in parallel (Arrow releases the GIL), each single-threaded to avoid
        oversubscription; one file uses Arrow's own threads."""
        if len(paths) == 1:
            return [read_table(self.file_format, paths[0])]
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(paths))) as pool:
            return list(
                pool.map(lambda p: read_table(self.file_format, p, use_threads=False), paths)
            )

    def _empty_frame(self, context: InputContext) -> pd.DataFrame:
        """No partition to load: an empty frame with the columns of any stored partition."""
        folder = self._get_path_without_extension(context)
        try:
            sample = next(
                p for p in folder.rglob(f"*{self.extension}") if not p.name.startswith(".")
            )
        except (StopIteration, FileNotFoundError):
            return pd.DataFrame()
        schema = read_schema(self.file_format, sample)
        return table_to_frame(conform(schema.empty_table(), schema))


class RemoteFrameIOManager(FrameIOManager):
    """:class:`FrameIOManager` for object stores: failures name the endpoint, the object and
    the cause, and terminal ones are not retried (see ``remote.py``)."""

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        with classified_storage_errors(f"writing {_name(context)}", self._where(context)):
            super().handle_output(context, obj)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        # A missing partition stays a FileNotFoundError, as for local folders (same contract).
        with classified_storage_errors(
            f"reading {_name(context)}",
            self._where(context),
            terminal=(PermissionError,),
            passthrough=(FileNotFoundError,),
        ):
            return super().load_input(context)

    def _where(self, context: InputContext | OutputContext) -> UPath:
        """The object (unpartitioned) or folder of objects (partitioned) of this asset."""
        return self._location(context)


def _name(context: InputContext | OutputContext) -> str:
    return (
        context.asset_key.to_user_string()
        if context.has_asset_key
        else str(context.get_identifier())
    )


def _listing(keys: list[str]) -> str:
    return ", ".join(keys[:_SHOWN]) + (
        f" (+{len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    )


def _existing_files(paths: Any) -> set[UPath]:
    """Which of ``paths`` exist, with one listing per folder instead of one lookup per file."""
    paths = list(paths)
    found: set[UPath] = set()
    for folder in {p.parent for p in paths}:
        local = local_name(folder)
        try:
            names = (
                set(os.listdir(local))
                if local is not None
                else {p.rsplit("/", 1)[-1] for p in folder.fs.ls(folder.path, detail=False)}
            )
        except FileNotFoundError:
            continue
        found |= {p for p in paths if p.parent == folder and p.name in names}
    return found


class FileIOManagerBase(ConfigurableIOManagerFactory[FrameIOManager]):
    """Shared configuration of the file IO managers; use one of the subclasses."""

    base_path: str = Field(
        description="Local folder or s3://bucket/prefix under which tables are stored."
    )
    storage_options: dict[str, Any] | None = Field(
        default=None,
        description="fsspec options for remote paths (endpoint_url, key, secret, ...), passed to UPath.",
    )
    s3: S3Config | None = Field(
        default=None,
        description="Endpoint, region and credentials for an s3:// base_path (storage_options win).",
    )

    format_name: ClassVar[StorageFormat] = "parquet"

    def create_io_manager(self, context: InitResourceContext | None) -> FrameIOManager:
        path = storage_path(self.base_path, self.s3, self.storage_options)
        if local_name(path) is None:  # object stores: same code, terminal errors not retried
            return RemoteFrameIOManager(self.file_format(), path)
        return FrameIOManager(self.file_format(), path)

    def file_format(self) -> FileFormat:
        return FORMATS[self.format_name]


class ParquetIOManager(FileIOManagerBase):
    """DataFrames as Parquet files (types carried by the file itself)."""

    format_name: ClassVar[StorageFormat] = "parquet"
    string_statistics: bool = Field(
        default=False,
        description="Write min/max statistics for text columns too (costs about a third of the"
        " write time of a text-heavy table; numeric, date and time columns always get them).",
    )

    min_compression_ratio: float = Field(
        default=MIN_COMPRESSION_RATIO,
        ge=0,
        description="Compress a plain (not dictionary-encoded) text column with snappy only when"
        " it shrinks a sample of the column at least this many times; 0 compresses every column."
        " The default compresses every column. Digit strings (ids, amounts) shrink 1.6-1.9x and"
        " compressing them cost a third of the raw layer's write: at 2.0 they are stored"
        " uncompressed, a faster write for a bigger file (1M-row raw file 42 MB instead of 31 MB).",
    )

    def file_format(self) -> FileFormat:
        return ParquetFormat(
            string_statistics=self.string_statistics,
            min_compression_ratio=self.min_compression_ratio,
        )


class CsvIOManager(FileIOManagerBase):
    """DataFrames as CSV files, each with a ``.schema.json`` sidecar for exact dtypes."""

    format_name: ClassVar[StorageFormat] = "csv"


class JsonLinesIOManager(FileIOManagerBase):
    """DataFrames as JSON Lines files, each with a ``.schema.json`` sidecar for exact dtypes."""

    format_name: ClassVar[StorageFormat] = "jsonl"


IO_MANAGER_CLASSES: dict[str, type[FileIOManagerBase]] = {
    "parquet": ParquetIOManager,
    "csv": CsvIOManager,
    "jsonl": JsonLinesIOManager,
}


def io_manager_for(
    format: StorageFormat,
    base_path: str,
    storage_options: dict[str, Any] | None = None,
    s3: S3Config | None = None,
) -> FileIOManagerBase:
    """The IO manager resource for a storage format (resource key: ``IO_MANAGER_KEYS[format]``)."""
    try:
        cls = IO_MANAGER_CLASSES[format]
    except KeyError:
        raise ValueError(
            f"unknown storage format {format!r}; expected one of {sorted(IO_MANAGER_CLASSES)}"
        ) from None
    return cls(base_path=base_path, storage_options=storage_options, s3=s3)
