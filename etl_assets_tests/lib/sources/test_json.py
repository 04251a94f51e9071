"""JSON documents and JSON Lines: records, flattening, and errors that name the line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from etl_assets.lib.sources import SourceReadError, read_source
from etl_assets_tests.lib.sources.conftest import make_spec


def _read(root, path: str, fmt: str = "json", **fields):
    return read_source(make_spec(format=fmt, path=path, **fields), root, name="src")


def test_json_array_is_flattened_with_record_numbers(root, write):
    records = [
        {"id": 1, "customer": {"name": "Ann", "address": {"zip": "01234"}}, "tags": ["a"]},
        {"id": 2, "customer": {"name": "Bob"}, "extra": True},
    ]
    write("landing/o.json", json.dumps(records, indent=2))
    frame = _read(root, "landing/o.json")
    assert list(frame.columns) == [
        "id",
        "customer.name",
        "customer.address.zip",
        "tags",
        "extra",
        "_source_file",
        "_source_row",
        "_parse_error",
    ]
    # Lists are their JSON text: storable in every format (CSV has no nested columns).
    assert frame["tags"].tolist()[0] == '["a"]'
    assert frame["_parse_error"].isna().all()
    assert frame["extra"].tolist()[1] is True
    assert frame["customer.name"].tolist() == ["Ann", "Bob"]
    assert frame["customer.address.zip"].tolist()[0] == "01234"
    assert pd.isna(frame["customer.address.zip"].tolist()[1])
    assert frame["id"].tolist() == [1, 2]
    assert frame["_source_row"].tolist() == [1, 2]
    assert frame["_source_file"].tolist() == ["landing/o.json"] * 2


def test_json_without_flatten_keeps_nested_objects(root, write):
    write("o.json", json.dumps([{"id": 1, "c": {"n": "x"}}]))
    frame = _read(root, "o.json", json={"flatten": False})
    assert frame["c"].tolist() == ['{"n": "x"}']
    assert json.loads(frame["c"].iloc[0]) == {"n": "x"}


def test_json_record_path(root, write):
    write(
        "o.json", json.dumps({"meta": {"page": 1}, "data": {"items": [{"id": "a"}, {"id": "b"}]}})
    )
    frame = _read(root, "o.json", json={"record_path": "data.items"})
    assert frame["id"].tolist() == ["a", "b"]
    with pytest.raises(
        SourceReadError,
        match=r"o\.json: record_path 'data\.rows': data has no key 'rows' \(keys: \['items'\]\)",
    ):
        _read(root, "o.json", json={"record_path": "data.rows"})


def test_json_object_without_record_path_suggests_one(root, write):
    write("o.json", json.dumps({"items": [{"id": 1}]}))
    with pytest.raises(
        SourceReadError, match=r"not a list of records; set json\.record_path .*\['items'\]"
    ):
        _read(root, "o.json")


def test_malformed_json_names_line_and_column(root, write):
    write("landing/bad.json", '[\n  {"id": 1},\n  {"id": 2,,}\n]\n')
    with pytest.raises(SourceReadError) as caught:
        _read(root, "landing/bad.json")
    assert str(caught.value).startswith("landing/bad.json, line 3: malformed JSON")
    assert "column 12" in str(caught.value)
    assert caught.value.line == 3


def test_non_object_record_names_its_position(root, write):
    write("o.json", json.dumps([{"id": 1}, {"id": 2}, [3]]))
    with pytest.raises(
        SourceReadError, match=r"o\.json, row 3: record 3 \(index 2\) is a list, not an object"
    ):
        _read(root, "o.json", json={"on_bad_records": "error"})
    frame = _read(root, "o.json")
    assert frame["id"].tolist()[:2] == [1, 2]
    assert pd.isna(frame["id"].iloc[2])
    assert frame["_parse_error"].tolist()[2] == "record 3 (index 2) is a list, not an object: [3]"


def test_jsonl_rows_are_line_numbers_and_blank_lines_skipped(root, write):
    lines = [
        '{"id": 1, "when": "2024-01-01", "c": {"n": "x"}}',
        "",
        "   ",
        '{"id": 2, "when": "2024-01-02 10:00:00"}',
    ]
    write("landing/e.jsonl", "\n".join(lines) + "\n")
    frame = _read(root, "landing/e.jsonl", "jsonl")
    assert frame["id"].tolist() == [1, 2]
    assert frame["_source_row"].tolist() == [1, 4]
    # Date-like strings stay the text that landed (Arrow would make them timestamps).
    assert frame["when"].tolist() == ["2024-01-01", "2024-01-02 10:00:00"]
    assert frame["c.n"].tolist()[0] == "x"
    assert list(frame.columns)[-3:] == ["_source_file", "_source_row", "_parse_error"]


def test_jsonl_mixed_types_fall_back_and_keep_values(root, write):
    write("m.jsonl", '{"v": 1}\n\n{"v": "one"}\n')
    frame = _read(root, "m.jsonl", "jsonl")
    assert frame["v"].tolist() == ["1", "one"]
    assert frame["_source_row"].tolist() == [1, 3]


def test_jsonl_bad_line_is_named(root, write):
    good = [json.dumps({"id": i}) for i in range(1, 6)]
    write("landing/e.jsonl", "\n".join([*good[:3], "", '{"id": 4,', *good[4:]]) + "\n")
    with pytest.raises(SourceReadError) as caught:
        _read(root, "landing/e.jsonl", "jsonl", json={"on_bad_records": "error"})
    assert str(caught.value).startswith("landing/e.jsonl, row 5: malformed JSON")
    assert caught.value.row == 5
    frame = _read(root, "landing/e.jsonl", "jsonl")
    assert frame["_source_row"].tolist() == [1, 2, 3, 5, 6]
    assert frame["_parse_error"].notna().tolist() == [False, False, False, True, False]
    assert frame["_parse_error"].iloc[3].startswith("malformed JSON: ")
    assert frame["_parse_error"].iloc[3].endswith(': {"id": 4,')


def test_jsonl_non_object_line_is_named(root, write):
    write("e.jsonl", '{"id": 1}\n[1, 2]\n')
    with pytest.raises(SourceReadError, match=r"e\.jsonl, row 2: the line is a list, not an object"):
        _read(root, "e.jsonl", "jsonl", json={"on_bad_records": "error"})
    frame = _read(root, "e.jsonl", "jsonl")
    assert frame["_parse_error"].tolist()[1] == "the line is a list, not an object: [1, 2]"


def test_jsonl_gzip(root, write):
    write("e.jsonl.gz", '{"id": "007"}\n{"id": "008"}\n')
    frame = _read(root, "e.jsonl.gz", "jsonl")
    assert frame["id"].tolist() == ["007", "008"]
    assert frame["_source_file"].tolist() == ["e.jsonl.gz"] * 2


def test_jsonl_non_utf8_names_the_line_and_latin1_reads(root, write):
    write("e.jsonl", '{"c": "ok"}\n{"c": "Z\u00fcrich"}\n'.encode("latin-1"))
    with pytest.raises(SourceReadError, match=r"^e\.jsonl, row 2: not valid UTF-8: byte 0xfc"):
        _read(root, "e.jsonl", "jsonl", json={"on_bad_records": "error"})
    rejected = _read(root, "e.jsonl", "jsonl")
    assert rejected["c"].tolist()[0] == "ok"
    assert "set `encoding: latin-1`" in rejected["_parse_error"].iloc[1]
    assert _read(root, "e.jsonl", "jsonl", encoding="latin-1")["c"].tolist() == [
        "ok",
        "Z\u00fcrich",
    ]
