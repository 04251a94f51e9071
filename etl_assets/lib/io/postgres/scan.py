"""Reading a whole table into Arrow, split over several connections that share one snapshot.

Why: the ADBC driver decodes COPY binary on one core, and that decode (not the server) is
what bounds a large read. Splitting the heap into ``ctid`` block ranges read on ``n``
connections in parallel lets the decode run on several cores. Correctness rests on two
things:

- one snapshot: the first connection opens a REPEATABLE READ transaction and exports its
  snapshot (``pg_export_snapshot()``); every other connection imports it with
  ``SET TRANSACTION SNAPSHOT`` before its first query, so all ranges see the same committed
  state, whatever is written meanwhile;
- the same order as one scan: ranges are contiguous block ranges, concatenated in block order,
  and a TID range scan returns rows in ``ctid`` order as a sequential scan does.

Small tables (below ``min_bytes`` of heap) and ``connections == 1`` keep the single query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# below this heap size a second connection costs more (connect + snapshot) than it saves
SPLIT_MIN_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Scan:
    table: pa.Table
    connections: int


def _fetch(cursor: Any, query: str) -> pa.Table:
    cursor.execute(query)
    return cursor.fetch_arrow_table()


def _ranges(blocks: int, parts: int) -> list[tuple[int, int | None]]:
    """``parts`` contiguous block ranges covering ``[0, blocks)``; the last is open-ended."""
    step = -(-blocks // parts)
    bounds = [min(i * step, blocks) for i in range(parts)]
    return [(start, bounds[i + 1] if i + 1 < parts else None) for i, start in enumerate(bounds)]


def _ctid_where(start: int, end: int | None) -> str:
    where = f" WHERE ctid >= '({start},0)'::tid"
    return where + (f" AND ctid < '({end},0)'::tid" if end is not None else "")


def scan_table(
    conn: Any,
    open_connection: Callable[[], Any],
    select: str,
    regclass: str,
    connections: int = 2,
    min_bytes: int = SPLIT_MIN_BYTES,
    after_snapshot: Callable[[], None] | None = None,
) -> Scan:
    """Run ``select`` (``SELECT ... FROM table`` with no WHERE) and return its rows as Arrow.

    ``conn`` is an open ADBC connection (it reads the first range); ``open_connection`` is a
    context-manager factory of more (the resource's ``adbc_connection``). ``after_snapshot``
    is called once the snapshot is taken and before the other connections import it (tests
    use it to commit a write in between).
    """
    cursor = conn.cursor()
    conn.rollback()  # a fresh transaction: isolation must be set before its first query
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    size_query = (
        "SELECT pg_relation_size(c.oid), "
        "(pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint, "
        "c.relkind::text FROM pg_class c WHERE c.oid = $1::regclass"
    )
    cursor.execute(size_query, parameters=(regclass,))
    size, blocks, kind = cursor.fetchall()[0]
    if connections < 2 or kind != "r" or size < max(min_bytes, 1) or blocks < connections:
        table = _fetch(cursor, select)
        conn.rollback()
        return Scan(table, 1)
    cursor.execute("SELECT pg_export_snapshot()")
    snapshot = str(cursor.fetchall()[0][0])
    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):  # it is spliced into SQL below
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    if after_snapshot is not None:
        after_snapshot()
    ranges = _ranges(int(blocks), connections)

    def read_range(index: int) -> pa.Table:
        start, end = ranges[index]
        with open_connection() as other:
            other_cursor = other.cursor()
            other.rollback()
            other_cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            other_cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            table = _fetch(other_cursor, select + _ctid_where(start, end))
            other.rollback()
        return table

    with ThreadPoolExecutor(max_workers=connections - 1) as pool:
        # the exporting transaction must stay open until every import is done
        others = [pool.submit(read_range, i) for i in range(1, connections)]
        first = _fetch(cursor, select + _ctid_where(*ranges[0]))
        tables = [first, *(f.result() for f in others)]
    conn.rollback()
    return Scan(pa.concat_tables(tables), connections)
