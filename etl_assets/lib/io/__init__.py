"""IO managers for DataFrames: Parquet, CSV and JSON Lines over local paths and S3.

Public API:

- :class:`ParquetIOManager`, :class:`CsvIOManager`, :class:`JsonLinesIOManager`: Dagster
  resources with ``base_path: str`` (folder or ``s3://bucket/prefix``) and
  ``storage_options: dict | None`` (fsspec options for remote paths);
- :data:`IO_MANAGER_KEYS`: resource key per format (``parquet_io_manager``, ``csv_io_manager``,
  ``jsonl_io_manager``); :func:`io_manager_for` builds the resource for a format name;
- :func:`table_schema`: ``dagster/column_schema`` for a frame;
- :func:`write_jsonl`: the fast JSON Lines writer on its own;
- :func:`read_frame` / :func:`write_frame`: one file, exact dtypes, atomic, without Dagster.

On disk, under ``base_path``::

    pipeline/clean/orders.parquet                  unpartitioned asset ["pipeline", "clean", "orders"]
    pipeline/clean/orders/2024-01-01.parquet       one file per partition
    pipeline/clean/orders/2024-01-01.csv           CSV / JSON Lines data ...
    pipeline/clean/orders/2024-01-01.csv.schema.json   ... and its schema sidecar
    pipeline/clean/orders/2024-01-01/eu.parquet    multi-partition keys nest (dimensions by name)
    .<name>.<12 hex>.locked.tmp                    a write in progress (or a killed one's: removed
                                                   by the next write into the folder)

Modules: ``paths`` (key -> path safety), ``convert`` (exact DataFrame <-> Arrow),
``sidecar`` (schema files), ``formats`` (one file per format), ``jsonl_writer``, ``storage``
(atomic writes, reads), ``partitions`` (range-run split), ``metadata``, ``managers``.
"""

from etl_assets.lib.io.formats import FORMATS, CsvFormat, FileFormat, JsonLinesFormat, ParquetFormat
from etl_assets.lib.io.jsonl_writer import write_jsonl
from etl_assets.lib.io.managers import (
    IO_MANAGER_KEYS,
    CsvIOManager,
    FileIOManagerBase,
    FrameIOManager,
    JsonLinesIOManager,
    ParquetIOManager,
    StorageFormat,
    io_manager_for,
)
from etl_assets.lib.io.metadata import table_schema
from etl_assets.lib.io.paths import UnsafePathError
from etl_assets.lib.io.sidecar import SidecarMismatchError
from etl_assets.lib.io.storage import read_frame, write_frame

__all__ = [
    "FORMATS",
    "IO_MANAGER_KEYS",
    "CsvFormat",
    "CsvIOManager",
    "FileFormat",
    "FileIOManagerBase",
    "FrameIOManager",
    "JsonLinesFormat",
    "JsonLinesIOManager",
    "ParquetFormat",
    "ParquetIOManager",
    "SidecarMismatchError",
    "StorageFormat",
    "UnsafePathError",
    "io_manager_for",
    "read_frame",
    "table_schema",
    "write_frame",
    "write_jsonl",
]
