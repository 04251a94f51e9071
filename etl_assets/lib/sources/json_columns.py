"""JSON values -> columns that every storage format can hold.

The raw layer stores what landed, and it must be storable as Parquet, CSV and JSON alike (CSV
has no nested or mixed columns; Parquet needs one type per column). So each column of a JSON
or JSON Lines source is normalised here, the same way on the Arrow fast path and on the
record-by-record path:

- a column whose values have one JSON type keeps it: bool, int (int64), float (ints and floats
  together are float), string;
- a column mixing JSON types (``1`` in one record, ``"2"`` in the next) becomes text, as a CSV
  column would be: strings as they are, the rest as JSON (``1``, ``2.5``, ``true``), so the
  clean step converts or rejects each value by its text;
- lists, and objects that are not flattened (``flatten: false``, or an empty object), become
  their JSON text (:func:`etl_assets.lib.json_text.json_text`);
- integers beyond int64, and integers beyond 2**53 in a column that also has floats, become text
  (a float would silently change them);
- a column with no value at all is text (all null).

Objects are flattened to ``parent.child`` columns when ``flatten`` is on. A record whose own
keys collide after flattening (``"a.b"`` next to ``"a": {"b": ...}``) cannot be represented and
is reported by :func:`flatten_paths` as a :class:`FlattenClash`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.json_text import json_text, scalar_text

__all__ = [
    "ArrowColumn",
    "FlattenClash",
    "arrow_columns",
    "assemble",
    "column_array",
    "empty_table",
    "flatten_paths",
    "is_exact",
    "records_to_table",
    "value_at",
]

TEXT = pa.large_string()
_INT64 = 2**63
_EXACT_IN_FLOAT = 2**53


class FlattenClash(ValueError):
    """Two keys of one record flatten to the same column name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"two keys of the record flatten to the same column {name!r} (a key with a dot next "
            "to a nested object); set json.flatten: false to keep such objects whole"
        )


def flatten_paths(
    record: dict[str, Any], prefix: str = "", into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Nested non-empty objects as ``parent.child`` keys, in document order.

    Unlike a plain flatten, a name produced twice is an error (:class:`FlattenClash`) rather
    than the first value silently overwritten.
    """
    out: dict[str, Any] = {} if into is None else into
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flatten_paths(value, f"{name}.", out)
        elif name in out:
            raise FlattenClash(name)
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- Python values


_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    dict: "nested",
    list: "nested",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "nested"


def column_array(values: list[Any]) -> pa.Array:
    """One column's JSON values (None = null or missing) as a storable Arrow array."""
    kinds = {_KINDS.get(type(value)) or _kind(value) for value in values if value is not None}
    if kinds == {"bool"}:
        return pa.array(values, pa.bool_())
    if kinds == {"str"}:
        return pa.array(values, TEXT)
    present = [value for value in values if value is not None]
    if kinds == {"int"} and all(-_INT64 <= value < _INT64 for value in present):
        return pa.array(values, pa.int64())
    if (
        kinds
        and kinds <= {"int", "float"}
        and "float" in kinds
        and all(isinstance(v, float) or -_EXACT_IN_FLOAT <= v <= _EXACT_IN_FLOAT for v in present)
    ):
        return pa.array(values, pa.float64())
    if kinds == {"nested"}:
        return pa.array([None if value is None else json_text(value) for value in values], TEXT)
    return pa.array([None if value is None else scalar_text(value) for value in values], TEXT)


def records_to_table(rows: list[dict[str, Any] | None]) -> pa.Table:
    """Rows (already flattened if wanted; None = a rejected record, all nulls) as a table.

    Columns come in order of first appearance; a key missing from a record is null.
    """
    names: dict[str, None] = {}
    for row in rows:
        if row:
            names.update(dict.fromkeys(row))
    columns = {
        name: column_array([None if row is None else row.get(name) for row in rows])
        for name in names
    }
    if not columns:
        return empty_table(len(rows))
    return pa.table(columns)


def empty_table(rows: int) -> pa.Table:
    """A table of ``rows`` rows and no columns (records without keys, or none at all)."""
    return pa.table({"_": pa.nulls(rows)}).drop_columns(["_"])


# --------------------------------------------------------------------------- Arrow columns

#: A column of Arrow's parse: its name, the keys leading to it in a record, and Arrow's array.
ArrowColumn = tuple[str, tuple[str, ...], pa.ChunkedArray]


def _flattened(name: str, path: tuple[str, ...], column: pa.ChunkedArray) -> list[ArrowColumn]:
    """A struct column as its ``parent.child`` columns (parent nulls applied), recursively."""
    if not (pa.types.is_struct(column.type) and column.type.num_fields):
        return [(name, path, column)]
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    out: list[ArrowColumn] = []
    for field, child in zip(column.type, combined.flatten(), strict=True):
        out.extend(
            _flattened(f"{name}.{field.name}", (*path, field.name), pa.chunked_array([child]))
        )
    return out


def is_exact(column: pa.ChunkedArray) -> bool:
    """Whether Arrow's column holds exactly what the records said, as one scalar type.

    Not so for nested values (Arrow's list<double> prints ``1`` as ``1.0`` and its structs add
    null fields a record never had), and not for a float column holding magnitudes of 2**53 or
    more (Arrow makes integers beyond int64, and ints next to floats, into doubles, which
    rounds them). Such columns are taken from the records themselves (:func:`value_at`).
    """
    kind = column.type
    if pa.types.is_nested(kind):
        return False
    if pa.types.is_floating(kind) and len(column) and column.null_count < len(column):
        largest = pc.max(pc.abs(column)).as_py()
        return largest is None or largest < _EXACT_IN_FLOAT
    return True


def arrow_columns(table: pa.Table, flatten: bool) -> list[ArrowColumn] | None:
    """Arrow's parse of JSON Lines as columns named as :func:`records_to_table` names them.

    None when flattening gives two columns one name (the caller then reads record by record,
    which reports the clash per record).
    """
    columns: list[ArrowColumn] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if flatten:
            columns.extend(_flattened(field.name, (field.name,), column))
        else:
            columns.append((field.name, (field.name,), column))
    names = [name for name, _, _ in columns]
    if len(set(names)) != len(names):
        return None
    return columns


def value_at(record: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a parsed record (None where a key is missing or a parent null)."""
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def assemble(names: list[str], arrays: list[pa.Array | pa.ChunkedArray], rows: int) -> pa.Table:
    """The columns as one table; null-typed ones (no value at all) as text."""
    if not names:
        return empty_table(rows)
    arrays = [pa.nulls(len(a), TEXT) if pa.types.is_null(a.type) else a for a in arrays]
    return pa.table(arrays, names=names)
