"""CSV sources: text kept as landed, lineage, rejected rows, and errors that say where."""

from __future__ import annotations

import pandas as pd
import pytest

from etl_assets.lib.sources import SourceReadError, read_source
from etl_assets_tests.lib.sources.conftest import make_spec

#: Each test reads its files copied into memory and memory-mapped (see conftest.file_bytes).
pytestmark = pytest.mark.usefixtures("file_bytes")

ORDERS = 'id,zip,amount,note\n1,01234,10.50,"a, quoted"\n2,00501,NA,\n3,abc,7,"two\nlines"\n'


def _read(root, path: str, **fields):
    return read_source(make_spec(format="csv", path=path, **fields), root, name="src")


def test_text_kept_exactly_with_lineage_columns_in_order(root, write):
    write("landing/orders.csv", ORDERS)
    frame = _read(root, "landing/orders.csv")
    assert list(frame.columns) == [
        "id",
        "zip",
        "amount",
        "note",
        "_source_file",
        "_source_row",
        "_parse_error",
    ]
    assert frame["zip"].tolist() == ["01234", "00501", "abc"]
    assert frame["id"].tolist() == ["1", "2", "3"]
    assert frame["amount"].tolist()[0] == "10.50"
    assert frame["note"].tolist()[0] == "a, quoted"
    assert frame["note"].tolist()[2] == "two\nlines"
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in ["id", "zip", "amount", "note"])
    assert frame["_source_file"].tolist() == ["landing/orders.csv"] * 3
    assert frame["_source_row"].tolist() == [1, 2, 3]
    assert frame["_source_row"].dtype == "int64"
    assert frame["_parse_error"].isna().all()


def test_default_null_values_and_custom_null_values(root, write):
    write("a.csv", "a,b\nNA,x\n,-\nNULL,keep\n")
    default = _read(root, "a.csv")
    assert default["a"].isna().tolist() == [True, True, True]
    assert default["b"].tolist()[:1] == ["x"]
    custom = _read(root, "a.csv", csv={"null_values": ["-"]})
    assert custom["a"].tolist() == ["NA", "", "NULL"]
    assert custom["b"].isna().tolist() == [False, True, False]


def test_header_false_with_column_names_and_skip_rows(root, write):
    write("a.csv", "exported 2024-01-01\n1;x\n2;y\n")
    frame = _read(
        root,
        "a.csv",
        csv={"header": False, "column_names": ["n", "s"], "delimiter": ";", "skip_rows": 1},
    )
    assert frame[["n", "s"]].to_dict("list") == {"n": ["1", "2"], "s": ["x", "y"]}
    assert frame["_source_row"].tolist() == [1, 2]


def test_header_false_count_mismatch_is_an_error(root, write):
    write("a.csv", "1,x,extra\n")
    with pytest.raises(
        SourceReadError, match=r"a\.csv, row 1: header is false and column_names lists 2 names"
    ):
        _read(root, "a.csv", csv={"header": False, "column_names": ["n", "s"]})


def test_ragged_rows_are_kept_as_rejected_with_their_row_number(root, write):
    body = ["h1,h2,h3", "1,2,3", "4,5", "", '"multi\nline",7,8', "9,9,9,9", "10,11,12"]
    write("r.csv", "\n".join(body) + "\n")
    frame = _read(root, "r.csv")
    assert frame["_source_row"].tolist() == [1, 2, 3, 4, 5]
    assert frame["h1"].tolist()[0] == "1"
    assert frame["h1"].isna().tolist() == [False, True, False, True, False]
    assert frame["h1"].tolist()[2] == "multi\nline"
    errors = frame["_parse_error"].tolist()
    assert errors[1] == "expected 3 fields, found 2: 4,5"
    assert errors[3] == "expected 3 fields, found 4: 9,9,9,9"
    assert pd.isna(errors[0]) and pd.isna(errors[2]) and pd.isna(errors[4])


