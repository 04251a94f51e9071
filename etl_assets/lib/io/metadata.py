"""Dagster metadata describing a stored DataFrame."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from dagster import TableColumn, TableSchema


def _type_name(dtype: object) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.ArrowDtype):
        return str(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"timestamp[{dtype.unit}, tz={dtype.tz}]"
    text = str(dtype)
    if text.startswith("datetime64["):
        return f"timestamp[{text[len('datetime64['):-1]}]"
    return {"Int64": "int64", "Float64": "float64", "boolean": "bool", "bool": "bool", "object": "string"}.get(text, text)


def table_schema(frame: pd.DataFrame) -> TableSchema:
    """Column names and storage types, as the Dagster UI shows them."""
    return TableSchema(columns=[TableColumn(name=str(name), type=_type_name(dtype)) for name, dtype in frame.dtypes.items()])


def arrow_type_name(type_: pa.DataType) -> str:
    return str(type_)
