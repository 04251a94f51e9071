"""PostgresIOManager against a real server: types, round trips, partitions, swap, upsert, safety."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from dagster import (
    AssetIn,
    AssetKey,
    DailyPartitionsDefinition,
    Output,
    asset,
    materialize,
)

from etl_assets.lib.io.convert import frame_to_table
from etl_assets.lib.io.postgres import (
    PostgresIOManager,
    TableName,
    UnsafeIdentifierError,
    read_table,
    replace_table,
    upsert_table,
    write_partitions,
)
from etl_assets_tests.postgres.frames import mixed_frame

pytestmark = pytest.mark.xdist_group("postgres")

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")


def _query(pg, text: str, params=()):
    with pg.connection() as conn:
        return conn.execute(text, params).fetchall()


def test_table_created_with_postgres_types(pg):
    frame = mixed_frame()
    replace_table(pg, TableName("s", "typed"), frame_to_table(frame), "run-1")
    rows = dict(
        _query(
            pg,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 's' AND table_name = 'typed'",
        )
    )
    assert rows == {
        "id": "bigint", "small": "integer", "big": "bigint", "ratio": "double precision",
        "price": "numeric", "flag": "boolean", "name": "text", "kind": "text",
        "at_utc": "timestamp with time zone", "at_local": "timestamp with time zone",
        "naive": "timestamp without time zone", "date_only": "date", "_run_id": "text",
    }  # fmt: skip
    precision = _query(
        pg,
        "SELECT numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'typed' AND column_name = 'price'",
    )
    assert precision == [(12, 2)]
    assert _query(pg, "SELECT DISTINCT _run_id FROM s.typed") == [("run-1",)]


@pytest.mark.parametrize("column", list(mixed_frame().columns))
def test_round_trip_per_dtype(pg, column):
    frame = mixed_frame(40)[[column]]
    target = TableName("rt", f"c_{column}")
    replace_table(pg, target, frame_to_table(frame), "run")
    back = read_table(pg, target)
    pd.testing.assert_frame_equal(back, frame)


def test_partitioned_asset_writes_and_reads_slices(pg):
    calls: list[str] = []

    @asset(key=["shop", "clean", "orders"], partitions_def=DAYS, io_manager_key="io")
    def orders(context) -> pd.DataFrame:
        keys = context.partition_keys
        calls.append(",".join(keys))
        return pd.concat(
            [mixed_frame(3 + i, partition=k) for i, k in enumerate(keys)], ignore_index=True
        )

    @asset(
        key=["shop", "agg", "n"],
        partitions_def=DAYS,
        ins={"orders": AssetIn(key=AssetKey(["shop", "clean", "orders"]))},
        io_manager_key="io",
    )
    def n(orders: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {"rows": [len(orders)], "parts": [",".join(sorted(set(orders["_partition"])))]}
        )

    io = PostgresIOManager(postgres=pg)
    result = materialize([orders], partition_key="2024-01-02", resources={"io": io})
    assert result.success
    mat = result.asset_materializations_for_node("shop__clean__orders")[0]
    assert mat.metadata["dagster/table_name"].value == "shop.clean_orders"
    assert mat.metadata["dagster/row_count"].value == 3
    assert mat.metadata["rows_written"].value == 3
    # a range run: one frame for three partitions, then a downstream load of one of them
    result = materialize(
        [orders], resources={"io": io},
        tags={"dagster/asset_partition_range_start": "2024-01-02", "dagster/asset_partition_range_end": "2024-01-04"},
    )  # fmt: skip
    assert result.success
    range_mat = result.asset_materializations_for_node("shop__clean__orders")[0]
    assert range_mat.metadata["rows_by_partition"].value == {
        "2024-01-02": 3,
        "2024-01-03": 4,
        "2024-01-04": 5,
    }
    counts = dict(_query(pg, "SELECT _partition, count(*) FROM shop.clean_orders GROUP BY 1"))
    assert counts == {"2024-01-02": 3, "2024-01-03": 4, "2024-01-04": 5}
    result = materialize(
        [orders, n], partition_key="2024-01-03", resources={"io": io}, selection=[n]
    )
    assert result.success
    out = read_table(pg, TableName("shop", "agg_n"), ["2024-01-03"])
    assert out["rows"].tolist() == [4] and out["parts"].tolist() == ["2024-01-03"]


def test_partition_replace_keeps_other_partitions_and_round_trips(pg):
    target = TableName("p", "t")
    day1, day2 = mixed_frame(5, "2024-01-01"), mixed_frame(7, "2024-01-02")
    write_partitions(pg, target, frame_to_table(day1), ["2024-01-01"], "r1")
    write_partitions(pg, target, frame_to_table(day2), ["2024-01-02"], "r2")
    write_partitions(pg, target, frame_to_table(mixed_frame(2, "2024-01-01")), ["2024-01-01"], "r3")
    assert dict(_query(pg, "SELECT _partition, count(*) FROM p.t GROUP BY 1")) == {
        "2024-01-01": 2,
        "2024-01-02": 7,
    }
    assert dict(_query(pg, "SELECT _partition, min(_run_id) FROM p.t GROUP BY 1")) == {
        "2024-01-01": "r3",
        "2024-01-02": "r2",
    }
    back = read_table(pg, target, ["2024-01-02"])
    pd.testing.assert_frame_equal(back, day2)
    both = read_table(pg, target, ["2024-01-02", "2024-01-01"])
    assert both["_partition"].tolist() == ["2024-01-02"] * 7 + ["2024-01-01"] * 2


def test_unpartitioned_swap_replaces_whole_table(pg):
    target = TableName("u", "t")
    replace_table(pg, target, frame_to_table(mixed_frame(10)), "r1")
    replace_table(pg, target, frame_to_table(mixed_frame(4)), "r2")
    assert _query(pg, "SELECT count(*), min(_run_id) FROM u.t") == [(4, "r2")]
    assert _query(
        pg, "SELECT count(*) FROM pg_tables WHERE tablename LIKE %s", ("_etl_stage_%",)
    ) == [(0,)]


def test_upsert_by_primary_key(pg):
    target = TableName("u", "customers")
    first = pd.DataFrame({"customer_id": [1, 2], "country": pd.array(["DE", "FR"], dtype="str")})
    second = pd.DataFrame({"customer_id": [2, 3], "country": pd.array(["NL", "IT"], dtype="str")})
    upsert_table(pg, target, frame_to_table(first), "r1", ["customer_id"])
    upsert_table(pg, target, frame_to_table(second), "r2", ["customer_id"])
    assert _query(pg, "SELECT customer_id, country, _run_id FROM u.customers ORDER BY 1") == [
        (1, "DE", "r1"), (2, "NL", "r2"), (3, "IT", "r2"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="repeat in the frame"):
        upsert_table(pg, target, frame_to_table(pd.concat([second, second])), "r3", ["customer_id"])
    counts = TableName("u", "counts")
    upsert_table(
        pg,
        counts,
        frame_to_table(pd.DataFrame({"k": [1], "n": pd.array([5], dtype="Int64")})),
        "r1",
        ["k"],
    )
    unknown = pd.DataFrame({"k": [2], "n": [None]})  # all-null object column: no type of its own
    upsert_table(pg, counts, frame_to_table(unknown), "r2", ["k"])
    assert _query(pg, "SELECT k, n FROM u.counts ORDER BY k") == [(1, 5), (2, None)]


def test_upsert_into_a_table_without_that_key_is_refused(pg):
    target = TableName("u", "nokey")
    frame = pd.DataFrame({"customer_id": [1, 2], "v": [1.0, 2.0]})
    replace_table(pg, target, frame_to_table(frame), "r1")
    with pytest.raises(ValueError, match=r"no primary key or unique index on \(customer_id\)"):
        upsert_table(pg, target, frame_to_table(frame), "r2", ["customer_id"])


def test_upsert_through_asset_metadata(pg):
    @asset(key=["c"], io_manager_key="io", metadata={"primary_key": ["customer_id"]})
    def c() -> pd.DataFrame:
        return pd.DataFrame({"customer_id": [1, 2], "v": [1.0, 2.0]})

    io = PostgresIOManager(postgres=pg, schema_name="crm")
    assert materialize([c], resources={"io": io}).success
    assert materialize([c], resources={"io": io}).success
    assert _query(pg, "SELECT count(*) FROM crm.c") == [(2,)]
    keys = _query(
        pg,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'crm.c'::regclass AND i.indisprimary",
    )
    assert keys == [("customer_id",)]


@pytest.mark.parametrize(
    ("schema", "table", "message"),
    [
        ("public", "orders; DROP TABLE x", "table name"),
        ('public"', "orders", "schema name"),
        ("public", "x" * 64, "at most 63"),
    ],
)
def test_injected_names_are_refused(pg, schema, table, message):
    with pytest.raises(UnsafeIdentifierError, match=message):
        replace_table(pg, TableName(schema, table), frame_to_table(mixed_frame(2)), "r")


def test_injected_column_and_partition_key_refused(pg):
    bad_column = pd.DataFrame({'a"; DROP TABLE t; --': [1]})
    with pytest.raises(UnsafeIdentifierError, match="column name"):
        replace_table(pg, TableName("public", "t"), frame_to_table(bad_column), "r")
    key = "2024-01-01'; DELETE FROM p.t; --"
    frame = mixed_frame(2, key)
    with pytest.raises(UnsafeIdentifierError, match="partition key"):
        write_partitions(pg, TableName("public", "t"), frame_to_table(frame), [key], "r")
    with pytest.raises(UnsafeIdentifierError, match="partition key"):
        read_table(pg, TableName("public", "t"), [key])


def test_injected_table_metadata_refused_in_asset(pg):
    @asset(key=["x"], io_manager_key="io", metadata={"table": "x; DROP SCHEMA public CASCADE"})
    def x() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    result = materialize(
        [x], resources={"io": PostgresIOManager(postgres=pg)}, raise_on_error=False
    )
    assert not result.success
    error = result.failure_data_for_node("x").error
    assert "not allowed" in str(error.cause or error) or "not allowed" in error.to_string()
    assert _query(
        pg, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'public'"
    ) == [(1,)]


def test_partitioned_layout_change_is_refused(pg):
    target = TableName("p", "layout")
    write_partitions(pg, target, frame_to_table(mixed_frame(2, "2024-01-01")), ["2024-01-01"], "r1")
    other = mixed_frame(2, "2024-01-02").drop(columns=["ratio"])
    with pytest.raises(ValueError, match="has columns"):
        write_partitions(pg, target, frame_to_table(other), ["2024-01-02"], "r2")


def test_partition_with_an_all_null_column_keeps_the_stored_type(pg):
    target = TableName("p", "nulls")
    day1 = pd.DataFrame({"x": pd.array([1, 2], dtype="Int64"), "_partition": ["2024-01-01"] * 2})
    day2 = pd.DataFrame({"x": [None, None], "_partition": ["2024-01-02"] * 2})
    write_partitions(pg, target, frame_to_table(day1), ["2024-01-01"], "r1")
    write_partitions(pg, target, frame_to_table(day2), ["2024-01-02"], "r2")
    back = read_table(pg, target, ["2024-01-02"])
    assert str(back["x"].dtype) == "Int64" and back["x"].isna().all()
    pd.testing.assert_frame_equal(
        read_table(pg, target, ["2024-01-01"]), day1.astype({"_partition": "str"})
    )


def test_output_that_is_not_a_frame_is_refused(pg):
    @asset(key=["y"], io_manager_key="io")
    def y():
        return Output([1, 2])

    result = materialize(
        [y], resources={"io": PostgresIOManager(postgres=pg)}, raise_on_error=False
    )
    assert not result.success


def test_unsupported_type_names_column(pg):
    frame = pd.DataFrame({"span": pd.to_timedelta([1, 2], unit="s")})
    with pytest.raises(TypeError, match="'span'"):
        replace_table(pg, TableName("public", "t"), frame_to_table(frame), "r")
    assert pa  # pyarrow used by frames
