"""Parquet and plain-text sources."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_assets.lib.sources import SourceReadError, read_source
from etl_assets_tests.lib.sources.conftest import make_spec


def test_parquet_keeps_native_types(root):
    (root / "landing").mkdir()
    table = pa.table(
        {"id": pa.array([1, 2], pa.int64()), "price": [1.5, None], "zip": ["01234", "x"]}
    )
    pq.write_table(table, root / "landing" / "p.parquet")
    frame = read_source(make_spec(format="parquet", path="landing/p.parquet"), root, name="p")
    assert list(frame.columns) == ["id", "price", "zip", "_source_file", "_source_row"]
    assert frame["id"].dtype == "int64"
    assert frame["price"].dtype == "float64"
    assert frame["zip"].tolist() == ["01234", "x"]
    assert frame["_source_file"].tolist() == ["landing/p.parquet"] * 2
    assert frame["_source_row"].tolist() == [1, 2]


def test_parquet_written_by_pandas_keeps_a_named_index_as_a_column(root):
    pd.DataFrame({"v": [3, 4]}, index=pd.Index(["a", "b"], name="key")).to_parquet(
        root / "p.parquet"
    )
    frame = read_source(make_spec(format="parquet", path="p.parquet"), root, name="p")
    assert frame[["key", "v"]].to_dict("list") == {"key": ["a", "b"], "v": [3, 4]}


def test_not_a_parquet_file_is_a_read_error(root, write):
    write("p.parquet", "id,name\n")
    with pytest.raises(SourceReadError, match=r"^p\.parquet: cannot read as Parquet"):
        read_source(make_spec(format="parquet", path="p.parquet"), root, name="p")


def test_text_lines_with_line_numbers(root, write):
    write("logs/app.log", "  first  \r\n\n   \nsecond\nthird")
    frame = read_source(make_spec(format="text", path="logs/app.log"), root, name="log")
    assert list(frame.columns) == ["line", "_source_file", "_source_row"]
    assert frame["line"].tolist() == ["first", "second", "third"]
    assert frame["_source_row"].tolist() == [1, 4, 5]
    assert frame["_source_file"].tolist() == ["logs/app.log"] * 3


def test_text_options_column_no_strip_keep_blank(root, write):
    write("a.txt", " a \n\nb\n")
    spec = make_spec(
        format="text", path="a.txt", text={"column": "msg", "strip": False, "skip_blank": False}
    )
    frame = read_source(spec, root, name="t")
    assert frame["msg"].tolist() == [" a ", "", "b"]
    assert frame["_source_row"].tolist() == [1, 2, 3]


def test_text_non_utf8_names_the_line(root, write):
    write("a.txt", b"ok\nok\nd\xe9j\xe0\n")
    with pytest.raises(
        SourceReadError, match=r"^a\.txt, line 3: not valid utf-8: byte 0xe9 at byte offset 7"
    ):
        read_source(make_spec(format="text", path="a.txt"), root, name="t")
    frame = read_source(make_spec(format="text", path="a.txt", encoding="latin-1"), root, name="t")
    assert frame["line"].tolist()[2] == "d\u00e9j\u00e0"
