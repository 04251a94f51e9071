"""IO managers for DataFrames: Parquet, CSV and JSON Lines over local paths and S3."""

from etl_assets.lib.io.formats import FORMATS, CsvFormat, JsonLinesFormat, ParquetFormat
from etl_assets.lib.io.jsonl_writer import write_jsonl
from etl_assets.lib.io.managers import (
    IO_MANAGER_KEYS,
    CsvIOManager,
    FrameIOManager,
    JsonLinesIOManager,
    ParquetIOManager,
    io_manager_for,
)
from etl_assets.lib.io.metadata import table_schema

__all__ = [
    "FORMATS",
    "IO_MANAGER_KEYS",
    "CsvFormat",
    "CsvIOManager",
    "FrameIOManager",
    "JsonLinesFormat",
    "JsonLinesIOManager",
    "ParquetFormat",
    "ParquetIOManager",
    "io_manager_for",
    "table_schema",
    "write_jsonl",
]
