"""Splitting a range-run frame by ``_partition``; which key parts may become paths; metadata types."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.lib.io import UnsafePathError, table_schema
from etl_assets.lib.io.convert import frame_to_table
from etl_assets.lib.io.partitions import split_by_partition
from etl_assets.lib.io.paths import check_asset_key_parts, check_partition_key
from etl_assets.lib.spec import PARTITION_COLUMN

KEYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def table(partitions: list[str | None], **extra: list) -> pa.Table:
    frame = pd.DataFrame(
        {PARTITION_COLUMN: pd.array(partitions, dtype="str"), "v": range(len(partitions)), **extra}
    )
    return frame_to_table(frame)


def test_split_interleaved_rows_keeps_row_order_and_gives_every_key_a_table() -> None:
    parts = split_by_partition(table(["2024-01-02", "2024-01-01", "2024-01-02"]), KEYS, "t/daily")
    assert list(parts) == KEYS
    assert parts["2024-01-01"]["v"].to_pylist() == [1]
    assert parts["2024-01-02"]["v"].to_pylist() == [0, 2]
    assert (
        parts["2024-01-03"].num_rows == 0
        and parts["2024-01-03"].schema == parts["2024-01-01"].schema
    )


def test_split_grouped_rows_is_zero_copy_slicing() -> None:
    source = table(["2024-01-01", "2024-01-01", "2024-01-03"])
    parts = split_by_partition(source, KEYS, "t/daily")
    assert parts["2024-01-01"]["v"].to_pylist() == [0, 1] and parts["2024-01-03"][
        "v"
    ].to_pylist() == [2]
    assert (
        parts["2024-01-01"].column("v").chunk(0).buffers()[1].address
        == source.column("v").chunk(0).buffers()[1].address
    )


def test_split_categorical_partition_column() -> None:
    source = frame_to_table(
        pd.DataFrame({PARTITION_COLUMN: pd.Categorical(["2024-01-02", "2024-01-01"]), "v": [1, 2]})
    )
    parts = split_by_partition(source, KEYS, "t/daily")
    assert parts["2024-01-02"]["v"].to_pylist() == [1]


def test_rows_outside_the_run_are_named() -> None:
    with pytest.raises(
        ValueError,
        match=r"t/daily: rows for partitions outside this run: 2023-12-31, 2024-02-01; the run covers 3",
    ):
        split_by_partition(table(["2024-02-01", "2024-01-01", "2023-12-31"]), KEYS, "t/daily")


def test_many_stray_partitions_are_summarised() -> None:
    stray = [f"2025-01-{d:02d}" for d in range(1, 11)]
    with pytest.raises(ValueError, match=r"2025-01-05 \(\+5 more\)"):
        split_by_partition(table(stray), KEYS, "t/daily")


def test_null_partition_is_an_error() -> None:
    with pytest.raises(ValueError, match="1 row\\(s\\) have a null '_partition'"):
        split_by_partition(table(["2024-01-01", None]), KEYS, "t/daily")


def test_missing_partition_column() -> None:
    plain = pa.table({"v": [1, 2]})
    with pytest.raises(ValueError, match=r"covering 3 partitions .* needs a '_partition' column"):
        split_by_partition(plain, KEYS, "t/daily")
    (only,) = split_by_partition(plain, KEYS[:1], "t/daily").values()
    assert only[PARTITION_COLUMN].to_pylist() == [KEYS[0], KEYS[0]]


@pytest.mark.parametrize("part", ["ok", "with.dot", "a-b_C9", "v1.2"])
def test_safe_asset_key_parts(part: str) -> None:
    assert check_asset_key_parts(["p", part], "p/x") == ["p", part]


@pytest.mark.parametrize("part", ["..", ".", "a..b", "a/b", "a b", "", "ü", "a\\b", "~"])
def test_unsafe_asset_key_parts(part: str) -> None:
    with pytest.raises(UnsafePathError, match="not safe as a path segment"):
        check_asset_key_parts(["p", part], "p/x")


@pytest.mark.parametrize(
    "key", ["2024-01-01", "2024-01-01|eu", "eu/2024-01-01", "with space", "a.b"]
)
def test_safe_partition_keys(key: str) -> None:
    assert check_partition_key(key) == key


@pytest.mark.parametrize("key", ["..", "a/../b", ".", "", "a//b", "back\\slash", "tab\t", "/abs"])
def test_unsafe_partition_keys(key: str) -> None:
    with pytest.raises(UnsafePathError):
        check_partition_key(key)


def test_table_schema_type_names() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1], dtype="Int64"),
            "n": np.array([1], dtype=np.int64),
            "f": [1.0],
            "b": pd.array([True], dtype="boolean"),
            "s": pd.array(["x"], dtype="str"),
            "c": pd.Categorical(["x"]),
            "t": pd.to_datetime(["2024-01-01"], utc=True).as_unit("us"),
            "naive": pd.to_datetime(["2024-01-01"]).as_unit("ns"),
            "d": pd.array([pd.Timestamp("2024-01-01").date()], dtype=pd.ArrowDtype(pa.date32())),
            "dec": pd.array([decimal.Decimal("1.50")], dtype=pd.ArrowDtype(pa.decimal128(12, 2))),
            "o_str": pd.Series(["x"], dtype=object),
            "o_null": pd.Series([None], dtype=object),
        }
    )
    types = {c.name: c.type for c in table_schema(frame).columns}
    assert types == {
        "i": "int64",
        "n": "int64",
        "f": "float64",
        "b": "bool",
        "s": "string",
        "c": "category",
        "t": "timestamp[us, tz=UTC]",
        "naive": "timestamp[ns]",
        "d": "date32",
        "dec": "decimal128(12, 2)",
        "o_str": "string",
        "o_null": "null",
    }
