"""Property tests: generated CSV with good and malformed rows; nothing is lost, nothing mixed up.

Each example is a file of rows, each row good or bad, written with a random delimiter, quote
character, encoding, line ends and blank lines. Bad rows are of five kinds: a wrong number of
fields, an unclosed quote, bytes the encoding cannot decode, a field over ``max_field_bytes``
(quoted or not), and a file cut off inside a quoted field. For every file:

* every good row comes out, in order, with exactly its values and no ``_parse_error``;
* every bad row comes out as one row with a ``_parse_error`` (never merged with its neighbours);
* rows out = good + bad = the reader's physical ``expected_rows``, and its line count is the
  file's physical line count.

An unclosed quote is told from a legitimate multi-line field by what follows the quote that
closes it (a delimiter or line end for a real field). Quoted values that begin with the
delimiter or a line break would make the two indistinguishable for any reader, so the
generator does not start quoted values with those.

Example counts are modest for a 2-core CI; ``--hypothesis-show-statistics`` prints how many ran.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_assets.lib.sources import read_source_physical
from etl_assets_tests.lib.sources.conftest import make_spec

#: Each test reads its files copied into memory and memory-mapped (see conftest.file_bytes).
pytestmark = pytest.mark.usefixtures("file_bytes")

MAX_FIELD_BYTES = 200
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
# encodings and a byte sequence each cannot decode (None: every byte decodes)
ENCODINGS = {"utf-8": b"\xff", "utf-8-sig": b"\xc3(", "cp1252": b"\x81", "utf-16": None}
LINE_ENDS = ["\n", "\r\n", "\r"]


@dataclass(frozen=True)
class Row:
    text: str  # as written, without its line end
    values: list[str] | None  # None: a bad row
    raw_bad: bytes | None = None  # undecodable bytes inserted into the row (bad)


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    quote: str
    ncols: int
    multiline: bool
    #: A character the file's encoding can write ("中" is not in cp1252).
    wide: str = "中"


def _plain_alphabet(dialect: Dialect) -> st.SearchStrategy[str]:
    specials = {dialect.delimiter, dialect.quote, "\n", "\r"}
    return st.sampled_from([c for c in f"ab z09é{dialect.wide}€'\"|;,\t" if c not in specials])


def _quote(value: str, quote: str) -> str:
    return quote + value.replace(quote, quote * 2) + quote


@st.composite
def good_values(draw, dialect: Dialect) -> list[str]:
    """Values as they must come out, each at most 20 characters."""
    plain = _plain_alphabet(dialect)
    any_char = st.sampled_from(
        [*"ab z09é€", dialect.wide, dialect.delimiter, dialect.quote]
        + (["\n", "\r"] if dialect.multiline else [])
    )
    values = []
    for _ in range(dialect.ncols):
        if draw(st.booleans()):
            values.append(draw(st.text(plain, max_size=20)))
        else:  # quoted: anything, but not starting with the delimiter or a line break
            first = draw(st.text(plain, min_size=1, max_size=1))
            values.append(first + draw(st.text(any_char, max_size=12)).replace("\r", "\r\n"))
    return values


def _encode_row(values: list[str], dialect: Dialect, force_quote: list[bool]) -> str:
    specials = (dialect.delimiter, dialect.quote, "\n", "\r")
    fields = [
        _quote(value, dialect.quote)
        if forced or any(s in value for s in specials) or value == ""
        else value
        for value, forced in zip(values, force_quote, strict=True)
    ]
    return dialect.delimiter.join(fields)


@st.composite
def rows(draw, dialect: Dialect, bad_bytes: bytes | None) -> list[Row]:
    kinds = ["good"] * 4 + ["fields", "unclosed", "oversized", "oversized_quoted"]
    if bad_bytes is not None:
        kinds.append("undecodable")
    result = []
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=12)):
        values = draw(good_values(dialect))
        force = draw(st.lists(st.booleans(), min_size=dialect.ncols, max_size=dialect.ncols))
        plain = _plain_alphabet(dialect)
        if kind == "good":
            result.append(Row(_encode_row(values, dialect, force), values))
        elif kind == "fields":
            extra = draw(st.text(plain, max_size=5))
            wrong = [*values, extra] if dialect.ncols == 1 or draw(st.booleans()) else values[:-1]
            result.append(Row(_encode_row(wrong, dialect, [*force, False][: len(wrong)]), None))
        elif kind == "unclosed":
            head = draw(st.text(plain, min_size=1, max_size=10))
            text = _encode_row(values[:-1], dialect, force[:-1])
            text = (text + dialect.delimiter if dialect.ncols > 1 else "") + dialect.quote + head
            result.append(Row(text, None))
        elif kind in ("oversized", "oversized_quoted"):
            big = "x" * draw(st.integers(MAX_FIELD_BYTES + 1, MAX_FIELD_BYTES + 50))
            values = [*values[:-1], big]
            force = [*force[:-1], kind == "oversized_quoted"]
            result.append(Row(_encode_row(values, dialect, force), None))
        else:  # the bad bytes go inside the first field, unquoted (at the NUL placeholder)
            values = ["a\0b", *values[1:]]
            result.append(Row(_encode_row(values, dialect, [False, *force[1:]]), None, bad_bytes))
    return result


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


@st.composite
def csv_files(draw, multiline: bool):
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    dialect = Dialect(
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        quote=draw(st.sampled_from(['"', "'"])),
        ncols=draw(st.integers(1, 4)),
        multiline=multiline,
        wide="ß" if encoding == "cp1252" else "中",
    )
    bad_bytes = ENCODINGS[encoding]
    body_rows = draw(rows(dialect, bad_bytes))
    truncated = draw(st.booleans())
    if truncated:  # cut off inside a quoted field: an unclosed quote at the end of the file
        tail = draw(st.text(_plain_alphabet(dialect), min_size=1, max_size=8))
        body_rows.append(Row(dialect.quote + tail, None))
    header = dialect.delimiter.join(f"c{i}" for i in range(dialect.ncols))
    parts: list[bytes] = []
    if encoding == "utf-16":
        parts.append(codecs.BOM_UTF16_LE)
        encoding_used = "utf-16-le"
    else:
        encoding_used = "utf-8" if encoding == "utf-8-sig" else encoding
        if encoding == "utf-8-sig":
            parts.append(codecs.BOM_UTF8)
    parts.append(_encode(header + draw(st.sampled_from(LINE_ENDS)), encoding_used))
    for index, row in enumerate(body_rows):
        blank = draw(st.sampled_from(["", "", "", "\n", "\r\n"]))
        text = row.text
        if row.raw_bad is not None:
            before, after = text.split("\0", 1)
            parts.append(
                _encode(before, encoding_used) + row.raw_bad + _encode(after, encoding_used)
            )
        else:
            parts.append(_encode(text, encoding_used))
        last = index == len(body_rows) - 1
        if not (last and (truncated or draw(st.booleans()))):
            parts.append(_encode(draw(st.sampled_from(LINE_ENDS)) + blank, encoding_used))
    data = b"".join(parts)
    return dialect, "utf-8" if encoding == "utf-8-sig" else encoding, body_rows, data


def _physical_lines(text: str) -> int:
    ends = len(re.findall(r"\r\n|\n|\r", text))
    return ends + (1 if text and not text.endswith(("\n", "\r")) else 0)


def _check(root: Path, dialect: Dialect, encoding: str, body_rows: list[Row], data: bytes) -> None:
    (root / "f.csv").write_bytes(data)
    spec = make_spec(
        format="csv",
        path="f.csv",
        encoding=encoding,
        csv={
            "delimiter": dialect.delimiter,
            "quote_char": dialect.quote,
            "null_values": [],
            "multiline_values": dialect.multiline,
            "max_field_bytes": MAX_FIELD_BYTES,
        },
    )
    read = read_source_physical(spec, root, name="f")
    frame = read.frame
    assert len(frame) == len(body_rows), (len(frame), [r.values is not None for r in body_rows])
    errors = frame["_parse_error"].notna().tolist()
    names = [f"c{i}" for i in range(dialect.ncols)]
    for position, row in enumerate(body_rows):
        if row.values is None:
            assert errors[position], (position, row, frame.iloc[position].to_dict())
        else:
            assert not errors[position], (position, row, frame["_parse_error"].iloc[position])
            assert frame.loc[position, names].tolist() == row.values, (position, row)
    assert frame["_source_row"].tolist() == list(range(1, len(body_rows) + 1))
    [physical] = read.physical
    assert physical.expected_rows == physical.emitted_rows == len(body_rows)
    assert physical.bytes == len(data)
    text = data.decode("utf-16" if encoding == "utf-16" else "latin-1")
    assert physical.units == _physical_lines(text)


EXAMPLES = int(os.environ.get("ETL_ASSETS_CSV_EXAMPLES", "0")) or None


@pytest.mark.parametrize(
    ("multiline", "examples"), [(True, 150), (False, 100)], ids=["multiline", "single-line"]
)
def test_every_generated_row_is_accounted_for(
    tmp_path: Path, multiline: bool, examples: int
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    examples = EXAMPLES or examples  # ETL_ASSETS_CSV_EXAMPLES=5000 for a longer local hunt

    ran = []

    @settings(SETTINGS, max_examples=examples)
    @given(csv_files(multiline))
    def run(generated) -> None:
        ran.append(1)
        _check(root, *generated)

    run()
    assert len(ran) >= examples  # the generated cases really ran (reported by the team)