def test_ragged_row_numbers_in_a_large_multithreaded_file(root, write):
    # Big enough for Arrow to split into several blocks read by several threads.
    lines = ["a,b,c"] + [f"{i},x,y" for i in range(1, 300_001)]
    lines[123_457] = "123457,x"  # data record 123457
    lines[250_000] = "250000,x,y,z"
    write("big.csv", "\n".join(lines) + "\n")
    frame = _read(root, "big.csv")
    assert len(frame) == 300_000
    rejected = frame[frame["_parse_error"].notna()]
    assert rejected["_source_row"].tolist() == [123_457, 250_000]
    assert rejected["_parse_error"].tolist() == [
        "expected 3 fields, found 2: 123457,x",
        "expected 3 fields, found 4: 250000,x,y,z",
    ]
    assert frame["a"].iloc[123_457] == "123458"  # rows after the rejected one keep their place
    assert (frame["_source_row"].to_numpy() == range(1, 300_001)).all()


def test_ragged_row_text_is_kept_whole(root, write):
    text = ",".join(["v" * 50] * 6)
    write("r.csv", "a,b\n" + text + "\n")
    message = _read(root, "r.csv")["_parse_error"].iloc[0]
    assert message == "expected 2 fields, found 6: " + text


def test_ragged_row_with_on_bad_lines_error_names_file_and_row(root, write):
    write("landing/r.csv", "a,b\n1,2\n3,4\n5,6,7\n")
    with pytest.raises(SourceReadError) as caught:
        _read(root, "landing/r.csv", csv={"on_bad_lines": "error"})
    error = caught.value
    assert str(error).startswith("landing/r.csv, row 3: expected 2 fields, found 3: 5,6,7")
    assert (error.file, error.row) == ("landing/r.csv", 3)


def test_latin1_file_reads_with_encoding_latin1(root, write):
    write("l.csv", "city,n\nZ\u00fcrich,1\nS\u00e3o Paulo,2\n".encode("latin-1"))
    frame = _read(root, "l.csv", encoding="latin-1")
    assert frame["city"].tolist() == ["Z\u00fcrich", "S\u00e3o Paulo"]


def test_non_utf8_byte_names_line_and_offset(root, write):
    content = b"city,n\nParis,1\nZ\xfcrich,2\n"
    write("landing/l.csv", content)
    with pytest.raises(SourceReadError) as caught:
        _read(root, "landing/l.csv", csv={"on_bad_lines": "error"})
    message = str(caught.value)
    assert message.startswith("landing/l.csv, line 3: not valid utf-8: byte 0xfc at byte offset 16")
    assert content.index(b"\xfc") == 16
    assert "encoding: latin-1" in message
    assert caught.value.line == 3


def test_non_utf8_byte_deep_in_a_file_is_located(root, write):
    lines = ["a,b"] + [f"{i},\u00e9t\u00e9" for i in range(50_000)]  # valid multi-byte UTF-8
    data = ("\n".join(lines) + "\n").encode("utf-8")
    position = data.index(b"\n49000,") + 1
    data = data[:position] + b"49000,caf\xe9\n" + data[data.index(b"\n", position) + 1 :]
    write("deep.csv", data)
    with pytest.raises(SourceReadError) as caught:
        _read(root, "deep.csv", csv={"on_bad_lines": "error"})
    assert caught.value.line == 49_002  # header + 49000 records before it + 1
    assert f"at byte offset {position + len('49000,caf')}" in str(caught.value)
    # the default (reject) keeps the other 49,999 rows and rejects that one, offset named
    frame = _read(root, "deep.csv")
    errors = frame[frame["_parse_error"].notna()]
    assert len(frame) == 50_000
    assert errors["_source_row"].tolist() == [49_001]
    assert f"byte 0xe9 at byte offset {position + len('49000,caf')}" in errors["_parse_error"].iloc[0]
    assert errors["_parse_error"].iloc[0].endswith(": 49000,caf\\xe9")


