"""PostgreSQL source: a table or a parameterized query, read in chunks, optionally incremental.

Reads go through the ``PostgresResource`` pool with a server-side (named) cursor, fetching
``chunk_rows`` rows per round trip and turning each chunk into Arrow right away, so the client
never holds more than one chunk of Python tuples (the server keeps the rest). Column types come
from the result description, not from the values, so every chunk has the same schema (an
all-null chunk cannot turn an int column into text).

Incremental loading: with ``cursor_column`` only rows with ``cursor_column >= high-water mark``
are read, in cursor order; the new mark is the largest cursor value read. ``>=`` re-reads the
rows at the mark, so a row committed later with the mark's value is still picked up; those
re-read rows are deduplicated by ``primary_key`` (:func:`accumulate`, or the upsert of the
PostgreSQL IO manager). The cursor should be monotonic (a value only ever written at or above
the current maximum, e.g. an identity or an ``updated_at`` set by the server): a row committed
later with a value BELOW the mark is never read. The caller keeps the
mark where it survives restarts (the generated asset puts it in its materialization metadata
and reads it back from the Dagster instance on the next run); :func:`encode_mark` /
:func:`decode_mark` turn it into JSON and back without losing its type.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from psycopg import sql
from psycopg.types.string import TextLoader

from etl_assets.lib.io.postgres.identifiers import check_identifier
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.sources.errors import SourceError
from etl_assets.lib.spec import PostgresSourceOptions
from etl_assets.lib.telemetry import source_read

# PostgreSQL type OIDs -> Arrow types (anything else is read as text).
_OID_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    17: pa.binary(),
}
_NUMERIC = 1700


@dataclass
class PostgresRead:
    """What one read returned: the rows, the new high-water mark and how it went."""

    frame: pd.DataFrame
    high_water_mark: Any
    chunks: int


def _arrow_type(column: Any) -> pa.DataType:
    if column.type_code == _NUMERIC:
        precision, scale = column.precision, column.scale
        if precision is not None and scale is not None and 0 < precision <= 38:
            return pa.decimal128(precision, scale)
        return pa.string()  # unconstrained numeric: exact text rather than a lossy float
    return _OID_TYPES.get(column.type_code, pa.string())


def _as_text(value: Any) -> str | None:
    """A value of a column read as text: arrays (lists) and composite values as JSON text,
    never Python's ``repr`` (json/jsonb arrive as the server's own text, see
    :func:`_json_as_text`)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _json_as_text(cursor: Any) -> None:
    """Load json/jsonb (and arrays of them) as the server's text instead of Python objects,
    so the stored value is the exact JSON document (``true`` stays ``true``, not ``True``)."""
    for name in ("json", "jsonb"):
        cursor.adapters.register_loader(name, TextLoader)


