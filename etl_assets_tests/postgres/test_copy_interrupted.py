"""A connection dropped in the middle of a COPY: the error names the table, the server and the
cause, stays classified as retryable, and nothing of the load is visible."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from etl_assets.lib.io.postgres import TableName, is_retryable, replace_table, write_partitions
from etl_assets.lib.io.postgres.errors import PostgresWriteError

pytestmark = pytest.mark.xdist_group("postgres")

ROWS = 3_000_000
DAYS = ["2024-01-01", "2024-01-02"]


def _big_table(rows: int) -> pa.Table:
    """Wide enough text that the COPY runs for a while on this machine."""
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "note": pa.array([f"row {i} with some text to send" for i in range(rows)], pa.string()),
            "_partition": pa.array([DAYS[i % 2] for i in range(rows)], pa.string()),
        }
    )


class CopyKiller(threading.Thread):
    """Terminates the backend of the first COPY it sees, from a second connection."""

    def __init__(self, pg, timeout_s: float = 60.0):
        super().__init__(daemon=True)
        self.pg, self.timeout_s, self.killed = pg, timeout_s, False

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        with self.pg.connection() as conn:
            conn.autocommit = True
            while not self.killed and time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'COPY%' "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchone()
                if row is not None:
                    self.killed = conn.execute("SELECT pg_terminate_backend(%s)", row).fetchone()[0]
                else:
                    time.sleep(0.005)


def _count(pg, table: str) -> int:
    with pg.connection() as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0


@pytest.mark.parametrize("write", ["partitions", "replace"])
def test_connection_terminated_mid_copy_names_table_server_and_cause(pg, write: str) -> None:
    target = TableName("f", f"copy_{write}")
    table = _big_table(ROWS)
    killer = CopyKiller(pg)
    killer.start()
    with pytest.raises(PostgresWriteError) as caught:
        if write == "partitions":
            write_partitions(pg, target, table, DAYS, "run-1")
        else:
            replace_table(pg, target, table.drop_columns(["_partition"]), "run-1")
    killer.join(timeout=5)
    assert killer.killed, "the COPY finished before it could be interrupted"
    message = str(caught.value)
    assert "f.copy_" + write in message or f'"f"."copy_{write}"' in message, message
    assert pg.describe() in message, message  # user@host:port/dbname
    assert "terminat" in message.lower() or "connection" in message.lower(), message
    assert "retryable" in message
    assert is_retryable(caught.value)
    assert caught.value.table == str(target) and caught.value.server == pg.describe()
    assert _count(pg, f"f.copy_{write}") == 0  # nothing of the interrupted load is visible
