"""Reading a table (or some partition slices of it) back as the DataFrame that was written.

Rows come through ADBC as Arrow (no per-row Python work), then are conformed to the Arrow
schema stored in the table comment, so dtypes round-trip exactly (nullable ints, categories
with their categories, decimals, time zones). ``_run_id`` is bookkeeping and is not returned.
Several partitions are read in one query and put in the order asked (rows keep their stored
order within a partition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from etl_assets.lib.io.convert import conform, table_to_frame
from etl_assets.lib.io.postgres.identifiers import TableName, check_partition_keys
from etl_assets.lib.io.postgres.scan import SPLIT_MIN_BYTES, scan_table
from etl_assets.lib.io.postgres.schema_note import comment_query, parse_comment
from etl_assets.lib.io.postgres.writer import RUN_ID_COLUMN
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec import PARTITION_COLUMN


class TableNotFoundError(FileNotFoundError, LookupError):
    """The table (or partition) to load does not exist: the asset was never materialized here.

    A ``FileNotFoundError`` like the file IO managers' "not materialized" errors, so callers
    (e.g. the ``references`` check) handle every storage the same way."""


def _plain(table: pa.Table) -> pa.Table:
    """Extension columns (ADBC returns ``numeric`` as an opaque string extension) as storage."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if isinstance(field.type, pa.BaseExtensionType):
            column = pa.chunked_array(
                [c.storage for c in column.chunks], type=field.type.storage_type
            )
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _in_key_order(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows grouped by partition in the order of ``keys`` (stable: order within a key kept)."""
    if len(keys) < 2 or table.num_rows == 0 or PARTITION_COLUMN not in table.column_names:
        return table
    rank = pc.index_in(table.column(PARTITION_COLUMN), value_set=pa.array(keys, pa.string()))
    return table.take(pc.sort_indices(rank))


def table_exists(pg: PostgresResource, target: TableName) -> bool:
    with pg.connection() as conn:
        found = conn.execute("SELECT to_regclass(%s)", (target.sql.as_string(None),)).fetchone()
    return found is not None and found[0] is not None


def _column(field: pa.Field) -> sql.Composable:
    """The select item for a stored column: ``numeric`` as ``::text``, since the server prints
    numerics much faster than the ADBC driver decodes them; ``conform`` casts the text back
    to the stored decimal type in Arrow."""
    name = sql.Identifier(field.name)
    dtype = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if pa.types.is_decimal(dtype) or pa.types.is_uint64(dtype):
        return sql.SQL("{}::text AS {}").format(name, name)
    return name


def read_table(
    pg: PostgresResource,
    target: TableName,
    partition_keys: Sequence[str] | None = None,
    read_connections: int = 2,
    split_min_bytes: int = SPLIT_MIN_BYTES,
) -> pd.DataFrame:
    """The table (or the ``partition_keys`` slices of it) as the DataFrame written.

    A whole-table read of a large table is split over ``read_connections`` connections that
    share one snapshot (see ``scan``); partition reads are one query."""
    return _to_frame(*read_arrow(pg, target, partition_keys, read_connections, split_min_bytes)[:2])


def read_arrow(
    pg: PostgresResource,
    target: TableName,
    partition_keys: Sequence[str] | None = None,
    read_connections: int = 2,
    split_min_bytes: int = SPLIT_MIN_BYTES,
    after_snapshot: Callable[[], None] | None = None,
) -> tuple[pa.Table, pa.Schema | None, int]:
    """Rows as read (before conforming), the stored schema, and how many connections read."""
    keys = check_partition_keys(partition_keys) if partition_keys is not None else None
    connections = 1
    with pg.adbc_connection() as conn:
        cursor = conn.cursor()
        text, params = comment_query(target)
        cursor.execute(text, parameters=params)
        found = cursor.fetchall()
        if not found:
            raise TableNotFoundError(f"table {target} does not exist in {pg.describe()}")
        stored = parse_comment(found[0][0])
        names = [_column(f) for f in stored] if stored is not None else [sql.SQL("*")]
        select = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(names), target.sql)
        if keys is None:
            scan = scan_table(
                conn,
                pg.adbc_connection,
                select.as_string(None),
                target.sql.as_string(None),
                connections=read_connections,
                min_bytes=split_min_bytes,
                after_snapshot=after_snapshot,
            )
            table, connections = _plain(scan.table), scan.connections
        else:
            # one round trip for any number of keys; rows are put in key order afterwards.
            # The keys are quoted literals (psycopg's sql.Literal, after check_partition_keys),
            # not parameters: ADBC runs a parameterless query through COPY binary, a
            # parameterised one as a prepared statement that decodes ~20% slower.
            where = sql.SQL(" WHERE {} IN ({})").format(
                sql.Identifier(PARTITION_COLUMN), sql.SQL(", ").join(map(sql.Literal, keys))
            )
            cursor.execute((select + where).as_string(None))
            table = _in_key_order(_plain(cursor.fetch_arrow_table()), keys)
        conn.rollback()
    return table, stored, connections


def _to_frame(table: pa.Table, stored: pa.Schema | None) -> pd.DataFrame:
    if stored is None:  # a table not written by the IO manager: Arrow's own types
        if RUN_ID_COLUMN in table.column_names:
            table = table.drop_columns([RUN_ID_COLUMN])
        return table_to_frame(table)
    return table_to_frame(conform(table, stored))
