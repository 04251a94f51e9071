"""Property tests: generated malformed JSON Lines and JSON documents lose nothing.

Each generated file mixes good records (an int ``id``, as a number or as text, next to random
nested values of changing types) with bad ones: ids that are not ints or are missing, repeated
keys (at the top or nested), truncated lines, lines that are not objects, garbage, invalid
UTF-8, blank lines; in UTF-8 (with or without BOM), Latin-1 or UTF-16, with ``\\n`` or
``\\r\\n``. For every file:

- the reader does not fail (``reject`` is the default for bad records and repeated keys);
- its physical count is the file's own line/record count and matches the rows it returned;
- the raw frame can be stored in every storage format (Parquet, CSV, JSON Lines) and read back;
- after the clean step (``id: int, required``) every good record is in the clean table with its
  id, every bad one is in the rejected table at its line/record, and clean + rejected = the
  physical rows.

Truncated JSON documents fail as a whole, naming the file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_assets.lib.sources import SourceReadError, read_source, source_files
from etl_assets.lib.sources.json import read_json_file, read_jsonl_file
from etl_assets.lib.sources.physical import physical_of
from etl_assets.lib.transforms import CleanError, clean_table
from etl_assets_tests.lib.sources.conftest import make_spec
from etl_assets_tests.lib.sources.test_json_records import assert_storable
from etl_assets_tests.lib.transforms.helpers import clean_spec

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPEC = clean_spec({"id": {"type": "int", "required": True}})
EXTRA_KEYS = ["name", "tags", "meta", "n"]
_BAD_BYTE = "\u0000BADBYTE\u0000"
INT64 = 2**63


@dataclass(frozen=True)
class Record:
    """One line (JSON Lines) or list element (JSON) and what must become of it."""

    text: str
    #: "good" (clean with ``good_id``), "bad" (rejected), "blank" (no row; JSON Lines only)
    fate: str
    good_id: int | None = None
    #: The reader can parse it and it has a top-level ``id`` key (that is not a nested object).
    gives_id_column: bool = False


def _strings(encoding: str) -> st.SearchStrategy[str]:
    top = 0xFF if encoding == "latin-1" else 0x2FFF
    return st.text(st.characters(max_codepoint=top, exclude_categories=("Cs",)), max_size=6)


def _values(encoding: str) -> st.SearchStrategy[object]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        _strings(encoding),
    )
    return st.recursive(
        scalars,
        lambda kids: (
            st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from("abc"), kids, max_size=3)
        ),
        max_leaves=5,
    )


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _object(pairs: list[tuple[str, str]]) -> str:
    """An object's text from (key, value text) pairs: keys may repeat, which json.dumps cannot do."""
    return "{" + ", ".join(f"{_dumps(key)}: {value}" for key, value in pairs) + "}"


@st.composite
def _extras(draw: st.DrawFn, encoding: str) -> list[tuple[str, str]]:
    keys = draw(st.lists(st.sampled_from(EXTRA_KEYS), unique=True, max_size=3))
    return [(key, _dumps(draw(_values(encoding)))) for key in keys]


