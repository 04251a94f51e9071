"""The stored frame's exact Arrow schema, kept as the table's COMMENT.

PostgreSQL types alone cannot say whether a text column was a pandas ``str`` or a category
(and with which categories), or a nullable ``Int64`` versus ``int64``. The Arrow schema that
:func:`etl_assets.lib.io.convert.frame_to_table` produced carries all of that, so it is written
with the table (inside the same transaction) and used to conform what is read back.
"""

from __future__ import annotations

import base64

import pyarrow as pa
from psycopg import sql

from etl_assets.lib.io.postgres.identifiers import TableName

PREFIX = "etl_assets:arrow-schema:"


def comment_text(schema: pa.Schema) -> str:
    return PREFIX + base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def comment_statement(table: TableName, schema: pa.Schema) -> sql.Composed:
    return sql.SQL("COMMENT ON TABLE {} IS {}").format(table.sql, sql.Literal(comment_text(schema)))


def comment_query(table: TableName) -> tuple[str, tuple[str, str]]:
    """SQL text and parameters (ADBC ``$1`` style) reading the table's comment."""
    return (
        "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        (table.schema, table.table),
    )


def parse_comment(text: str | None) -> pa.Schema | None:
    if not text or not text.startswith(PREFIX):
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text[len(PREFIX) :])))
