"""CSV faults that used to lose rows: unclosed quotes, huge fields, undecodable bytes.

Nothing is lost: every record the bytes hold comes out as a row (good, or rejected with its
raw text whole), and the reader's physical count says so.
"""

from __future__ import annotations

import pytest

from etl_assets.lib.sources import SourceReadError, read_source, read_source_physical
from etl_assets.lib.sources.physical import PHYSICAL_ATTR
from etl_assets_tests.lib.sources.conftest import make_spec

#: Each test reads its files copied into memory and memory-mapped (see conftest.file_bytes).
pytestmark = pytest.mark.usefixtures("file_bytes")


def _read(root, path: str, **csv_options):
    spec = make_spec(format="csv", path=path, **({"csv": csv_options} if csv_options else {}))
    return read_source_physical(spec, root, name="src")


def _errors(frame):
    return frame[frame["_parse_error"].notna()]


def _issue_file(rows: int = 10_000) -> tuple[str, str]:
    """The reported case: ``rows`` data rows, an unclosed quote in row 2."""
    lines = ["id,name,city"] + [f"{i},name {i},city {i}" for i in range(1, rows + 1)]
    broken = '2,"name 2 has an unclosed quote,city 2'
    lines[2] = broken
    return "\n".join(lines) + "\n", broken


@pytest.mark.parametrize("multiline", [True, False])
def test_unclosed_quote_rejects_one_row_and_keeps_the_other_9999(root, write, multiline):
    text, broken = _issue_file()
    write("issue.csv", text)
    read = _read(root, "issue.csv", multiline_values=multiline)
    frame = read.frame
    assert len(frame) == 10_000
    good = frame[frame["_parse_error"].isna()]
    assert len(good) == 9_999
    assert good["id"].tolist() == [str(i) for i in range(1, 10_001) if i != 2]
    assert good["city"].iloc[-1] == "city 10000"
    errors = _errors(frame)
    assert errors["_source_row"].tolist() == [2]
    message = errors["_parse_error"].iloc[0]
    assert message.startswith("line 3: a quote opened on this line is never closed")
    assert message.endswith(": " + broken)  # the raw text, whole
    [physical] = read.physical
    assert (physical.unit, physical.units) == ("lines", 10_001)
    assert physical.expected_rows == physical.emitted_rows == 10_000
    assert physical.bytes == len(text.encode())
    assert PHYSICAL_ATTR not in frame.attrs


def test_unclosed_quote_among_quoted_rows_does_not_swallow_the_next_row(root, write):
    # the unclosed quote of row 1 would pair with the quote that opens row 2's name
    write("q.csv", 'id,name,n\n1,"ab,1\n2,"cd",2\n3,"ef",3\n')
    frame = _read(root, "q.csv").frame
    assert frame["_source_row"].tolist() == [1, 2, 3]
    assert frame["name"].tolist()[1:] == ["cd", "ef"]
    assert (
        _errors(frame)["_parse_error"]
        .iloc[0]
        .startswith(
            "line 2: a quoted field opened on this line spans 2 lines and its closing quote is "
            "followed by 'c'"
        )
    )


def test_quoted_field_longer_than_max_record_lines_is_broken(root, write):
    body = '1,"' + "\n".join(["x"] * 5) + '",1\n'
    write("m.csv", "id,note,n\n" + body + "2,ok,2\n")
    frame = _read(root, "m.csv", max_record_lines=3).frame
    errors = _errors(frame)
    assert "runs over 5 lines, more than max_record_lines (3)" in errors["_parse_error"].iloc[0]
    # reading resumed at the next line: the other lines of the broken field are records of
    # their own (one field, not three: rejected too), and the row after them is read
    assert errors["_source_row"].tolist() == [1, 2, 3, 4, 5]
    assert errors["_parse_error"].iloc[1] == "expected 3 fields, found 1: x"
    assert frame["id"].tolist()[-1] == "2" and len(frame) == 6
    read = _read(root, "m.csv")  # the default (1000) reads it as one record
    assert read.frame["note"].tolist()[0] == "\n".join(["x"] * 5)
    assert read.physical[0].units == 7 and read.physical[0].expected_rows == 2


def test_multiline_false_rejects_a_quoted_line_break(root, write):
    write("n.csv", 'id,note\n1,"two\nlines"\n2,ok\n')
    read = _read(root, "n.csv", multiline_values=False)
    errors = _errors(read.frame)
    assert "multiline_values is false" in errors["_parse_error"].iloc[0]
    assert read.frame["id"].tolist()[-1] == "2"
    assert read.physical[0].expected_rows == read.physical[0].emitted_rows == len(read.frame)


def test_a_10_mb_field_is_read_whole(root, write):
    # 10 MiB with delimiters, quotes and 500 line breaks inside the quoted field
    quoted = (('a, "quoted" ' * 1_600)[:20_000] + "\n") * 500
    quoted = quoted + "z" * ((10 << 20) - len(quoted))
    plain = "p" * (10 << 20)
    escaped = quoted.replace('"', '""')
    write("big.csv", f'id,note\n1,"{escaped}"\n2,{plain}\n3,small\n')
    read = _read(root, "big.csv")
    frame = read.frame
    assert frame["_parse_error"].isna().all()
    assert frame["note"].tolist() == [quoted, plain, "small"]
    assert read.physical[0].expected_rows == 3


