"""Dagster IO managers storing DataFrames as Parquet, CSV or JSON Lines, locally or on S3.

Built on ``UPathIOManager`` so the same code serves ``/local/path`` and ``s3://bucket/prefix``.
Layout: ``<base>/<asset key parts>.<ext>`` for unpartitioned assets and
``<base>/<asset key parts>/<partition key>.<ext>`` for partitioned ones (one file per partition).

What this adds to ``UPathIOManager``:
- a single-run backfill hands over ONE frame covering several partitions; it is split on the
  ``_partition`` column and each partition's file is replaced (a key with no rows gets an empty
  file, so stale rows of an earlier run cannot survive);
- loading several partitions returns one concatenated frame, not a dict;
- every file is written to a temporary name and renamed into place, so a crash mid-write leaves
  the previous version intact;
- metadata: ``dagster/row_count``, ``dagster/column_schema``, path, partitions and bytes written.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import pandas as pd
from dagster import (
    ConfigurableIOManagerFactory,
    InputContext,
    MetadataValue,
    OutputContext,
    UPathIOManager,
)
from pydantic import Field
from upath import UPath

from etl_assets.lib.io.formats import FORMATS, FrameFormat
from etl_assets.lib.io.metadata import table_schema
from etl_assets.lib.spec.models import PARTITION_COLUMN

StorageFormat = Literal["parquet", "csv", "jsonl"]
IO_MANAGER_KEYS: dict[str, str] = {"parquet": "parquet_io_manager", "csv": "csv_io_manager", "jsonl": "jsonl_io_manager"}
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")


class FrameIOManager(UPathIOManager):
    """Stores pandas DataFrames in one file format; see the module docstring."""

    def __init__(self, frame_format: FrameFormat, base_path: UPath):
        self.frame_format = frame_format
        self.extension = frame_format.extension
        super().__init__(base_path=base_path)

    # ------------------------------------------------------------------ paths

    def get_asset_relative_path(self, context: InputContext | OutputContext) -> UPath:
        parts = list(context.asset_key.path)
        for part in parts:
            if not _SAFE_PART.match(part) or part in (".", ".."):
                raise ValueError(f"asset key part {part!r} of {context.asset_key.to_user_string()} is not safe as a path segment")
        return UPath(*parts)

    def _partition_path(self, context: InputContext | OutputContext, key: str) -> UPath:
        if "/" in key or key in (".", ".."):
            raise ValueError(f"partition key {key!r} is not safe as a file name")
        return self._get_path_without_extension(context) / f"{key}{self.extension}"

    # ------------------------------------------------------------------ writing

    def dump_to_path(self, context: OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        self._write_atomically(obj, path)

    def _write_atomically(self, frame: pd.DataFrame, path: UPath) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.protocol not in ("", "file", "local"):
            # One PUT per object is already atomic on S3-like stores.
            self.frame_format.write(frame, path)
            return int(path.stat().st_size)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp_companions = self.frame_format.companions(tmp)
        try:
            self.frame_format.write(frame, tmp)
            for tmp_companion, companion in zip(tmp_companions, self.frame_format.companions(path), strict=True):
                tmp_companion.rename(companion)
            tmp.rename(path)
        finally:
            for leftover in [tmp, *tmp_companions]:
                if leftover.exists():
                    leftover.unlink()
        return int(path.stat().st_size)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} stores pandas DataFrames; {context.asset_key.to_user_string()} returned {type(obj).__name__}")
        metadata: dict[str, Any] = {
            "dagster/row_count": len(obj),
            "dagster/column_schema": table_schema(obj),
        }
        if context.has_asset_partitions:
            written = 0
            parts = self._split_partitions(context, obj)
            for key, part in parts.items():
                written += self._write_atomically(part, self._partition_path(context, key))
            folder = self._get_path_without_extension(context)
            metadata |= {"path": MetadataValue.path(str(folder)), "partitions_written": len(parts)}
            if len(parts) > 1:
                # Dagster attaches one output's metadata to every partition it covers, so the
                # row count above is the run's total; this says how it splits.
                metadata["rows_by_partition"] = MetadataValue.json({key: len(part) for key, part in parts.items()})
        else:
            path = self._get_path(context)
            written = self._write_atomically(obj, path)
            metadata["path"] = MetadataValue.path(str(path))
        metadata["bytes_written"] = written
        context.add_output_metadata(metadata)

    def _split_partitions(self, context: OutputContext, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        keys = list(context.asset_partition_keys)
        if PARTITION_COLUMN not in frame.columns:
            if len(keys) != 1:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: an output covering {len(keys)} partitions needs a "
                    f"{PARTITION_COLUMN!r} column saying which partition each row belongs to"
                )
            return {keys[0]: frame.assign(**{PARTITION_COLUMN: keys[0]})}
        labels = frame[PARTITION_COLUMN].astype("str")
        stray = sorted(set(labels.unique()) - set(keys))
        if stray:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: rows for partitions outside this run: {', '.join(stray[:5])}"
                f"{' ...' if len(stray) > 5 else ''} (run covers {keys[0]}...{keys[-1]})"
            )
        groups = {str(k): g for k, g in frame.groupby(labels, sort=False, observed=True)} if len(frame) else {}
        empty = frame.iloc[0:0]
        return {key: groups.get(key, empty) for key in keys}

    # ------------------------------------------------------------------ reading

    def load_from_path(self, context: InputContext, path: UPath) -> pd.DataFrame:
        return self.frame_format.read(path)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        if not context.has_asset_key or not context.has_asset_partitions:
            return self.frame_format.read(self._get_path(context))
        keys = list(context.asset_partition_keys)
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions", False))
        paths = {key: self._partition_path(context, key) for key in keys}
        missing = [key for key, path in paths.items() if not path.exists()]
        if missing and not allow_missing:
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()}: {len(missing)} partition(s) not materialized: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (looked in {self._get_path_without_extension(context)})"
            )
        present = [key for key in keys if key not in missing]
        if missing:
            context.log.warning(f"{context.asset_key.to_user_string()}: skipping {len(missing)} missing partition(s)")
        if not present:
            return pd.DataFrame()
        with ThreadPoolExecutor(max_workers=4) as pool:
            frames = list(pool.map(lambda key: self.frame_format.read(paths[key]), present))
        non_empty = [f for f in frames if len(f)] or frames[:1]
        return pd.concat(non_empty, ignore_index=True) if len(non_empty) > 1 else non_empty[0]


class _FrameIOManagerConfig(ConfigurableIOManagerFactory):
    base_path: str = Field(description="Local folder or s3://bucket/prefix under which tables are stored.")
    storage_options: dict[str, Any] | None = Field(default=None, description="fsspec options (endpoint, credentials) for remote paths.")

    _format: StorageFormat = "parquet"

    def create_io_manager(self, context: Any) -> FrameIOManager:
        return FrameIOManager(FORMATS[self._format], UPath(self.base_path, **(self.storage_options or {})))


class ParquetIOManager(_FrameIOManagerConfig):
    """DataFrames as Parquet files (the default storage)."""

    _format: StorageFormat = "parquet"


class CsvIOManager(_FrameIOManagerConfig):
    """DataFrames as CSV files with a schema sidecar for exact dtypes."""

    _format: StorageFormat = "csv"


class JsonLinesIOManager(_FrameIOManagerConfig):
    """DataFrames as JSON Lines files with a schema sidecar for exact dtypes."""

    _format: StorageFormat = "jsonl"


_BY_FORMAT: dict[str, type[_FrameIOManagerConfig]] = {"parquet": ParquetIOManager, "csv": CsvIOManager, "jsonl": JsonLinesIOManager}


def io_manager_for(storage: StorageFormat | str, base_path: str, storage_options: dict[str, Any] | None = None) -> _FrameIOManagerConfig:
    return _BY_FORMAT[storage](base_path=base_path, storage_options=storage_options)
