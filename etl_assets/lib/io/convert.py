"""DataFrame <-> Arrow table conversions that give back exactly the dtypes that went in.

``pa.Table.from_pandas`` records pandas dtypes in the schema's ``pandas`` metadata, and
``to_pandas`` uses it for nullable ints, booleans, strings, timezones and date32. Two things it
does not carry, so this module adds them under the schema metadata key ``etl_assets``:

- which columns were ``pd.ArrowDtype`` (pandas records ``object`` for Arrow decimals, so they
  would come back as Python ``Decimal`` objects);
- the categories of each categorical column, in order and including unused ones. CSV and JSON
  store only the values, and Parquet rebuilds dictionaries only for string values, so without
  this a category's dtype (which includes its categories) would change. They are kept as a
  zero-row Arrow IPC stream (which carries dictionaries exactly), base64 in the JSON.

Every reader hands its raw table to :func:`conform`, which casts it to the stored schema and
rebuilds dictionaries, then :func:`table_to_frame` makes the DataFrame.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.io.dictionaries import union_dictionaries

METADATA_KEY = b"etl_assets"
# Larger category sets are not stored; they are rebuilt as the sorted distinct values (what
# pandas' ``astype("category")`` gives), so a huge dictionary does not bloat every file footer.
MAX_STORED_CATEGORIES = 100_000


def storable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as it will be stored: a named index (or MultiIndex) is data, so it becomes
    ordinary columns; an unnamed index is row numbering and is dropped on write."""
    if isinstance(frame.index, pd.MultiIndex) or frame.index.name is not None:
        return frame.reset_index()
    return frame


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table carrying everything needed to rebuild its dtypes."""
    frame = storable_frame(frame)
    duplicates = sorted(
        n for n, count in Counter(str(c) for c in frame.columns).items() if count > 1
    )
    if duplicates:
        raise ValueError(f"column names must be unique to be stored; repeated: {duplicates}")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise TypeError(f"cannot convert the frame to Arrow for storage: {exc}") from exc
    extra: dict[str, object] = {}
    arrow_columns = [str(n) for n, d in frame.dtypes.items() if isinstance(d, pd.ArrowDtype)]
    if arrow_columns:
        extra["arrow_dtype_columns"] = arrow_columns
    categories = _dictionaries_blob(table)
    if categories:
        extra["categories_ipc"] = categories
    # always present, so a reader can tell our files (exact dtypes) from anyone else's
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(extra).encode()}
    )


def refresh_dictionary_metadata(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """``table`` with the stored categories and the pandas metadata of ``columns`` (dictionary
    columns whose dictionary or index type changed, e.g. compacted) made true again, so the
    schema says what :func:`frame_to_table` would say for the same rows."""
    if not columns:
        return table
    metadata = dict(table.schema.metadata or {})
    extra = _extra(table.schema)
    categories = _dictionaries_blob(table)
    if categories:
        extra["categories_ipc"] = categories
    else:
        extra.pop("categories_ipc", None)
    metadata[METADATA_KEY] = json.dumps(extra).encode()
    if b"pandas" in metadata:
        pandas_meta = json.loads(metadata[b"pandas"])
        wanted = set(columns)
        for entry in pandas_meta.get("columns", []):
            name = entry.get("field_name")
            if name not in wanted or entry.get("pandas_type") != "categorical":
                continue
            field = table.schema.field(name)
            column = table.column(name)
            size = len(column.chunk(0).dictionary) if column.num_chunks else 0
            entry["numpy_type"] = str(field.type.index_type.to_pandas_dtype().__name__)
            entry.setdefault("metadata", {})["num_categories"] = size
        metadata[b"pandas"] = json.dumps(pandas_meta).encode()
    return table.replace_schema_metadata(metadata)


def _extra(schema: pa.Schema) -> dict:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def _dictionaries_blob(table: pa.Table) -> str | None:
    """Each dictionary column's type and categories, as a zero-row IPC stream (base64)."""
    arrays, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if not pa.types.is_dictionary(field.type) or column.num_chunks == 0:
            continue
        dictionary = column.chunk(0).dictionary
        if len(dictionary) > MAX_STORED_CATEGORIES:
            continue
        arrays.append(
            pa.DictionaryArray.from_arrays(
                pa.array([], field.type.index_type), dictionary, ordered=field.type.ordered
            )
        )
        fields.append(pa.field(field.name, arrays[-1].type))
    if not arrays:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema(fields)) as writer:
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)))
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def stored_dictionaries(schema: pa.Schema) -> dict[str, pa.DictionaryArray]:
    """Column name -> a zero-length DictionaryArray whose type and dictionary are the originals."""
    blob = _extra(schema).get("categories_ipc")
    if not blob:
        return {}
    table = pa.ipc.open_stream(pa.py_buffer(base64.b64decode(blob))).read_all()
    return {name: table[name].chunk(0) for name in table.column_names}


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a table as read back from a file to the schema it was written with.

    The readers parse what the file format can express (text for categories, UTC for instants);
    this restores dictionaries with their stored categories, time zones and everything else, and
    puts the stored schema metadata (pandas dtypes) back on.
    """
    dictionaries = stored_dictionaries(schema)
    fields, columns = [], []
    for field in schema:
        column = table.column(field.name)
        stored = dictionaries.get(field.name)
        target = stored.type if stored is not None else field.type
        conformed = _conform_column(column, target, stored)
        columns.append(conformed)
        fields.append(field.with_type(conformed.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=schema.metadata))


def _conform_column(
    column: pa.ChunkedArray, target: pa.DataType, stored: pa.DictionaryArray | None
) -> pa.ChunkedArray:
    if not pa.types.is_dictionary(target):
        return column if column.type == target else column.cast(target)
    if (
        stored is not None
        and column.type == target
        and column.num_chunks
        and all(c.dictionary.equals(stored.dictionary) for c in column.chunks)
    ):
        return column
    values = column.cast(target.value_type)
    if stored is not None:
        dictionary = stored.dictionary
    else:
        dictionary = pc.drop_null(pc.unique(values.combine_chunks())).sort()
    indices = pc.index_in(values, value_set=dictionary)
    unknown = pc.sum(pc.and_(pc.is_valid(values), pc.is_null(indices))).as_py() or 0
    if unknown:  # values the stored categories do not know (file edited by hand?): keep them all
        dictionary = pc.drop_null(pc.unique(values.combine_chunks())).sort()
        indices = pc.index_in(values, value_set=dictionary)
        target = pa.dictionary(pa.int32(), target.value_type, target.ordered)
    # an empty column still needs one (empty) chunk to carry the categories
    chunks = indices.chunks or [pa.array([], pa.int32())]
    return pa.chunked_array(
        [
            pa.DictionaryArray.from_arrays(
                c.cast(target.index_type), dictionary, ordered=target.ordered
            )
            for c in chunks
        ],
        type=target,
    )


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame an Arrow table came from (see the module docstring for what is restored)."""
    extra = _extra(table.schema)
    arrow_columns = [c for c in extra.get("arrow_dtype_columns", []) if c in table.column_names]
    if METADATA_KEY not in (table.schema.metadata or {}):
        # Not written by us: pandas has no decimal dtype, so keep decimals Arrow-backed rather
        # than as Python objects.
        return table.to_pandas(
            types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_decimal(t) else None
        )
    if not arrow_columns:
        return table.to_pandas()
    arrow_types = {table.schema.field(c).type for c in arrow_columns}
    frame = table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if t in arrow_types else None)
    # The mapper works per Arrow type: columns of the same type that were not ArrowDtype are
    # converted again the ordinary way.
    others = [f.name for f in table.schema if f.type in arrow_types and f.name not in arrow_columns]
    if others:
        ordinary = table.select(others).to_pandas()
        for name in others:
            frame[name] = ordinary[name]
    return frame


