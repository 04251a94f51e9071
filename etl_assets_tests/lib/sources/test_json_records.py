"""JSON / JSON Lines / Parquet: nothing lost. Mixed types stay text, bad records and repeated
keys are rejected rows, empty files are 0 rows, nested values are JSON, every reader reports
its physical input, and whatever a reader returns can be stored in every storage format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from upath import UPath

from etl_assets.lib.io import FORMATS, read_frame, write_frame
from etl_assets.lib.sources import SourceReadError, read_source, source_files
from etl_assets.lib.sources.json import read_json_file, read_jsonl_file
from etl_assets.lib.sources.parquet import read_parquet_file
from etl_assets.lib.sources.physical import PhysicalInput, physical_of
from etl_assets.lib.transforms import clean_table
from etl_assets_tests.lib.sources.conftest import make_spec
from etl_assets_tests.lib.transforms.helpers import clean_spec

READERS = {"json": read_json_file, "jsonl": read_jsonl_file, "parquet": read_parquet_file}
MIXED = [{"id": 1}, {"id": "2"}, {"id": 3}, {"id": "four"}]


def _read(root: Path, path: str, fmt: str, **fields) -> pd.DataFrame:
    return read_source(make_spec(format=fmt, path=path, **fields), root, name="src")


def _physical(root: Path, path: str, fmt: str, **fields) -> tuple[pd.DataFrame, PhysicalInput]:
    spec = make_spec(format=fmt, path=path, **fields)
    (file,) = source_files(spec, root, path, name="src")
    frame = READERS[fmt](file, spec)
    physical = physical_of(frame)
    assert physical is not None
    return frame, physical


def _jsonl(records: list[object]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def assert_storable(frame: pd.DataFrame, tmp_path: Path) -> None:
    """The frame round-trips through every storage format with its values."""
    frame = frame.copy()
    frame.attrs.clear()  # read_source collects the physical count (pyarrow cannot store it)
    for name, fmt in FORMATS.items():
        path = UPath(tmp_path / f"stored.{fmt.extension}")
        write_frame(fmt, frame, path)
        back = read_frame(fmt, path)
        assert list(back.columns) == list(frame.columns), name
        assert len(back) == len(frame), name
        for column in frame.columns:
            left = [None if pd.isna(v) else v for v in frame[column].tolist()]
            right = [None if pd.isna(v) else v for v in back[column].tolist()]
            assert left == right, (name, column)


# --------------------------------------------------------------------------- mixed types


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_mixed_type_key_is_text_and_clean_rejects_only_the_bad_value(
    root, write, tmp_path, fmt
) -> None:
    text = json.dumps(MIXED) if fmt == "json" else _jsonl(MIXED)
    write(f"landing/e.{fmt}", text)
    raw = _read(root, f"landing/e.{fmt}", fmt)
    assert raw["id"].tolist() == ["1", "2", "3", "four"]
    assert_storable(raw, tmp_path)

    result = clean_table(raw, clean_spec({"id": {"type": "int"}}), table="e")
    assert result.clean["id"].tolist() == [1, 2, 3]
    assert result.rejected["_source_row"].tolist() == [4]
    assert result.rejected["_source_file"].tolist() == [f"landing/e.{fmt}"]
    assert result.rejected["_reason"].tolist() == ["id: 'four' is not an int"]
    assert result.stats.conserved()


def test_each_json_type_keeps_its_type_and_mixes_become_json_text(root, write, tmp_path) -> None:
    records = [
        {"b": True, "i": 1, "f": 1, "s": "x", "m": True, "big": 2**64, "l": ["a", 1], "e": {}},
        {"b": False, "i": None, "f": 2.5, "s": None, "m": 2.5, "big": 1, "l": None, "e": {}},
        {"m": [1, {"k": "v"}]},
    ]
    write("t.jsonl", _jsonl(records))
    write("t.json", json.dumps(records))
    for path in ("t.jsonl", "t.json"):
        raw = _read(root, path, path.split(".")[1])
        assert str(raw["b"].dtype) == "bool" or raw["b"].tolist()[:2] == [True, False]
        assert raw["f"].tolist()[:2] == [1.0, 2.5]
        assert raw["s"].tolist()[0] == "x"
        assert raw["m"].tolist() == ["true", "2.5", '[1, {"k": "v"}]']
        assert raw["big"].tolist()[:2] == [str(2**64), "1"]  # beyond int64: text, exact
        assert raw["l"].tolist()[0] == '["a", 1]'
        assert raw["e"].tolist()[:2] == ["{}", "{}"]
        assert_storable(raw, tmp_path)


def test_arrow_and_record_paths_agree_on_columns(root, write) -> None:
    """The fast (Arrow) path and the line-by-line path give the same frame for the same records."""
    records = [
        {"id": 1, "c": {"n": "x", "tags": ["a", "b"]}, "e": {}, "z": None},
        {"id": 2, "c": {"n": "y", "tags": []}, "e": {}, "z": None},
    ]
    write("fast.jsonl", _jsonl(records))
    write("slow.jsonl", _jsonl(records) + "not json\n")  # one bad line forces the slow path
    fast = _read(root, "fast.jsonl", "jsonl")
    slow = _read(root, "slow.jsonl", "jsonl").iloc[:2]
    data = [c for c in fast.columns if not c.startswith("_")]
    assert data == ["id", "c.n", "c.tags", "e", "z"]
    assert [c for c in slow.columns if not c.startswith("_")] == data
    for column in data:
        assert fast[column].tolist() == slow[column].tolist() or fast[column].isna().all()
    assert fast["c.tags"].tolist() == ['["a", "b"]', "[]"]


def test_flatten_clash_is_a_rejected_record(root, write) -> None:
    write("c.jsonl", _jsonl([{"a.b": 1, "a": {"b": 2}}, {"a": {"b": 3}}]))
    frame = _read(root, "c.jsonl", "jsonl")
    assert "same column 'a.b'" in frame["_parse_error"].iloc[0]
    assert frame["a.b"].tolist()[1] == 3
    with pytest.raises(
        SourceReadError, match=r"c\.jsonl, row 1, column 'a\.b': the line: two keys"
    ):
        _read(root, "c.jsonl", "jsonl", json={"on_bad_records": "error"})


# --------------------------------------------------------------------------- duplicate keys


def test_duplicate_keys_are_rejected_records_naming_key_and_values(root, write) -> None:
    write("d.jsonl", '{"id": 1}\n{"id": 2, "id": "two"}\n{"id": 3, "c": {"n": 1, "n": 2}}\n')
    frame = _read(root, "d.jsonl", "jsonl")
    assert frame["id"].tolist()[0] == 1
    assert frame["id"].isna().tolist() == [False, True, True]
    errors = frame["_parse_error"].tolist()
    assert errors[0] is None or pd.isna(errors[0])
    assert errors[1] == 'duplicate key \'id\' (values 2, "two"): {"id": 2, "id": "two"}'
    assert errors[2].startswith("duplicate key 'n' (values 1, 2)")

    result = clean_table(frame, clean_spec({"id": {"type": "int"}}), table="d")
    assert result.clean["id"].tolist() == [1]
    assert result.rejected["_reason_kind"].tolist() == ["parse_error", "parse_error"]
    assert result.rejected["_source_row"].tolist() == [2, 3]
    assert "duplicate key 'id'" in result.rejected["_reason"].iloc[0]


def test_duplicate_keys_as_an_error_name_file_record_and_key(root, write) -> None:
    write("d.json", '[{"id": 1}, {"id": 2, "id": 3}]')
    frame = _read(root, "d.json", "json")
    assert frame["_parse_error"].tolist()[1].startswith("duplicate key 'id' (values 2, 3)")
    with pytest.raises(SourceReadError) as caught:
        _read(root, "d.json", "json", json={"on_duplicate_keys": "error"})
    message = str(caught.value)
    assert message.startswith("d.json, row 2, column 'id': record 2 (index 1): duplicate key 'id'")
    assert caught.value.row == 2 and caught.value.column == "id"

    write("d.jsonl", '{"id": 1}\n\n{"id": 2, "id": 3}\n')
    with pytest.raises(
        SourceReadError, match=r"^d\.jsonl, row 3, column 'id': the line: duplicate key"
    ):
        _read(root, "d.jsonl", "jsonl", json={"on_duplicate_keys": "error"})


def test_duplicate_key_outside_the_records_is_an_error(root, write) -> None:
    write("w.json", '{"data": [{"id": 1}], "data": [{"id": 2}]}')
    with pytest.raises(
        SourceReadError, match=r"^w\.json: duplicate key 'data' .* outside the records"
    ):
        _read(root, "w.json", "json", json={"record_path": "data"})


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize(
    ("name", "content", "fields"),
    [
        ("zero.json", "", {}),
        ("blank.json", "  \n", {}),
        ("list.json", "[]", {}),
        ("path.json", '{"data": {"items": []}}', {"json": {"record_path": "data.items"}}),
        ("zero.jsonl", "", {}),
        ("blank.jsonl", "\n  \n\r\n", {}),
    ],
)
def test_empty_file_is_zero_rows_and_cleans_to_the_declared_columns(
    root, write, tmp_path, name, content, fields
) -> None:
    fmt = name.split(".")[1]
    write(name, content)
    raw = _read(root, name, fmt, **fields)
    assert len(raw) == 0
    assert_storable(raw, tmp_path)
    spec = clean_spec({"id": {"type": "int", "required": True}, "name": {"type": "string"}})
    result = clean_table(raw, spec, table="t")
    assert list(result.clean.columns) == ["id", "name"]
    assert str(result.clean["id"].dtype) == "Int64" and len(result.clean) == 0
    assert len(result.rejected) == 0


def test_all_records_rejected_still_cleans(root, write) -> None:
    write("bad.jsonl", "oops\n[1]\n")
    raw = _read(root, "bad.jsonl", "jsonl")
    result = clean_table(raw, clean_spec({"id": {"type": "int"}}), table="t")
    assert len(result.clean) == 0
    assert result.rejected["_source_row"].tolist() == [1, 2]
    assert result.stats.conserved()


def test_missing_declared_column_is_still_an_error_when_records_exist(root, write) -> None:
    write("e.jsonl", '{"other": 1}\n')
    raw = _read(root, "e.jsonl", "jsonl")
    with pytest.raises(ValueError, match="input has no column 'id'"):
        clean_table(raw, clean_spec({"id": {"type": "int"}}), table="t")


# --------------------------------------------------------------------------- nested Parquet


def test_nested_parquet_values_declared_string_are_json(root, tmp_path) -> None:
    table = pa.table(
        {
            "tags": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
            "address": pa.array([{"city": "Y", "zip": "01"}, {"city": None, "zip": "02"}, None]),
            "attrs": pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64())),
        }
    )
    pq.write_table(table, root / "n.parquet")
    raw = _read(root, "n.parquet", "parquet")
    spec = clean_spec({name: {"type": "string"} for name in ("tags", "address", "attrs")})
    clean = clean_table(raw, spec, table="n").clean
    assert clean["tags"].tolist()[0] == '["a", "b"]' and clean["tags"].tolist()[2] == "[]"
    assert pd.isna(clean["tags"].tolist()[1])
    assert clean["address"].tolist()[:2] == [
        '{"city": "Y", "zip": "01"}',
        '{"city": null, "zip": "02"}',
    ]
    assert clean["attrs"].tolist()[:2] == ['{"k": 1}', "{}"]
    for value in [*clean["tags"].dropna(), *clean["address"].dropna(), *clean["attrs"].dropna()]:
        json.loads(value)
    assert_storable(clean, tmp_path)


def test_nested_values_in_reasons_are_json(root) -> None:
    pq.write_table(pa.table({"n": pa.array([[1, 2]], pa.list_(pa.int64()))}), root / "r.parquet")
    raw = _read(root, "r.parquet", "parquet")
    result = clean_table(raw, clean_spec({"n": {"type": "int"}}), table="r")
    assert result.rejected["_reason"].tolist() == ["n: '[1, 2]' is not an int"]
    assert result.rejected["n"].tolist() == ["[1, 2]"]


# --------------------------------------------------------------------------- physical input


def test_jsonl_physical_counts_lines_blank_lines_and_rows(root, write) -> None:
    data = '{"id": 1}\n\n   \n{"id": 2}\nnot json\n{"id": 3}'  # no final newline
    write("p.jsonl", data)
    frame, physical = _physical(root, "p.jsonl", "jsonl")
    assert physical.bytes == len(data.encode())
    assert (physical.unit, physical.units, dict(physical.detail)) == (
        "lines",
        6,
        {"blank_lines": 2},
    )
    assert physical.expected_rows == physical.emitted_rows == len(frame) == 4
    assert physical.conserved


def test_jsonl_physical_counts_bytes_of_the_decompressed_file(root, write) -> None:
    write("p.jsonl.gz", '{"id": 1}\n{"id": 2}\n')
    _, physical = _physical(root, "p.jsonl.gz", "jsonl")
    assert (physical.bytes, physical.units, physical.expected_rows) == (20, 2, 2)


def test_json_physical_counts_records(root, write) -> None:
    write("p.json", json.dumps({"data": [{"id": 1}, [2], {"id": 3}]}))
    frame, physical = _physical(root, "p.json", "json", json={"record_path": "data"})
    assert (physical.unit, physical.units, physical.expected_rows, physical.emitted_rows) == (
        "records",
        3,
        3,
        3,
    )
    assert len(frame) == 3
    write("empty.json", "")
    _, empty = _physical(root, "empty.json", "json")
    assert (empty.bytes, empty.units, empty.expected_rows, empty.emitted_rows) == (0, 0, 0, 0)


def test_parquet_physical_counts_footer_rows_and_row_groups(root) -> None:
    pq.write_table(pa.table({"x": list(range(10))}), root / "p.parquet", row_group_size=4)
    frame, physical = _physical(root, "p.parquet", "parquet")
    assert physical.bytes == (root / "p.parquet").stat().st_size
    assert (physical.unit, physical.units, dict(physical.detail)) == ("rows", 10, {"row_groups": 3})
    assert physical.expected_rows == physical.emitted_rows == len(frame) == 10
