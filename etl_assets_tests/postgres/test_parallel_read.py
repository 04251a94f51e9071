"""Whole-table reads split over several connections (``scan``): same frame, one snapshot."""

from __future__ import annotations

import contextlib
import decimal

import pandas as pd
import pyarrow as pa
import pytest
from dagster import AssetIn, AssetKey, asset, materialize
from pydantic import PrivateAttr

from etl_assets.lib.io.convert import frame_to_table
from etl_assets.lib.io.postgres import PostgresIOManager, TableName, read_table, replace_table
from etl_assets.lib.io.postgres.reader import read_arrow
from etl_assets.lib.io.postgres.scan import _ranges
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets_tests.postgres.frames import mixed_frame

pytestmark = pytest.mark.xdist_group("postgres")

ROWS = 20_000  # ~40 heap blocks: enough for every connection to get several
TARGET = TableName("s", "wide")


def _frame(n: int = ROWS) -> pd.DataFrame:
    frame = mixed_frame(n)
    ids = range(n)
    frame["wide_price"] = pd.array(  # precision past float64's 15-17 digits, negatives
        [decimal.Decimal(f"-{i}12345678901234567.0123456789") if i % 3 else None for i in ids],
        dtype=pd.ArrowDtype(pa.decimal128(38, 10)),
    )
    frame["unsigned"] = pd.array([2**64 - 1 - i for i in ids], dtype="UInt64")
    return frame


def _stored(pg: PostgresResource, frame: pd.DataFrame) -> pd.DataFrame:
    replace_table(pg, TARGET, frame_to_table(frame), "run-1")
    return frame


def _sql(pg: PostgresResource, text: str) -> None:
    with pg.connection() as conn:
        conn.execute(text)
        conn.commit()


def test_ranges_cover_every_block_once():
    assert _ranges(10, 2) == [(0, 5), (5, None)]
    assert _ranges(10, 3) == [(0, 4), (4, 8), (8, None)]
    assert _ranges(3, 3) == [(0, 1), (1, 2), (2, None)]


@pytest.mark.parametrize("connections", [2, 3])
def test_parallel_read_is_the_single_read(pg, connections):
    frame = _stored(pg, _frame())
    # move some rows to the heap's end, so the order read is ctid order, not id order
    _sql(pg, "UPDATE s.wide SET small = small WHERE id % 97 = 0")
    single, _, used_single = read_arrow(pg, TARGET, read_connections=1, split_min_bytes=0)
    split, _, used_split = read_arrow(pg, TARGET, read_connections=connections, split_min_bytes=0)
    assert (used_single, used_split) == (1, connections)
    assert split.equals(single)
    one = read_table(pg, TARGET, read_connections=1)
    many = read_table(pg, TARGET, read_connections=connections, split_min_bytes=0)
    pd.testing.assert_frame_equal(many, one)
    assert list(many["id"]) != sorted(many["id"])  # the update did reorder the heap
    expected = frame.set_index("id").loc[many["id"]].reset_index()
    pd.testing.assert_frame_equal(many, expected)
    assert many["wide_price"].dtype == pd.ArrowDtype(pa.decimal128(38, 10))
    one_row = many[many["id"] == 1]
    assert one_row["wide_price"].item() == decimal.Decimal("-112345678901234567.0123456789")
    assert one_row["unsigned"].item() == 2**64 - 2
    assert str(many["at_local"].dtype) == "datetime64[us, America/New_York]"


def test_single_read_of_the_split_table_is_the_frame_written(pg):
    frame = _stored(pg, _frame())
    pd.testing.assert_frame_equal(read_table(pg, TARGET, split_min_bytes=0), frame)


