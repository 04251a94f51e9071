"""Which partitions of a table were written: a small ledger table next to the data.

A partition written with no rows leaves no row in the data table, so the rows alone cannot
tell "written empty" from "never written". Every partitioned write therefore records its keys
in ``<schema>._etl_partitions`` INSIDE the write's transaction (both commit or neither), and a
load compares the keys it asks for with the ledger (and, for tables written before the ledger
existed, with the keys that have rows) to refuse missing partitions as the file IO managers do.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from etl_assets.lib.io.postgres.identifiers import TableName
from etl_assets.lib.resources.postgres import PostgresResource

LEDGER_TABLE = "_etl_partitions"


def ledger_name(target: TableName) -> TableName:
    return target.with_table(LEDGER_TABLE)


def create_ledger_statement(target: TableName) -> str:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (table_name text NOT NULL, partition_key text NOT NULL, "
        "rows bigint NOT NULL, run_id text NOT NULL, written_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (table_name, partition_key))"
    ).format(ledger_name(target).sql).as_string(None)


def record_statement(target: TableName, rows_by_key: dict[str, int], run_id: str) -> str:
    """One ``INSERT ... ON CONFLICT`` recording (or refreshing) the written partitions."""
    values = sql.SQL(", ").join(
        sql.SQL("({}, {}, {}, {})").format(
            sql.Literal(target.table), sql.Literal(key), sql.Literal(rows), sql.Literal(run_id)
        )
        for key, rows in rows_by_key.items()
    )
    return sql.SQL(
        "INSERT INTO {} (table_name, partition_key, rows, run_id) VALUES {} "
        "ON CONFLICT (table_name, partition_key) DO UPDATE SET rows = EXCLUDED.rows, "
        "run_id = EXCLUDED.run_id, written_at = now()"
    ).format(ledger_name(target).sql, values).as_string(None)


def written_partitions(pg: PostgresResource, target: TableName, keys: Sequence[str]) -> set[str]:
    """The subset of ``keys`` the ledger records as written (empty if there is no ledger)."""
    if not keys:
        return set()
    ledger = ledger_name(target)
    with pg.connection() as conn:
        exists = conn.execute(
            "SELECT to_regclass(%s)", (ledger.sql.as_string(None),)
        ).fetchone()
        if exists is None or exists[0] is None:
            return set()
        rows = conn.execute(
            sql.SQL(
                "SELECT partition_key FROM {} WHERE table_name = %s AND partition_key = ANY(%s)"
            ).format(ledger.sql),
            (target.table, list(keys)),
        ).fetchall()
    return {str(row[0]) for row in rows}
