"""Category columns stored per partition depend on the partition's rows only (issue 10), and
loading several partitions gives one deterministic set of categories."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from upath import UPath

from etl_assets.lib.io.convert import concat_tables, frame_to_table, table_to_frame
from etl_assets.lib.io.dictionaries import compact_dictionaries, index_type_for
from etl_assets.lib.io.formats import FORMATS
from etl_assets.lib.io.partitions import split_by_partition
from etl_assets.lib.io.storage import read_frame, write_table
from etl_assets.lib.spec import PARTITION_COLUMN

KEYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def frame(partitions: list[str], values: list[str | None], categories: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            PARTITION_COLUMN: pd.array(partitions, dtype="str"),
            "n": range(len(partitions)),
            "c": pd.Categorical(values, categories=categories),
        }
    )


def test_split_keeps_only_each_partitions_categories_when_they_are_sorted() -> None:
    source = frame(
        ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"],
        ["z", "a", "m", None],
        ["a", "m", "q", "z"],
    )
    parts = split_by_partition(frame_to_table(source), KEYS, "t/daily")
    day1, day2, day3 = (table_to_frame(parts[k]) for k in KEYS)
    assert list(day1["c"].cat.categories) == ["m", "z"]
    assert list(day2["c"].cat.categories) == ["a"]
    assert list(day3["c"].cat.categories) == [] and len(day3) == 0
    assert day1["c"].tolist() == ["z", "m"]
    assert day2["c"].isna().tolist() == [False, True]


def test_split_stores_a_declared_order_whole() -> None:
    """Categories in an order other than sorted were declared: every part keeps them all."""
    declared = pd.CategoricalDtype(["z", "q", "m", "a"])
    source = frame(KEYS[:2], ["z", "a"], list(declared.categories))
    parts = split_by_partition(frame_to_table(source), KEYS, "t/daily")
    for key in KEYS:
        assert table_to_frame(parts[key])["c"].dtype == declared
    loaded = table_to_frame(concat_tables([parts[k] for k in KEYS], KEYS))
    assert loaded["c"].dtype == declared and loaded["c"].tolist() == ["z", "a"]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_day_split_from_a_range_equals_the_day_stored_alone(tmp_path, fmt: str) -> None:
    """Same rows, categories inferred from a run of one day or of three: the same table, schema
    metadata included, and the same frame after a round trip through each file format."""
    run = frame(KEYS * 2, ["b", "a", "c", "a", "b", "d"], ["a", "b", "c", "d"])
    day = run[run[PARTITION_COLUMN] == KEYS[1]].reset_index(drop=True)
    day = day.assign(c=day["c"].astype(pd.CategoricalDtype(sorted(set(day["c"])))))
    from_range = split_by_partition(frame_to_table(run), KEYS, "t/daily")[KEYS[1]]
    alone = split_by_partition(frame_to_table(day), [KEYS[1]], "t/daily")[KEYS[1]]
    assert from_range.equals(alone, check_metadata=True)
    expected = table_to_frame(alone)
    assert list(expected["c"].cat.categories) == ["a", "b"]
    fmt_impl = FORMATS[fmt]
    for name, table in (("range", from_range), ("alone", alone)):
        path = UPath(tmp_path / f"{name}.{fmt}")
        write_table(fmt_impl, table, path)
        pd.testing.assert_frame_equal(read_frame(fmt_impl, path), expected, check_exact=True)


def test_compaction_is_zero_copy_when_every_category_is_used() -> None:
    table = frame_to_table(frame(KEYS[:2], ["a", "b"], ["a", "b"]))
    compacted, changed = compact_dictionaries(table, ["c"])
    assert compacted is table and changed == []


def test_compaction_picks_pandas_index_type_for_the_kept_categories() -> None:
    many = [f"v{i:03d}" for i in range(300)]
    table = frame_to_table(frame(KEYS[:2], ["v007", "v123"], many))
    assert table.schema.field("c").type.index_type == pa.int16()
    compacted, changed = compact_dictionaries(table, ["c"])
    assert changed == ["c"]
    assert compacted.schema.field("c").type.index_type == index_type_for(2) == pa.int8()
    small = frame(KEYS[:2], ["v007", "v123"], ["v007", "v123"])
    assert compacted.equals(frame_to_table(small).select(compacted.column_names))


def test_loading_sorted_partitions_gives_their_sorted_union() -> None:
    parts = split_by_partition(
        frame_to_table(frame(KEYS, ["d", "b", "a"], ["a", "b", "d"])), KEYS, "t/daily"
    )
    # stored in key order; whichever order the parts are combined, the categories are sorted
    for order in (KEYS, KEYS[::-1]):
        loaded = table_to_frame(concat_tables([parts[k] for k in order], order))
        assert list(loaded["c"].cat.categories) == ["a", "b", "d"]
        assert loaded.set_index(PARTITION_COLUMN).loc[KEYS[0], "c"] == "d"


def test_loading_files_with_unsorted_different_dictionaries_gives_first_appearance_union() -> None:
    """Files not written by this split (e.g. by an older version): a deterministic union."""
    tables = [
        frame_to_table(frame([key], [value], categories))
        for key, value, categories in zip(
            KEYS, ["z", "y", "y"], [["z", "x"], ["y", "x"], ["z", "y"]], strict=True
        )
    ]
    loaded = table_to_frame(concat_tables(tables, KEYS))
    assert list(loaded["c"].cat.categories) == ["z", "x", "y"]
    assert loaded["c"].tolist() == ["z", "y", "y"]
