"""`csv.multiline_values`: quoted line breaks are kept by default; turning it off (faster) is
only safe for files without them: Arrow may then split such a record at a block boundary."""

from __future__ import annotations

from etl_assets.lib.sources import read_source
from etl_assets_tests.lib.sources.conftest import make_spec


def test_quoted_line_break_is_one_value_by_default(root, write) -> None:
    write("a.csv", 'id,note\n1,"two\nlines"\n2,plain\n')
    frame = read_source(make_spec(format="csv", path="a.csv"), root, name="a")
    assert frame["note"].tolist() == ["two\nlines", "plain"]
    assert frame["_source_row"].tolist() == [1, 2]


def test_multiline_off_reads_plain_files_the_same(root, write) -> None:
    write("b.csv", "id,note\n1,x\n2,y\n")
    on = read_source(make_spec(format="csv", path="b.csv"), root, name="b")
    off = read_source(make_spec(format="csv", path="b.csv", csv={"multiline_values": False}), root, name="b")
    assert off.equals(on)

