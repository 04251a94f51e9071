"""Dagster metadata describing a stored DataFrame.

Type names follow Arrow's spelling (``int64``, ``string``, ``timestamp[us, tz=UTC]``, ``date32``,
``decimal128(12, 2)``) because that is what the files store, and it is one vocabulary for all
formats; pandas-only notions keep their pandas name (``category``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import JsonMetadataValue, TableColumn, TableSchema, TableSchemaMetadataValue

from etl_assets.lib.system_columns import SYSTEM_COLUMN_DESCRIPTIONS

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


#: Definition metadata: ``{column: description}`` for tables whose column types are only known
#: once computed (aggregates), so they cannot declare a ``dagster/column_schema`` up front.
COLUMN_DESCRIPTIONS_KEY = "etl_assets/column_descriptions"


def table_schema(frame: pd.DataFrame, declared: Mapping[str, TableColumn] | None = None) -> TableSchema:
    """Column names and storage types of ``frame``, for ``dagster/column_schema``.

    Descriptions and constraints come from ``declared`` (see :func:`declared_columns`: what the
    spec says of the asset's columns) and, for the columns etl_assets adds, from
    :data:`~etl_assets.lib.system_columns.SYSTEM_COLUMN_DESCRIPTIONS`; the types are always the
    stored ones.
    """
    declared = declared or {}
    columns = []
    for i, name in enumerate(frame.columns):
        spec = declared.get(str(name))
        description = (spec.description if spec else None) or SYSTEM_COLUMN_DESCRIPTIONS.get(
            str(name)
        )
        columns.append(
            TableColumn(
                name=str(name),
                type=type_name(frame.iloc[:, i]),
                description=description,
                constraints=spec.constraints if spec else None,
            )
        )
    return TableSchema(columns=columns)


def declared_columns(definition_metadata: Mapping[str, Any] | None) -> dict[str, TableColumn]:
    """What an asset's definition metadata says of its columns, by name: its declared
    ``dagster/column_schema`` and its :data:`COLUMN_DESCRIPTIONS_KEY` entry."""
    metadata = definition_metadata or {}
    declared: dict[str, TableColumn] = {}
    descriptions = metadata.get(COLUMN_DESCRIPTIONS_KEY)
    if isinstance(descriptions, JsonMetadataValue):
        descriptions = descriptions.data
    if isinstance(descriptions, Mapping):
        for name, text in descriptions.items():
            declared[str(name)] = TableColumn(name=str(name), description=str(text))
    schema = metadata.get("dagster/column_schema")
    if isinstance(schema, TableSchemaMetadataValue):
        schema = schema.schema
    if isinstance(schema, TableSchema):
        declared.update({column.name: column for column in schema.columns})
    return declared
