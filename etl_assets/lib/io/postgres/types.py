"""Arrow column types -> PostgreSQL column types, and the Arrow table COPY can send as is.

Binary COPY needs each Arrow column to have exactly the wire type of its table column, so
:func:`copyable` first normalises the Arrow table (categories become text, unsigned ints the
next wider signed type, nanosecond timestamps microseconds, ...) and :func:`postgres_type`
names the column type for the normalised Arrow type. Unsupported types raise ``TypeError``
naming the column.
"""

from __future__ import annotations

import pyarrow as pa


def _normalised_type(name: str, dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(dtype):
        return _normalised_type(name, dtype.value_type)
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype) or pa.types.is_null(dtype):
        return pa.string()
    if pa.types.is_large_binary(dtype):
        return pa.binary()
    if pa.types.is_int8(dtype) or pa.types.is_uint8(dtype):
        return pa.int16()
    if pa.types.is_uint16(dtype):
        return pa.int32()
    if pa.types.is_uint32(dtype):
        return pa.int64()
    if pa.types.is_uint64(dtype):
        return pa.decimal128(20, 0)
    if pa.types.is_float16(dtype):
        return pa.float32()
    if pa.types.is_date64(dtype):
        return pa.date32()
    if pa.types.is_timestamp(dtype) and dtype.unit != "us":
        return pa.timestamp("us", tz=dtype.tz)
    if pa.types.is_decimal256(dtype):
        return pa.decimal128(dtype.precision, dtype.scale) if dtype.precision <= 38 else pa.string()
    return dtype


def postgres_type(name: str, dtype: pa.DataType) -> str:
    """The column type for an Arrow type, spelt as PostgreSQL's ``format_type`` spells it
    (so an existing table's columns can be compared with it)."""
    dtype = _normalised_type(name, dtype)
    if pa.types.is_int16(dtype):
        return "smallint"
    if pa.types.is_int32(dtype):
        return "integer"
    if pa.types.is_int64(dtype):
        return "bigint"
    if pa.types.is_float32(dtype):
        return "real"
    if pa.types.is_float64(dtype):
        return "double precision"
    if pa.types.is_decimal(dtype):
        return f"numeric({int(dtype.precision)},{int(dtype.scale)})"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_string(dtype):
        return "text"
    if pa.types.is_binary(dtype):
        return "bytea"
    if pa.types.is_date32(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp with time zone" if dtype.tz is not None else "timestamp without time zone"
    raise TypeError(
        f"column {name!r}: Arrow type {dtype} has no PostgreSQL column type here "
        "(supported: ints, floats, decimals, bool, text, categories, bytes, dates, timestamps)"
    )


def copyable(table: pa.Table) -> pa.Table:
    """``table`` with every column cast to the Arrow type its PostgreSQL column receives."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = _normalised_type(field.name, field.type)
        postgres_type(field.name, target)  # unsupported types fail here, naming the column
        if target != field.type:
            try:
                column = column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise TypeError(
                    f"column {field.name!r}: cannot store {field.type} as {target}: {error}"
                ) from error
        columns.append(column)
        fields.append(pa.field(field.name, target))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