@st.composite
def _good(draw: st.DrawFn, encoding: str) -> tuple[list[tuple[str, str]], int]:
    value = draw(st.integers(-(INT64), INT64 - 1))
    shape = draw(st.sampled_from(["number", "text", "float"]))
    if shape == "float" and abs(value) < 10**15:
        text = _dumps(float(value))
    elif shape == "text":
        text = _dumps(str(value))
    else:
        text = _dumps(value)
    pairs = [("id", text), *draw(_extras(encoding))]
    return draw(st.permutations(pairs)), value


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@st.composite
def records(draw: st.DrawFn, encoding: str, lines: bool) -> Record:
    kinds = ["good", "good", "bad_id", "missing_id", "duplicate", "truncated", "non_object"]
    if lines:
        kinds += ["garbage", "blank"] + (["bad_utf8"] if encoding == "utf-8" else [])
    kind = draw(st.sampled_from(kinds))
    pairs, value = draw(_good(encoding))
    if kind == "good":
        return Record(_object(pairs), "good", value, True)
    if kind == "bad_id":
        bad = draw(
            st.one_of(
                st.sampled_from(
                    ['"four"', '"2.5"', "2.5", "true", "[1]", '""', str(INT64), str(-INT64 - 1)]
                ),
                st.builds(_dumps, st.lists(st.integers(), min_size=1, max_size=2)),
            )
        )
        pairs = [(key, bad if key == "id" else text) for key, text in pairs]
        return Record(_object(pairs), "bad", None, True)
    if kind == "missing_id":
        nulled = draw(st.booleans())
        pairs = [
            (key, "null" if key == "id" else text) for key, text in pairs if nulled or key != "id"
        ]
        return Record(_object(pairs), "bad", None, nulled)
    if kind == "duplicate":
        nested = draw(st.booleans())
        if nested:
            inner = _object([("a", "1"), ("a", draw(st.sampled_from(['"x"', "2", "null"])))])
            pairs = [*pairs, ("meta_dup", inner)]
        else:
            key, text = draw(st.sampled_from(pairs))
            pairs = [*pairs, (key, draw(st.sampled_from([text, '"other"', "0"])))]
        return Record(_object(pairs), "bad", None, False)
    if kind == "truncated":
        text = _object(pairs)
        cut = draw(st.integers(1, len(text) - 1))
        return Record(text[:cut], "bad")
    if kind == "non_object":
        return Record(
            _dumps(draw(_values(encoding).filter(lambda v: not isinstance(v, dict)))), "bad"
        )
    if kind == "garbage":
        text = draw(st.text(alphabet='xyz{}[]:,"0 \t', min_size=1, max_size=8).filter(str.strip))
        return Record(text, "bad")
    if kind == "bad_utf8":
        return Record(_object([*pairs, ("bad", f'"{_BAD_BYTE}"')]), "bad")
    return Record(draw(st.sampled_from(["", " ", "\t", "  \t "])), "blank")


@dataclass(frozen=True)
class File:
    records: list[Record]
    encoding: str
    bom: bool
    newline: str
    final_newline: bool

    def content(self, lines: bool, wrapped: bool = False) -> bytes:
        if lines:
            text = self.newline.join(r.text for r in self.records)
            text += self.newline if self.final_newline and self.records else ""
        else:
            text = (
                "[" + ("," + self.newline).join(r.text for r in self.records) + "]" + self.newline
            )
            if wrapped:
                text = '{"meta": {"page": 1}, "data": ' + text + "}"
        if self.encoding == "utf-8":
            data = text.encode("utf-8").replace(_BAD_BYTE.encode(), b"caf\xe9")
            return (b"\xef\xbb\xbf" if self.bom else b"") + data
        return text.encode(self.encoding)  # utf-16 writes its own byte-order mark


@st.composite
def files(draw: st.DrawFn, lines: bool) -> File:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
    kept = draw(st.lists(records(encoding, lines), max_size=8))
    if not lines:  # a JSON document's elements: no blank or undecodable ones
        kept = [r for r in kept if r.fate != "blank"]
    return File(
        kept,
        encoding,
        draw(st.booleans()),
        draw(st.sampled_from(["\n", "\r\n"])),
        draw(st.booleans()),
    )


def _check(frame: pd.DataFrame, numbered: list[tuple[int, Record]], tmp_path: Path) -> None:
    """Storable raw; good records clean, bad ones rejected at their row; counts add up."""
    assert_storable(frame, tmp_path)
    rows = [(number, r) for number, r in numbered if r.fate != "blank"]
    assert frame["_source_row"].tolist() == [number for number, _ in rows]
    if "id" not in frame.columns:
        assert not any(r.gives_id_column for _, r in rows)
        if any(not c.startswith("_") for c in frame.columns):
            # Records were read, none with an ``id``: the declared column is missing, an error.
            with pytest.raises(CleanError, match="input has no column 'id'"):
                clean_table(frame, SPEC, table="t")
            return
    result = clean_table(frame, SPEC, table="t")
    assert result.clean["id"].tolist() == [r.good_id for _, r in rows if r.fate == "good"]
    assert result.rejected["_source_row"].tolist() == [n for n, r in rows if r.fate == "bad"]
    assert len(result.clean) + len(result.rejected) == len(rows)
    assert result.stats.conserved()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    (root / name).write_bytes(data)
    return root


