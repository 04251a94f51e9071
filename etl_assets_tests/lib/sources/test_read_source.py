"""read_source: several files, partitions, and the data root as a boundary."""

from __future__ import annotations

import pytest

from etl_assets.lib.paths import PathOutsideRootError, SourceFileNotFoundError
from etl_assets.lib.sources import (
    PartitionFileNotFoundError,
    SourceError,
    SourceNotFoundError,
    SourcePathError,
    read_source,
)
from etl_assets_tests.lib.sources.conftest import make_spec


def test_glob_reads_files_in_path_order_with_union_of_columns(root, write):
    write("landing/b.csv", "id,extra\n3,x\n")
    write("landing/a.csv", "id,name\n1,ann\n2,bob\n")
    write("landing/notes.txt", "not csv")
    frame = read_source(make_spec(format="csv", path="landing/*.csv"), root, name="s")
    assert list(frame.columns) == [
        "id",
        "name",
        "extra",
        "_source_file",
        "_source_row",
        "_parse_error",
    ]
    assert frame["id"].tolist() == ["1", "2", "3"]
    assert frame["_source_file"].tolist() == ["landing/a.csv", "landing/a.csv", "landing/b.csv"]
    assert frame["_source_row"].tolist() == [1, 2, 1]
    assert frame["name"].isna().tolist() == [False, False, True]
    assert frame["extra"].isna().tolist() == [True, True, False]
    assert str(frame["extra"].dtype) == "str"


def test_recursive_glob(root, write):
    write("landing/2024/01/a.jsonl", '{"v": 1}\n')
    write("landing/2024/02/b.jsonl", '{"v": 2}\n')
    frame = read_source(make_spec(format="jsonl", path="landing/**/*.jsonl"), root, name="s")
    assert frame["_source_file"].tolist() == ["landing/2024/01/a.jsonl", "landing/2024/02/b.jsonl"]


def test_folder_reads_every_visible_file_directly_in_it(root, write):
    write("landing/x/2.csv", "id\n2\n")
    write("landing/x/1.csv", "id\n1\n")
    write("landing/x/.partial.csv", "id\n99\n")
    write("landing/x/sub/3.csv", "id\n3\n")
    frame = read_source(make_spec(format="csv", path="landing/x"), root, name="s")
    assert frame["id"].tolist() == ["1", "2"]


def test_missing_file_names_the_path(root):
    with pytest.raises(SourceNotFoundError) as caught:
        read_source(make_spec(format="csv", path="landing/nope.csv"), root, name="orders")
    message = str(caught.value)
    assert "source 'orders'" in message
    assert str(root / "landing" / "nope.csv") in message
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, SourceError)


def test_glob_matching_nothing(root, write):
    write("landing/a.json", "[]")
    with pytest.raises(SourceFileNotFoundError, match=r"no file matches 'landing/\*\.csv'"):
        read_source(make_spec(format="csv", path="landing/*.csv"), root, name="s")


@pytest.mark.parametrize("path", ["../x.csv", "/etc/passwd", "landing/../../x.csv"])
def test_paths_outside_the_root_are_refused(root, write, path):
    write("../x.csv", "id\n1\n")  # exists, so only the check can stop it
    with pytest.raises(SourcePathError) as caught:
        read_source(make_spec(format="csv", path=path), root, name="s")
    assert path in str(caught.value)
    assert isinstance(caught.value, PathOutsideRootError)


def test_partitioned_read_of_several_keys(root, write):
    write("landing/orders/2024-01-01.csv", "id,amount\n1,10\n2,20\n")
    write("landing/orders/2024-01-02.csv", "id,amount\n3,30\n")
    write("landing/orders/2024-01-03.csv", "id,amount\n4,40\n")
    spec = make_spec(format="csv", path="landing/orders/{partition}.csv", partitioned=True)
    frame = read_source(spec, root, name="orders", partition_keys=["2024-01-01", "2024-01-02"])
    assert list(frame.columns) == [
        "id",
        "amount",
        "_source_file",
        "_source_row",
        "_parse_error",
        "_partition",
    ]
    assert frame["id"].tolist() == ["1", "2", "3"]
    assert frame["_partition"].tolist() == ["2024-01-01", "2024-01-01", "2024-01-02"]
    assert str(frame["_partition"].dtype) == "str"
    assert frame["_source_file"].tolist()[2] == "landing/orders/2024-01-02.csv"


def test_missing_partition_file_names_key_and_path(root, write):
    write("landing/orders/2024-01-01.csv", "id\n1\n")
    spec = make_spec(format="csv", path="landing/orders/{partition}.csv", partitioned=True)
    with pytest.raises(PartitionFileNotFoundError) as caught:
        read_source(spec, root, name="orders", partition_keys=["2024-01-01", "2024-01-05"])
    assert caught.value.partition_key == "2024-01-05"
    assert "partition '2024-01-05'" in str(caught.value)
    assert "landing/orders/2024-01-05.csv" in str(caught.value)


def test_partition_keys_required_when_partitioned_and_refused_otherwise(root, write):
    write("a.csv", "id\n1\n")
    partitioned = make_spec(format="csv", path="{partition}.csv", partitioned=True)
    with pytest.raises(SourceError, match="a non-empty list of partition_keys is required"):
        read_source(partitioned, root, name="s")
    with pytest.raises(SourceError, match="cannot be used in a path"):
        read_source(partitioned, root, name="s", partition_keys=["../a"])
    with pytest.raises(SourceError, match="not partitioned"):
        read_source(make_spec(format="csv", path="a.csv"), root, name="s", partition_keys=["a"])


def test_header_false_files_with_different_field_counts_is_an_error(root, write):
    write("l/a.csv", "1,x\n")
    write("l/b.csv", "2,y,z\n")
    spec = make_spec(
        format="csv", path="l/*.csv", csv={"header": False, "column_names": ["n", "s"]}
    )
    with pytest.raises(
        SourceError, match=r"l/b\.csv, row 1: header is false and column_names lists 2 names"
    ):
        read_source(spec, root, name="s")


@pytest.mark.parametrize("value", ["events.csv", "", "dé/ü 🙂.csv"])
@pytest.mark.parametrize("length", [0, 1, 7])
def test_constant_strings_equal_a_repeated_scalar(value: str, length: int) -> None:
    """The lineage column is built from its buffers; it must be the same array ``pa.repeat``
    gives (valid offsets, UTF-8 of any width, the empty string, no rows)."""
    import pyarrow as pa

    from etl_assets.lib.sources.files import constant_strings

    built = constant_strings(value, length)
    built.validate(full=True)
    assert built.equals(pa.repeat(pa.scalar(value, pa.large_string()), length))
    assert built.to_pylist() == [value] * length
