"""Writing an Arrow table into PostgreSQL with binary COPY, all-or-nothing.

Every write is ONE transaction on an ADBC connection (Arrow -> binary ``COPY``, measured at
about 1x ``psql \\copy``; see ``benchmarks/bench_postgres.py``):

- :func:`write_partitions`: lock the run's partition keys, ``DELETE`` their slices, ``COPY``
  their rows, record the keys in the partition ledger (:mod:`.ledger`), commit. A retry after
  a crash therefore replaces the slices instead of duplicating them, and other partitions
  (possibly being written by another run right now) are never touched. The lock (a
  transaction-level advisory lock per table and key) makes two runs writing the SAME
  partition at once take turns: under READ COMMITTED the second run's ``DELETE`` would
  otherwise run on a snapshot without the first run's uncommitted rows, and both copies
  would survive. A column that was all null when the table was created (so ``text``) is
  ``ALTER``ed to its first real type in that transaction.
- :func:`replace_table`: ``COPY`` into a staging table, then drop the old table and rename the
  staging table in the same transaction: readers see the old rows until commit, then the new.
- :func:`upsert_table`: ``COPY`` into a staging table, ``INSERT ... ON CONFLICT (key) DO UPDATE``.

The table is created (when missing) in its own short transaction under an advisory lock, so
two runs creating it at once do not collide. A partitioned table gets a BRIN index on
``_partition``: time partitions are written in bulk, so their rows sit together and BRIN finds
them at almost no write cost (measured on 1M rows: a B-tree made the partitioned write 0.74x of
``psql \\copy``, BRIN 0.93x; reading one partition back went from 0.77x to 0.57x).

Every row gets ``_run_id``; the frame's exact Arrow schema goes into the table comment
(``schema_note``) so reads give back the same dtypes.

``before_commit`` is called after the COPY, inside the transaction: tests use it to inject a
failure at the worst moment.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from etl_assets.lib.io.postgres.errors import named_write_failures
from etl_assets.lib.io.postgres.identifiers import (
    TableName,
    check_identifier,
    check_partition_keys,
)
from etl_assets.lib.io.postgres.ledger import (
    create_ledger_statement,
    ledger_name,
    record_statement,
)
from etl_assets.lib.io.postgres.schema_note import (
    comment_query,
    comment_statement,
    comment_text,
    parse_comment,
)
from etl_assets.lib.io.postgres.types import copyable, postgres_type
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.spec import PARTITION_COLUMN

RUN_ID_COLUMN = "_run_id"
Hook = Callable[[], None] | None


class TableLayoutError(ValueError):
    """The existing table's columns differ from the frame's (a partitioned write cannot mix)."""


@dataclass(frozen=True)
class WriteResult:
    table: TableName
    rows_written: int
    seconds: float


def _text(statement: sql.Composable) -> str:
    return statement.as_string(None)


def _columns_sql(table: pa.Table, primary_key: Sequence[str] = ()) -> sql.Composed:
    parts = [
        sql.SQL("{} {}").format(
            sql.Identifier(check_identifier(f.name, "column name")),
            sql.SQL(postgres_type(f.name, f.type)),
        )
        for f in table.schema
    ]
    if primary_key:
        parts.append(
            sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, primary_key)))
        )
    return sql.SQL(", ").join(parts)


def _with_run_id(table: pa.Table, run_id: str) -> pa.Table:
    if RUN_ID_COLUMN in table.column_names:
        table = table.drop_columns([RUN_ID_COLUMN])
    # one scalar repeated in C: a Python list of n references costs ~n*8 bytes and a pass
    return table.append_column(
        RUN_ID_COLUMN, pa.repeat(pa.scalar(run_id, pa.string()), table.num_rows)
    )


def _existing_layout(cursor, target: TableName) -> list[tuple[str, str]] | None:
    cursor.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        parameters=(target.schema, target.table),
    )
    rows = cursor.fetchall()
    return [(str(name), str(kind)) for name, kind in rows] or None


def _layout(table: pa.Table) -> list[tuple[str, str]]:
    return [(f.name, postgres_type(f.name, f.type)) for f in table.schema]


def _ensure_table(
    pg: PostgresResource,
    target: TableName,
    table: pa.Table,
    frame_schema: pa.Schema,
    *,
    primary_key: Sequence[str] = (),
    index_partitions: bool = False,
) -> tuple[list[tuple[str, str]] | None, str | None]:
    """Create ``target`` if missing (own transaction, advisory lock); return its layout before
    (None for a new table) and its comment now."""
    with pg.adbc_connection() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(str(target),))
        cursor.fetchall()
        before = _existing_layout(cursor, target)
        comment = None
        if before is not None:
            text, params = comment_query(target)
            cursor.execute(text, parameters=params)
            comment = (cursor.fetchall() or [(None,)])[0][0]
        if before is None:
            cursor.execute(
                _text(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema))
                )
            )
            cursor.execute(
                _text(
                    sql.SQL("CREATE TABLE {} ({})").format(
                        target.sql, _columns_sql(table, primary_key)
                    )
                )
            )
            if index_partitions:
                cursor.execute(
                    _text(
                        sql.SQL("CREATE INDEX ON {} USING brin ({})").format(
                            target.sql, sql.Identifier(PARTITION_COLUMN)
                        )
                    )
                )
            cursor.execute(_text(comment_statement(target, frame_schema)))
            comment = comment_text(frame_schema)
        if index_partitions:  # partitioned: the ledger of written partitions, once per schema
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                parameters=(str(ledger_name(target)),),
            )
            cursor.fetchall()
            cursor.execute(create_ledger_statement(target))
        conn.commit()
        return before, comment


def _check_layout(target: TableName, before: list[tuple[str, str]] | None, table: pa.Table) -> None:
    wanted = _layout(table)
    if before is not None and before != wanted:
        have = ", ".join(f"{n} {t}" for n, t in before)
        want = ", ".join(f"{n} {t}" for n, t in wanted)
        raise TableLayoutError(
            f"table {target} has columns ({have}) but the frame gives ({want}); rewrite all "
            "partitions (or drop the table) to change its layout"
        )


def _prepare(frame_table: pa.Table, run_id: str) -> pa.Table:
    return _with_run_id(copyable(frame_table), run_id)


def write_partitions(
    pg: PostgresResource,
    target: TableName,
    frame_table: pa.Table,
    partition_keys: Sequence[str],
    run_id: str,
    *,
    before_commit: Hook = None,
) -> WriteResult:
    """Replace the rows of ``partition_keys`` with ``frame_table`` (which has ``_partition``
    and only those keys) in one transaction."""
    started = time.perf_counter()
    keys = check_partition_keys(partition_keys)
    if PARTITION_COLUMN not in frame_table.column_names:
        raise ValueError(f"{target}: a partitioned write needs a {PARTITION_COLUMN!r} column")
    table = _prepare(frame_table, run_id)
    before, comment = _ensure_table(pg, target, table, frame_table.schema, index_partitions=True)
    fit = _reconcile(target, frame_table, table, before, comment, run_id)
    table, note_schema = fit.table, fit.note_schema
    _check_layout(target, fit.layout_before, table)
    rows_by_key = dict.fromkeys(keys, 0)
    if table.num_rows:
        counts = pc.value_counts(table.column(PARTITION_COLUMN)).to_pylist()
        rows_by_key.update({str(c["values"]): int(c["counts"]) for c in counts})
    placeholders = ", ".join(f"${i}" for i in range(1, len(keys) + 1))
    delete = (
        _text(
            sql.SQL("DELETE FROM {} WHERE {} IN (").format(
                target.sql, sql.Identifier(PARTITION_COLUMN)
            )
        )
        + placeholders
        + ")"
    )
    with (
        named_write_failures("writing", str(target), pg.describe()),
        pg.adbc_connection() as conn,
    ):
        cursor = conn.cursor()
        if keys:
            cursor.execute(_partition_locks_statement(target, keys))
            cursor.fetchall()
        for alter in fit.alters:  # an all-null column gets its first real type
            cursor.execute(alter)
        cursor.execute(delete, parameters=tuple(keys))
        if table.num_rows:
            cursor.adbc_ingest(target.table, table, mode="append", db_schema_name=target.schema)
        cursor.execute(record_statement(target, rows_by_key, run_id))
        # COMMENT locks the table against other COMMENTs until commit: only write it when the
        # stored schema changes, so runs writing other partitions at the same time never wait.
        if comment != comment_text(note_schema):
            cursor.execute(_text(comment_statement(target, note_schema)))
        if before_commit is not None:
            before_commit()
        conn.commit()
    return WriteResult(target, table.num_rows, time.perf_counter() - started)


def _partition_locks_statement(target: TableName, keys: Sequence[str]) -> str:
    """Take a transaction-level advisory lock on (table, key) for each key, in hash order.

    Held until commit or rollback, so a run writing the same partition waits here, and its
    ``DELETE`` (a new statement, hence a new snapshot) then sees and removes the committed rows
    of the run before it. Locking in one fixed order (the lock's own key, the hash) means two
    runs with overlapping key sets cannot deadlock; the two-``int4`` key space is separate from
    the one-``bigint`` locks of table creation.
    """
    values = sql.SQL(", ").join(sql.SQL("({})").format(sql.Literal(key)) for key in keys)
    return _text(
        sql.SQL(
            "SELECT pg_advisory_xact_lock(hashtext({}), h) FROM "
            "(SELECT DISTINCT hashtext(k) AS h FROM (VALUES {}) AS v(k) ORDER BY h OFFSET 0) AS s"
        ).format(sql.Literal(str(target)), values)
    )


@dataclass(frozen=True)
class _Reconciled:
    frame_table: pa.Table
    table: pa.Table
    note_schema: pa.Schema
    layout_before: list[tuple[str, str]] | None
    alters: list[str]


def _reconcile(
    target: TableName,
    frame_table: pa.Table,
    table: pa.Table,
    before: list[tuple[str, str]] | None,
    comment: str | None,
    run_id: str,
) -> _Reconciled:
    """Reconcile all-null columns (Arrow type ``null``: pandas could not tell their type) with
    the existing table, using the Arrow schema stored in its comment:

    - null in the frame, typed in the table: the frame's column takes the stored type;
    - null when the table was created (stored as ``text``), typed now: the column is altered
      to the new type (``alters``, run in the write's transaction) and the note takes the type.

    Anything else is left as is (and :func:`_check_layout` refuses a real layout change)."""
    unchanged = _Reconciled(frame_table, table, frame_table.schema, before, [])
    stored = parse_comment(comment) if before is not None else None
    if before is None or stored is None:
        return unchanged
    adopted = _adopt_null_columns(frame_table, stored) or frame_table
    fields = list(stored)
    layout = list(before)
    by_name = {name: i for i, (name, _) in enumerate(layout)}
    alters: list[str] = []
    typed_now: list[str] = []
    for field in adopted.schema:
        if field.name not in stored.names:
            continue
        if not pa.types.is_null(stored.field(field.name).type) or pa.types.is_null(field.type):
            continue
        typed_now.append(field.name)
        fields[stored.get_field_index(field.name)] = field
        kind = postgres_type(field.name, field.type)
        if field.name in by_name and layout[by_name[field.name]][1] != kind:
            alters.append(
                _text(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                        target.sql, sql.Identifier(field.name), sql.SQL(kind),
                        sql.Identifier(field.name), sql.SQL(kind),
                    )
                )
            )
            layout[by_name[field.name]] = (field.name, kind)
    if adopted is frame_table and not typed_now:
        return unchanged
    note = stored
    if typed_now:
        metadata = _merged_pandas_metadata(stored.metadata, adopted.schema.metadata, typed_now)
        note = pa.schema(fields, metadata=metadata)
    return _Reconciled(adopted, _prepare(adopted, run_id), note, layout, alters)


def _merged_pandas_metadata(
    stored: dict[bytes, bytes] | None, frame: dict[bytes, bytes] | None, names: list[str]
) -> dict[bytes, bytes] | None:
    """The stored schema metadata with the pandas entries of ``names`` taken from the frame
    (their dtype, e.g. ``Int64`` rather than the all-null ``object``, is known only now)."""
    if not stored or b"pandas" not in stored or not frame or b"pandas" not in frame:
        return stored
    kept = json.loads(stored[b"pandas"])
    fresh = {c.get("name"): c for c in json.loads(frame[b"pandas"]).get("columns", [])}
    kept["columns"] = [
        fresh.get(c.get("name"), c) if c.get("name") in names else c
        for c in kept.get("columns", [])
    ]
    return {**stored, b"pandas": json.dumps(kept).encode()}


def _adopt_null_columns(frame_table: pa.Table, stored: pa.Schema) -> pa.Table | None:
    """The table with its all-null columns (Arrow type ``null``: pandas could not tell their
    type, e.g. a partition where a column has no values) cast to the stored type; None if none."""
    columns, changed = [], False
    for field, column in zip(frame_table.schema, frame_table.columns, strict=True):
        if pa.types.is_null(field.type) and field.name in stored.names:
            column = pa.nulls(len(column), stored.field(field.name).type)
            changed = True
        columns.append(column)
    if not changed:
        return None
    return pa.Table.from_arrays(columns, names=frame_table.column_names)


def _staging_name(target: TableName) -> TableName:
    return target.with_table(f"_etl_stage_{uuid.uuid4().hex[:16]}")


def replace_table(
    pg: PostgresResource,
    target: TableName,
    frame_table: pa.Table,
    run_id: str,
    *,
    before_commit: Hook = None,
) -> WriteResult:
    """Replace the whole table: COPY into a staging table, swap it in, one transaction."""
    started = time.perf_counter()
    table = _prepare(frame_table, run_id)
    staging = _staging_name(target)
    with (
        named_write_failures("writing", str(target), pg.describe()),
        pg.adbc_connection() as conn,
    ):
        cursor = conn.cursor()
        cursor.execute(
            _text(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
        )
        cursor.execute(
            _text(sql.SQL("CREATE TABLE {} ({})").format(staging.sql, _columns_sql(table)))
        )
        if table.num_rows:
            cursor.adbc_ingest(staging.table, table, mode="append", db_schema_name=staging.schema)
        cursor.execute(_text(comment_statement(staging, frame_table.schema)))
        if before_commit is not None:
            before_commit()
        cursor.execute(_text(sql.SQL("DROP TABLE IF EXISTS {}").format(target.sql)))
        cursor.execute(
            _text(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    staging.sql, sql.Identifier(target.table)
                )
            )
        )
        conn.commit()
    return WriteResult(target, table.num_rows, time.perf_counter() - started)


def _check_keys(target: TableName, table: pa.Table, primary_key: Sequence[str]) -> None:
    missing = [k for k in primary_key if k not in table.column_names]
    if missing:
        raise ValueError(f"{target}: primary key column(s) {missing} are not in the frame")
    for key in primary_key:
        nulls = table.column(key).null_count
        if nulls:
            raise ValueError(f"{target}: primary key column {key!r} has {nulls} null value(s)")
    if table.num_rows:
        counts = table.group_by(list(primary_key)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts["count_all"], 1))
        if repeated.num_rows:
            sample = repeated.slice(0, 3).drop_columns(["count_all"]).to_pylist()
            raise ValueError(
                f"{target}: {repeated.num_rows} primary key value(s) repeat in the frame, e.g. {sample}"
            )


def _check_unique_key(pg: PostgresResource, target: TableName, keys: Sequence[str]) -> None:
    """``ON CONFLICT (keys)`` needs a unique index on exactly those columns: say so clearly."""
    with pg.adbc_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
            "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique GROUP BY i.indexrelid",
            parameters=(target.schema, target.table),
        )
        unique = {row[0] for row in cursor.fetchall()}
        conn.rollback()
    if ",".join(sorted(keys)) not in unique:
        raise TableLayoutError(
            f"table {target} has no primary key or unique index on ({', '.join(keys)}), so rows "
            "cannot be upserted by it; drop the table (it is recreated with that key) or add one"
        )


def upsert_table(
    pg: PostgresResource,
    target: TableName,
    frame_table: pa.Table,
    run_id: str,
    primary_key: Sequence[str],
    *,
    before_commit: Hook = None,
) -> WriteResult:
    """Insert new keys and update existing ones (``ON CONFLICT``) from a staging table."""
    started = time.perf_counter()
    keys = [check_identifier(k, "primary key column") for k in primary_key]
    if not keys:
        raise ValueError(f"{target}: an upsert needs a primary key")
    table = _prepare(frame_table, run_id)
    _check_keys(target, table, keys)
    before, comment = _ensure_table(pg, target, table, frame_table.schema, primary_key=keys)
    fit = _reconcile(target, frame_table, table, before, comment, run_id)
    table, note_schema = fit.table, fit.note_schema
    _check_layout(target, fit.layout_before, table)
    _check_unique_key(pg, target, keys)
    staging = _staging_name(target)
    names = [sql.Identifier(n) for n in table.column_names]
    updates = [
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(n), sql.Identifier(n))
        for n in table.column_names
        if n not in keys
    ]
    action = (
        sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(updates))
        if updates
        else sql.SQL("DO NOTHING")
    )
    with (
        named_write_failures("writing", str(target), pg.describe()),
        pg.adbc_connection() as conn,
    ):
        cursor = conn.cursor()
        for alter in fit.alters:
            cursor.execute(alter)
        cursor.execute(
            _text(sql.SQL("CREATE TABLE {} ({})").format(staging.sql, _columns_sql(table)))
        )
        if table.num_rows:
            cursor.adbc_ingest(staging.table, table, mode="append", db_schema_name=staging.schema)
        cursor.execute(
            _text(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {}").format(
                    target.sql,
                    sql.SQL(", ").join(names),
                    sql.SQL(", ").join(names),
                    staging.sql,
                    sql.SQL(", ").join(map(sql.Identifier, keys)),
                    action,
                )
            )
        )
        cursor.execute(_text(sql.SQL("DROP TABLE {}").format(staging.sql)))
        cursor.execute(_text(comment_statement(target, note_schema)))
        if before_commit is not None:
            before_commit()
        conn.commit()
    return WriteResult(target, table.num_rows, time.perf_counter() - started)