def _read_one(root: Path, name: str, fmt: str, encoding: str, flatten: bool = True):
    spec = make_spec(format=fmt, path=name, encoding=encoding, json={"flatten": flatten})
    (file,) = source_files(spec, root, name, name="src")
    frame = (read_jsonl_file if fmt == "jsonl" else read_json_file)(file, spec)
    physical = physical_of(frame)
    assert physical is not None
    return frame, physical


@SETTINGS
@given(generated=files(lines=True), flatten=st.booleans())
def test_generated_json_lines_lose_nothing(
    tmp_path_factory: pytest.TempPathFactory, generated: File, flatten: bool
) -> None:
    tmp_path = tmp_path_factory.mktemp("jsonl")
    data = generated.content(lines=True)
    root = _write(tmp_path, "e.jsonl", data)
    frame, physical = _read_one(root, "e.jsonl", "jsonl", generated.encoding, flatten)

    lines = list(generated.records)
    if lines and not lines[-1].text and not generated.final_newline:
        lines.pop()  # nothing after the last line break: not a line
    numbered = list(enumerate(lines, start=1))
    nonblank = sum(r.fate != "blank" for r in lines)
    assert physical.bytes == len(data)
    assert physical.units == len(lines)
    assert dict(physical.detail) == {"blank_lines": len(lines) - nonblank}
    assert physical.expected_rows == physical.emitted_rows == len(frame) == nonblank
    _check(frame, numbered, tmp_path)


@SETTINGS
@given(generated=files(lines=False), wrapped=st.booleans())
def test_generated_json_documents_lose_nothing(
    tmp_path_factory: pytest.TempPathFactory, generated: File, wrapped: bool
) -> None:
    # A truncated element makes the whole document malformed: tested on its own below. "Ends
    # with }" is not enough to tell it apart: `{"id": 1, "n": {}` is cut after a nested object.
    kept = [r for r in generated.records if not r.text.startswith("{") or _is_json(r.text)]
    generated = File(kept, generated.encoding, generated.bom, generated.newline, True)
    tmp_path = tmp_path_factory.mktemp("json")
    data = generated.content(lines=False, wrapped=wrapped)
    name = "d.json"
    root = _write(tmp_path, name, data)
    spec_fields = {"json": {"record_path": "data"}} if wrapped else {}
    spec = make_spec(format="json", path=name, encoding=generated.encoding, **spec_fields)
    (file,) = source_files(spec, root, name, name="src")
    frame = read_json_file(file, spec)
    physical = physical_of(frame)
    assert physical is not None
    assert physical.bytes == len(data)
    assert (
        physical.units == physical.expected_rows == physical.emitted_rows == len(frame) == len(kept)
    )
    _check(frame, list(enumerate(kept, start=1)), tmp_path)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(generated=files(lines=False), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_json_document_fails_naming_file_and_line(
    tmp_path_factory: pytest.TempPathFactory, generated: File, cut: float
) -> None:
    text = generated.content(lines=False).decode(generated.encoding).lstrip("\ufeff")
    text = text[: int(len(text.rstrip()) * cut)]
    root = _write(tmp_path_factory.mktemp("cut"), "t.json", text.encode("utf-8"))
    if not text.strip():
        assert len(read_source(make_spec(format="json", path="t.json"), root, name="s")) == 0
        return
    with pytest.raises(
        SourceReadError, match=r"^t\.json, line \d+: malformed JSON: .*\(line \d+, column \d+\)"
    ):
        read_source(make_spec(format="json", path="t.json"), root, name="s")