def test_write_during_the_read_is_not_seen(pg):
    frame = _stored(pg, _frame())
    writes: list[str] = []

    def write() -> None:  # committed after the snapshot, before the other connections start
        _sql(pg, "DELETE FROM s.wide WHERE id >= 15000")
        _sql(pg, "UPDATE s.wide SET name = 'changed' WHERE id < 100")
        _sql(pg, "INSERT INTO s.wide SELECT * FROM s.wide WHERE id < 50")
        writes.append("done")

    table, _, used = read_arrow(
        pg, TARGET, read_connections=2, split_min_bytes=0, after_snapshot=write
    )
    assert writes == ["done"] and used == 2
    assert table.num_rows == ROWS
    assert table.column("id").to_pylist() == list(range(ROWS))
    assert "changed" not in table.column("name").to_pylist()
    after = read_table(pg, TARGET, split_min_bytes=0)
    assert len(after) == 15_000 + 50 and (after["name"] == "changed").sum() == 150
    pd.testing.assert_frame_equal(read_table(pg, TARGET, read_connections=1), after)
    assert len(frame) == ROWS


class CountingResource(PostgresResource):
    """The real resource, counting the ADBC connections it opens."""

    _opened: list[int] = PrivateAttr(default_factory=list)

    @contextlib.contextmanager
    def adbc_connection(self):
        self._opened.append(1)
        with super().adbc_connection() as conn:
            yield conn


def _counting(pg: PostgresResource) -> CountingResource:
    return CountingResource(
        host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname, sslmode="disable"
    )


def test_read_connections_one_uses_one_connection(pg):
    frame = _stored(pg, _frame())
    counting = _counting(pg)
    called: list[int] = []
    table, _, used = read_arrow(
        counting,
        TARGET,
        read_connections=1,
        split_min_bytes=0,
        after_snapshot=lambda: called.append(1),
    )
    assert (used, len(counting._opened), called, table.num_rows) == (1, 1, [], len(frame))
    read_table(counting, TARGET, read_connections=2, split_min_bytes=0)
    assert len(counting._opened) == 3  # one more read, on two connections


def test_small_table_keeps_one_query(pg):
    _stored(pg, _frame(100))
    _, _, used = read_arrow(pg, TARGET, read_connections=2)  # default threshold: 32 MB
    assert used == 1


@pytest.mark.parametrize("connections", [1, 2])
def test_io_manager_read_connections_config(pg, connections):
    frame = _frame(500)
    seen: list[pd.DataFrame] = []

    @asset(key=["p", "raw", "wide"], io_manager_key="io")
    def wide() -> pd.DataFrame:
        return frame

    @asset(key=["p", "agg", "n"], ins={"wide": AssetIn(key=AssetKey(["p", "raw", "wide"]))})
    def n(wide: pd.DataFrame) -> int:
        seen.append(wide)
        return len(wide)

    io = PostgresIOManager(postgres=pg, read_connections=connections)
    assert materialize([wide, n], resources={"io": io}).success
    pd.testing.assert_frame_equal(seen[0], frame)
    with pytest.raises(ValueError, match="read_connections"):
        PostgresIOManager(postgres=pg, read_connections=0)
    assert PostgresIOManager(postgres=pg).read_connections == 2


def test_partition_keys_read_as_quoted_literals(pg):
    from etl_assets.lib.io.postgres import UnsafeIdentifierError, write_partitions

    keys = ["2024-01-01 10:00+01|a.b_c", "z: 1", "a"]
    frame = pd.concat([mixed_frame(3 + i, partition=k) for i, k in enumerate(keys)])
    frame = frame.reset_index(drop=True)
    write_partitions(pg, TableName("s", "parts"), frame_to_table(frame), keys, "run-1")
    got = read_table(pg, TableName("s", "parts"), ["z: 1", "2024-01-01 10:00+01|a.b_c"])
    assert list(got["_partition"].unique()) == ["z: 1", "2024-01-01 10:00+01|a.b_c"]
    assert len(got) == 4 + 3
    with pytest.raises(UnsafeIdentifierError):
        read_table(pg, TableName("s", "parts"), ["a' OR '1'='1"])