def test_a_field_over_max_field_bytes_is_rejected_with_its_row(root, write):
    write(
        "limit.csv",
        "id,note\n1,short\n2," + "x" * 2_000 + '\n3,"' + "y\n" * 1_000 + '"\n4,fine\n',
    )
    frame = _read(root, "limit.csv", max_field_bytes=1_000).frame
    errors = _errors(frame)
    assert errors["_source_row"].tolist()[:2] == [2, 3]
    assert (
        "field 2 is 2000 bytes, larger than max_field_bytes (1000 bytes)"
        in (errors["_parse_error"].iloc[0])
    )
    assert errors["_parse_error"].iloc[0].endswith("2," + "x" * 2_000)
    assert "larger than max_field_bytes (1000 bytes)" in errors["_parse_error"].iloc[1]
    assert frame["note"].tolist()[0] == "short" and frame["id"].tolist()[-1] == "4"


def test_non_utf8_byte_rejects_its_row_only(root, write):
    write("u.csv", b"city,n\nParis,1\nZ\xfcrich,2\nRome,3\n")
    read = _read(root, "u.csv")
    frame = read.frame
    assert frame["city"].isna().tolist() == [False, True, False]
    message = _errors(frame)["_parse_error"].iloc[0]
    assert message.startswith("line 3: not valid utf-8: byte 0xfc at byte offset 16")
    assert message.endswith(": Z\\xfcrich,2")
    assert read.physical[0].expected_rows == read.physical[0].emitted_rows == 3


def test_non_utf8_byte_with_on_bad_lines_error_fails_the_file(root, write):
    write("u.csv", b"city,n\nParis,1\nZ\xfcrich,2\nRome,3\n")
    with pytest.raises(SourceReadError, match=r"^u\.csv, line 3: not valid utf-8: byte 0xfc"):
        _read(root, "u.csv", on_bad_lines="error")


def test_undefined_byte_in_a_declared_encoding_rejects_its_row(root, write):
    # 0x81 is undefined in cp1252; 0xe9 is "é"
    write("w.csv", b"city,n\nCaf\xe9,1\nBad\x81,2\n")
    spec = make_spec(format="csv", path="w.csv", encoding="cp1252")
    frame = read_source(spec, root, name="src")
    assert frame["city"].tolist()[0] == "Café" and frame["city"].isna().tolist() == [False, True]
    assert "not valid cp1252: byte 0x81" in _errors(frame)["_parse_error"].iloc[0]


def test_broken_record_with_on_bad_lines_error_names_row_and_line(root, write):
    text, _ = _issue_file(20)
    write("e.csv", text)
    with pytest.raises(SourceReadError, match=r"^e\.csv, row 2: line 3: a quote opened") as caught:
        _read(root, "e.csv", on_bad_lines="error")
    assert caught.value.row == 2


def test_physical_input_of_gzip_counts_decompressed_bytes_and_lines(root, write):
    text = "a,b\n\n1,2\r\n3,4\n"
    write("g.csv.gz", text)
    [physical] = _read(root, "g.csv.gz").physical
    assert physical.bytes == len(text)
    assert physical.units == 4
    assert dict(physical.detail)["empty_lines"] == 1
    assert physical.expected_rows == physical.emitted_rows == 2


def test_physical_input_per_partition_and_text_format(root, write):
    write("t/2024-01-01.txt", "one\n\n two \n")
    write("t/2024-01-02.txt", "three")
    spec = make_spec(format="text", path="t/{partition}.txt", partitioned=True)
    read = read_source_physical(spec, root, name="t", partition_keys=["2024-01-01", "2024-01-02"])
    assert read.frame["line"].tolist() == ["one", "two", "three"]
    first, second = read.physical
    assert (first.partition, first.units, first.expected_rows, first.emitted_rows) == (
        "2024-01-01",
        3,
        2,
        2,
    )
    assert dict(first.detail)["blank_lines_skipped"] == 1
    assert (second.partition, second.units, second.expected_rows) == ("2024-01-02", 1, 1)
    assert read.frame.attrs == {}


def test_one_line_records_take_one_parse_and_quoted_line_breaks_the_scan(root, write):
    write("plain.csv", 'id,note\n1,"a, b"\n\n2,c\n')
    write("multi.csv", 'id,note\n1,"a\nb"\n\n2,c\n')
    [plain] = _read(root, "plain.csv").physical
    [multi] = _read(root, "multi.csv").physical
    assert dict(plain.detail)["record_scan"] == 0 and dict(multi.detail)["record_scan"] == 1
    assert (plain.units, plain.expected_rows, dict(plain.detail)["empty_lines"]) == (4, 2, 1)
    assert (multi.units, multi.expected_rows, dict(multi.detail)["empty_lines"]) == (5, 2, 1)
    # a quote left open on the last line swallows nothing, yet is caught without a full scan
    write("tail.csv", 'id,note\n1,a\n2,"b')
    frame = _read(root, "tail.csv").frame
    assert "never closed" in _errors(frame)["_parse_error"].iloc[0]