def concat_tables(tables: Sequence[pa.Table], labels: Sequence[str]) -> pa.Table:
    """One table from several partitions' tables, with one type per column.

    Types are promoted where Arrow can (a null-only column in one partition, wider ints in
    another); pandas metadata comes from the first partition with rows. ``labels`` name the
    partitions for the error when two partitions disagree on a column's type. Category columns
    get one dictionary: the sorted union of the parts' dictionaries when each is sorted, else
    their union in order of first appearance (see ``dictionaries.py``).
    """
    if len(tables) == 1:
        return tables[0]
    source = next((t for t in tables if t.num_rows), tables[0])
    try:
        combined = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"partitions disagree on column types and cannot be combined: {_type_conflicts(tables, labels)}"
        ) from exc
    combined = combined.replace_schema_metadata(source.schema.metadata)
    return union_dictionaries(combined)


def _type_conflicts(tables: Sequence[pa.Table], labels: Sequence[str]) -> str:
    seen: dict[str, tuple[pa.DataType, str]] = {}
    conflicts = []
    for table, label in zip(tables, labels, strict=True):
        for field in table.schema:
            if field.name not in seen:
                seen[field.name] = (field.type, label)
            elif seen[field.name][0] != field.type and not pa.types.is_null(field.type):
                first_type, first_label = seen[field.name]
                conflicts.append(
                    f"{field.name!r} is {first_type} in {first_label} but {field.type} in {label}"
                )
    return "; ".join(conflicts[:5]) or "(no column-level difference found)"
