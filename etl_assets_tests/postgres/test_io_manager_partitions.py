"""PostgresIOManager partitions: all-null columns in either order, the ledger of written
partitions (missing ones refused like the file IO managers), per-partition row counts."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import (
    AssetIn,
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    asset,
    materialize,
)

from etl_assets.lib.io.convert import frame_to_table
from etl_assets.lib.io.postgres import (
    PostgresIOManager,
    TableName,
    TableNotFoundError,
    read_table,
    write_partitions,
)

pytestmark = pytest.mark.xdist_group("postgres")

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")


def _query(pg, text: str, params=()):
    with pg.connection() as conn:
        return conn.execute(text, params).fetchall()


def _day(values, day: str, dtype) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": pd.array(values, dtype=dtype), "_partition": pd.array([day] * len(values), "str")}
    )


@pytest.mark.parametrize("dtype", ["Int64", "float64", "str", "boolean"])
def test_first_partition_all_null_then_typed(pg, dtype):
    target = TableName("p", f"nulls_first_{dtype.lower()}")
    empty = pd.DataFrame({"x": [None, None], "_partition": ["2024-01-01"] * 2})
    typed = _day([1, 0] if dtype != "str" else ["a", "b"], "2024-01-02", dtype)
    write_partitions(pg, target, frame_to_table(empty), ["2024-01-01"], "r1")
    write_partitions(pg, target, frame_to_table(typed), ["2024-01-02"], "r2")
    kinds = dict(
        _query(
            pg,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'p' AND table_name = %s",
            (target.table,),
        )
    )
    expected = {"Int64": "bigint", "float64": "double precision", "str": "text", "boolean": "boolean"}
    assert kinds["x"] == expected[dtype]
    pd.testing.assert_frame_equal(read_table(pg, target, ["2024-01-02"]), typed)
    first = read_table(pg, target, ["2024-01-01"])
    assert str(first["x"].dtype) == str(typed["x"].dtype) and first["x"].isna().all()
    # and back again: a later all-null partition takes the (now typed) stored type
    write_partitions(pg, target, frame_to_table(empty.assign(_partition="2024-01-03")), ["2024-01-03"], "r3")
    assert str(read_table(pg, target, ["2024-01-03"])["x"].dtype) == str(typed["x"].dtype)


def test_typed_first_then_all_null(pg):
    target = TableName("p", "typed_first")
    typed = _day([1, 2], "2024-01-01", "Int64")
    write_partitions(pg, target, frame_to_table(typed), ["2024-01-01"], "r1")
    write_partitions(
        pg, target, frame_to_table(pd.DataFrame({"x": [None], "_partition": ["2024-01-02"]})),
        ["2024-01-02"], "r2",
    )  # fmt: skip
    both = read_table(pg, target, ["2024-01-01", "2024-01-02"])
    assert str(both["x"].dtype) == "Int64" and both["x"].isna().tolist() == [False, False, True]


def _assets(allow_missing: bool):
    @asset(key=["shop", "clean", "orders"], partitions_def=DAYS, io_manager_key="io")
    def orders(context) -> pd.DataFrame:
        rows = {"2024-01-01": 2, "2024-01-02": 0, "2024-01-03": 3}
        return pd.concat(
            [_day(list(range(rows.get(k, 1))), k, "Int64") for k in context.partition_keys],
            ignore_index=True,
        )

    @asset(
        key=["shop", "agg", "n"],
        ins={
            "orders": AssetIn(
                key=AssetKey(["shop", "clean", "orders"]),
                metadata={"allow_missing_partitions": allow_missing},
            )
        },
        io_manager_key="io",
    )
    def n(orders: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"rows": [len(orders)]})

    return orders, n


def test_missing_partitions_are_refused_unless_allowed(pg):
    io = PostgresIOManager(postgres=pg)
    orders, n = _assets(allow_missing=False)
    for day in ("2024-01-01", "2024-01-02"):  # 2024-01-02 is written with no rows
        assert materialize([orders], partition_key=day, resources={"io": io}).success
    result = materialize([orders, n], selection=[n], resources={"io": io}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    while error.cause is not None and "not materialized" not in error.message:
        error = error.cause
    assert error.cls_name == "TableNotFoundError"
    assert "3 of 5 partition(s) not materialized in shop.clean_orders: 2024-01-03, 2024-01-04, 2024-01-05" in error.message
    # the ledger knows 2024-01-02 was written empty: only never-written keys are missing
    orders_ok, n_ok = _assets(allow_missing=True)
    result = materialize([orders_ok, n_ok], selection=[n_ok], resources={"io": io})
    assert result.success
    assert read_table(pg, TableName("shop", "agg_n"))["rows"].tolist() == [2]
    assert _query(
        pg, "SELECT partition_key, rows FROM shop._etl_partitions ORDER BY 1"
    ) == [("2024-01-01", 2), ("2024-01-02", 0)]


def test_range_run_records_each_partitions_own_row_count(pg, tmp_path):
    io = PostgresIOManager(postgres=pg)
    orders, _ = _assets(allow_missing=False)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [orders], resources={"io": io}, instance=instance,
            tags={"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-01-03"},
        )  # fmt: skip
        assert result.success
        by_partition = {
            m.partition: m.metadata["dagster/row_count"].value
            for m in result.asset_materializations_for_node("shop__clean__orders")
        }
    assert by_partition == {"2024-01-01": 2, "2024-01-02": 0, "2024-01-03": 3}


def test_never_built_table_is_a_file_not_found_error(pg):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_table(pg, TableName("nowhere", "t"))
    assert issubclass(TableNotFoundError, LookupError)