def _chunk_batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for values, field in zip(columns, schema, strict=True):
        if pa.types.is_string(field.type):
            values = [_as_text(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _relation(table: str) -> sql.Composable:
    return sql.Identifier(*(check_identifier(p, "table name") for p in table.split(".")))


def build_query(
    options: PostgresSourceOptions, mark: Any = None
) -> tuple[sql.Composable, dict[str, Any]]:
    """The SELECT to run and its parameters (values only; names validated and quoted)."""
    params: dict[str, Any] = dict(options.params)
    if options.table is not None:
        base: sql.Composable = sql.SQL("SELECT * FROM {}").format(_relation(options.table))
    else:
        base = sql.SQL("SELECT * FROM ({}) AS etl_source").format(sql.SQL(options.query))  # type: ignore[arg-type]
    if options.cursor_column is None:
        return base, params
    cursor = sql.Identifier(options.cursor_column)
    query = sql.SQL("SELECT * FROM ({}) AS etl_incremental").format(base)
    if mark is not None:
        params["etl_high_water_mark"] = mark
        # ``>=``: rows that share the mark's value but committed after the last read are not
        # lost; the rows re-read at the mark are deduplicated by primary key (see accumulate)
        query += sql.SQL(" WHERE {} >= %(etl_high_water_mark)s").format(cursor)
    query += sql.SQL(" ORDER BY {}").format(cursor)
    return query, params


def iter_postgres_chunks(
    pg: PostgresResource, options: PostgresSourceOptions, *, name: str, mark: Any = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``chunk_rows`` rows, from a server-side cursor."""
    query, params = build_query(options, mark)
    with pg.connection() as conn, conn.transaction():
        cursor = conn.cursor(name=f"etl_{uuid.uuid4().hex[:12]}")
        cursor.itersize = options.chunk_rows
        _json_as_text(cursor)
        try:
            cursor.execute(query, params)
        except Exception as error:
            raise SourceError(
                f"source {name!r}: query failed on {pg.describe()}: {error}"
            ) from error
        schema = pa.schema(
            [pa.field(column.name, _arrow_type(column)) for column in cursor.description]
        )
        if options.cursor_column is not None and options.cursor_column not in schema.names:
            raise SourceError(
                f"source {name!r}: cursor_column {options.cursor_column!r} is not a column of "
                f"the result ({', '.join(schema.names)})"
            )
        emitted = False
        while rows := cursor.fetchmany(options.chunk_rows):
            emitted = True
            yield _chunk_batch(rows, schema)
        if not emitted:
            yield _chunk_batch([], schema)
        cursor.close()


_NULLABLE_INTS = {
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def _pandas_type(dtype: pa.DataType) -> Any:
    if dtype in _NULLABLE_INTS:
        return _NULLABLE_INTS[dtype]
    if pa.types.is_boolean(dtype):
        return pd.BooleanDtype()
    if pa.types.is_decimal(dtype) or pa.types.is_date(dtype) or pa.types.is_binary(dtype):
        return pd.ArrowDtype(dtype)  # keeps its type even with no rows (object would not)
    return None


def read_postgres_source(
    pg: PostgresResource, options: PostgresSourceOptions, *, name: str, mark: Any = None
) -> PostgresRead:
    """All rows (after ``mark`` when incremental) as one frame, with the new high-water mark.

    Integers and booleans become pandas nullable dtypes, decimals, dates and bytes Arrow-backed
    dtypes, timestamps ``datetime64[us]`` (UTC-aware for ``timestamptz``), text ``str``: the
    same dtypes whether or not any row came back.
    """
    where = f"postgresql://{pg.host}:{pg.port}/{pg.dbname}" + (f"/{options.table}" if options.table else "")
    with source_read(name, "postgres", lambda: where) as traced:
        read = _read_postgres_source(pg, options, name=name, mark=mark)
        traced(rows=len(read.frame))
        return read


def _read_postgres_source(
    pg: PostgresResource, options: PostgresSourceOptions, *, name: str, mark: Any
) -> PostgresRead:
    batches = list(iter_postgres_chunks(pg, options, name=name, mark=mark))
    table = pa.Table.from_batches(batches)
    frame = table.to_pandas(types_mapper=_pandas_type)
    new_mark = mark
    if options.cursor_column is not None and table.num_rows:
        column = table.column(options.cursor_column)
        if column.null_count:
            raise SourceError(
                f"source {name!r}: cursor_column {options.cursor_column!r} has "
                f"{column.null_count} null value(s); incremental loading needs it filled"
            )
        new_mark = column[table.num_rows - 1].as_py()  # rows come in cursor order
    return PostgresRead(frame=frame, high_water_mark=new_mark, chunks=len(batches))


def encode_mark(value: Any) -> dict[str, str] | None:
    """A JSON-safe form of a high-water mark that :func:`decode_mark` turns back exactly."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean cursor column cannot drive incremental loading")
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, decimal.Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}
    return {"type": "str", "value": str(value)}


def decode_mark(data: dict[str, str] | None) -> Any:
    if not data:
        return None
    kind, text = data["type"], data["value"]
    decoders = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "int": int,
        "decimal": decimal.Decimal,
        "float": float,
        "str": str,
    }
    if kind not in decoders:
        raise ValueError(f"unknown high-water mark type {kind!r}")
    return decoders[kind](text)


@dataclass
class Accumulated:
    """An incremental read merged into what was loaded before."""

    frame: pd.DataFrame
    rows_new: int
    rows_replaced: int


def accumulate(
    previous: pd.DataFrame | None, new: pd.DataFrame, primary_key: list[str], *, name: str
) -> Accumulated:
    """``previous`` plus ``new``, one row per primary key: a key read again (the rows at the
    high-water mark, or a row updated at the source) keeps its newest version, so nothing is
    lost and nothing doubles. ``rows_replaced`` counts keys that were already there."""
    missing = [k for k in primary_key if k not in new.columns]
    if missing:
        raise SourceError(
            f"source {name!r}: primary_key column(s) {missing} are not columns of the result "
            f"({', '.join(map(str, new.columns))})"
        )
    new = new.drop_duplicates(subset=primary_key, keep="last")  # cursor order: last is newest
    if previous is None or previous.empty:
        return Accumulated(new.reset_index(drop=True), len(new), 0)
    old_keys = pd.MultiIndex.from_frame(previous[primary_key])
    new_keys = pd.MultiIndex.from_frame(new[primary_key])
    replaced = int(new_keys.isin(old_keys).sum())
    kept = previous[~old_keys.isin(new_keys)]
    frame = pd.concat([kept, new], ignore_index=True)
    return Accumulated(frame, len(new) - replaced, replaced)
