"""Dagster metadata describing a stored DataFrame.

Type names follow Arrow's spelling (``int64``, ``string``, ``timestamp[us, tz=UTC]``, ``date32``,
``decimal128(12, 2)``) because that is what the files store, and it is one vocabulary for all
formats; pandas-only notions keep their pandas name (``category``).
"""

from __future__ import annotations

import pandas as pd
from dagster import TableColumn, TableSchema

_PANDAS_NAMES = {
    "Int8": "int8", "Int16": "int16", "Int32": "int32", "Int64": "int64",
    "UInt8": "uint8", "UInt16": "uint16", "UInt32": "uint32", "UInt64": "uint64",
    "Float32": "float32", "Float64": "float64", "boolean": "bool",
}  # fmt: skip
_OBJECT_NAMES = {
    "string": "string",
    "empty": "null",
    "date": "date32",
    "decimal": "decimal",
    "bytes": "binary",
    "boolean": "bool",
}


def type_name(series: pd.Series) -> str:
    """The storage type of one column, as shown in the Dagster UI."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.ArrowDtype):
        text = str(dtype.pyarrow_dtype)
        return {"date32[day]": "date32", "date64[ms]": "date64"}.get(text, text)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"timestamp[{dtype.unit}, tz={dtype.tz}]"
    text = str(dtype)
    if text.startswith("datetime64["):
        return f"timestamp[{text[len('datetime64[') : -1]}]"
    if text.startswith("timedelta64["):
        return f"duration[{text[len('timedelta64[') : -1]}]"
    if text == "object":
        # what the values are decides what the file stores (pandas may say "mixed")
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return _OBJECT_NAMES.get(inferred, "object")
    return _PANDAS_NAMES.get(text, text)


def table_schema(frame: pd.DataFrame) -> TableSchema:
    """Column names and storage types of ``frame``, for ``dagster/column_schema``."""
    return TableSchema(
        columns=[
            TableColumn(name=str(name), type=type_name(frame.iloc[:, i]))
            for i, name in enumerate(frame.columns)
        ]
    )
