"""`csv.multiline_values`: quoted line breaks are kept by default; turning it off (faster) is
only safe for files without them: Arrow may then split such a record at a block boundary."""

from __future__ import annotations

import pytest

from etl_assets.lib.sources import csv as csv_reader
from etl_assets.lib.sources import read_source
from etl_assets_tests.lib.sources.conftest import make_spec

#: Each test reads its files copied into memory and memory-mapped (see conftest.file_bytes).
pytestmark = pytest.mark.usefixtures("file_bytes")


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



def _physical(root, path: str, **csv):
    from etl_assets.lib.sources import read_source_physical

    spec = make_spec(format="csv", path=path, **({"csv": csv} if csv else {}))
    read = read_source_physical(spec, root, name="m")
    [physical] = read.physical
    return read.frame, physical


def test_quoted_break_whose_lines_each_parse_as_a_full_row_is_still_one_record(root, write) -> None:
    """Each line of this record alone has the header's 2 fields (``"1","p`` and ``q,r"``): a
    reader that split records at line ends would see two good rows and no error."""
    write("c.csv", 'x,y\n"1","p\nq,r"\n"2","s"\n')
    frame, physical = _physical(root, "c.csv")
    assert frame[["x", "y"]].values.tolist() == [["1", "p\nq,r"], ["2", "s"]]
    assert frame["_source_row"].tolist() == [1, 2]
    assert physical.conserved and dict(physical.detail)["record_scan"] == 1


def test_quoted_break_across_a_parser_block_boundary(root, write) -> None:
    """A record whose quoted lines straddle the block Arrow parses in. Parsed without
    ``newlines_in_values`` this one comes out as garbage rows whose count (good plus
    wrong-field-count) equals the line count, so no row/line check could catch it: the single
    pass must keep Arrow's quote-aware block splitting when multiline values are allowed."""
    block, lines, size = csv_reader._MIN_BLOCK, [], 0  # the block of a file this size
    while size < block - 45:  # one-line records up to 5 bytes before the block boundary
        lines.append(f'"{len(lines)}","r{len(lines):07d}"\n')
        size += len(lines[-1])
    lines.append('"p","' + "z" * (block - 5 - size - 7) + '"\n')
    value = "ab\n" * 10 + "end,x"
    lines.append(f'"m","{value}"\n')
    lines.extend(f'"{i}","t{i}"\n' for i in range(200))
    write("big.csv", "x,y\n" + "".join(lines))
    frame, physical = _physical(root, "big.csv")
    assert len(frame) == len(lines) and physical.conserved
    position = len(lines) - 201
    assert frame["x"].iloc[position] == "m" and frame["y"].iloc[position] == value
    assert frame["x"].iloc[position + 1] == "0" and frame["x"].iloc[-1] == "199"
    assert frame["_source_row"].tolist() == list(range(1, len(lines) + 1))
    assert frame["_parse_error"].isna().all()
    assert dict(physical.detail)["record_scan"] == 1


def test_every_field_quoted_one_line_records_take_the_single_pass(root, write) -> None:
    """Quotes everywhere but no quoted line break: one Arrow pass, no scan, same frame as with
    multiline_values off."""
    write("q.csv", 'x,y\n"1","a ""b"", c"\n"2","e"\n\n"3","d"\n')
    frame, physical = _physical(root, "q.csv")
    assert dict(physical.detail)["record_scan"] == 0 and physical.conserved
    assert frame["y"].tolist() == ['a "b", c', "e", "d"]
    off, _ = _physical(root, "q.csv", multiline_values=False)
    assert off.equals(frame)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_quoted_line_break_at_every_position_around_the_piece_seams(root, write, monkeypatch, line_end: str) -> None:
    """A large body is parsed in pieces cut at line ends. Slide a record with a quoted line
    break over every line of a file cut into four pieces: where a cut falls inside it (right
    after its first line, the one place rows still match lines), the reader must notice and
    read the record whole, as everywhere else."""
    monkeypatch.setattr(csv_reader, "_CUT_FROM", 2)
    monkeypatch.setattr(csv_reader, "_workers", lambda: 2)
    lines = [f'"{i}","r{i:03d}"' for i in range(40)]
    value = f"ab{line_end}end,x"
    for position in range(len(lines)):
        text = line_end.join(["x,y", *lines[:position], f'"m","{value}"', *lines[position:]]) + line_end
        write("s.csv", text)
        frame, physical = _physical(root, "s.csv")
        assert frame["x"].tolist() == [str(i) for i in range(position)] + ["m"] + [str(i) for i in range(position, 40)]
        assert frame["y"].iloc[position] == value and frame["_parse_error"].isna().all()
        assert physical.conserved, position


def test_no_cut_leaves_a_piece_over_the_largest(monkeypatch) -> None:
    """Cuts are made after a ``\\n`` only: a body with too few of them (lone ``\\r`` line ends)
    is read whole rather than in a piece too large for one Arrow block."""
    monkeypatch.setattr(csv_reader, "_CUT_FROM", 2)
    monkeypatch.setattr(csv_reader, "_workers", lambda: 2)
    monkeypatch.setattr(csv_reader, "_LARGEST_PIECE", 400)
    even = b"".join(b"%03d,abcdef\n" % i for i in range(100))
    assert len(csv_reader._seams(even, 0)) == 3
    lone_cr = b"".join(b"%03d,abcdef\r" % i for i in range(100)) + b"last\n" + b"1,2\r" * 10
    assert csv_reader._seams(lone_cr, 0) == []