def test_wrong_delimiter_is_reported_with_the_likely_one(root, write):
    write("s.csv", "id;name;amount\n1;a;2\n")
    with pytest.raises(
        SourceReadError, match=r"s\.csv, line 1: .*seems to use ';'.*set csv\.delimiter: ';'"
    ):
        _read(root, "s.csv")
    frame = _read(root, "s.csv", csv={"delimiter": ";"})
    assert frame["name"].tolist() == ["a"]


def test_duplicate_and_empty_header_names_are_errors(root, write):
    write("d.csv", "id,name,id\n1,2,3\n")
    with pytest.raises(
        SourceReadError, match=r"d\.csv: header: duplicate column name\(s\) \['id'\]"
    ):
        _read(root, "d.csv")
    write("e.csv", "id,,name\n1,2,3\n")
    with pytest.raises(
        SourceReadError, match=r"e\.csv: header: column\(s\) at position \[2\] have an empty name"
    ):
        _read(root, "e.csv")


def test_header_only_file_is_an_empty_frame_with_columns(root, write):
    write("h.csv", "id,zip\n")
    frame = _read(root, "h.csv")
    assert list(frame.columns) == ["id", "zip", "_source_file", "_source_row", "_parse_error"]
    assert len(frame) == 0


def test_zero_byte_file_is_an_error_unless_column_names_are_given(root, write):
    write("z.csv", b"")
    with pytest.raises(SourceReadError, match=r"z\.csv: the file is empty \(0 bytes\)"):
        _read(root, "z.csv")
    frame = _read(root, "z.csv", csv={"header": False, "column_names": ["a", "b"]})
    assert list(frame.columns)[:2] == ["a", "b"] and len(frame) == 0


def test_utf8_bom_is_not_part_of_the_first_name(root, write):
    write("b.csv", b"\xef\xbb\xbfid,v\n1,2\n")
    assert list(_read(root, "b.csv").columns)[:2] == ["id", "v"]


def test_gzip_is_inferred_from_the_suffix(root, write):
    write("landing/o.csv.gz", ORDERS)
    frame = _read(root, "landing/o.csv.gz")
    assert frame["zip"].tolist() == ["01234", "00501", "abc"]
    assert frame["_source_file"].unique().tolist() == ["landing/o.csv.gz"]


def test_single_member_zip_keeps_the_archive_name(root, write_zip):
    write_zip("landing/o.zip", {"orders.csv": ORDERS})
    frame = _read(root, "landing/o.zip")
    assert frame["zip"].tolist() == ["01234", "00501", "abc"]
    assert frame["_source_file"].unique().tolist() == ["landing/o.zip"]


def test_zip_with_several_members_reads_each_in_archive_order(root, write_zip):
    write_zip("o.zip", {"b.csv": "id\n1\n2\n", "__MACOSX/._b.csv": "junk", "a.csv": "id\n3\n"})
    frame = _read(root, "o.zip", compression="zip")
    assert frame["id"].tolist() == ["1", "2", "3"]
    assert frame["_source_file"].tolist() == ["o.zip!b.csv", "o.zip!b.csv", "o.zip!a.csv"]
    assert frame["_source_row"].tolist() == [1, 2, 1]


def test_reserved_column_name_in_header_is_an_error(root, write):
    write("x.csv", "id,_source_row\n1,2\n")
    with pytest.raises(
        SourceReadError, match=r"x\.csv: column name\(s\) \['_source_row'\] are reserved"
    ):
        _read(root, "x.csv")


def test_gzip_declared_but_not_compressed_is_a_read_error(root, write):
    write("plain.csv", "a\n1\n")
    with pytest.raises(SourceReadError, match=r"^plain\.csv: cannot read: .*set compression: none"):
        _read(root, "plain.csv", compression="gzip")


def test_non_utf8_inside_a_gzip_file_names_the_line(root, write):
    write("l.csv.gz", b"a\nok\nd\xe9j\xe0\n")
    with pytest.raises(SourceReadError, match=r"^l\.csv\.gz, line 3: not valid utf-8"):
        _read(root, "l.csv.gz", csv={"on_bad_lines": "error"})
