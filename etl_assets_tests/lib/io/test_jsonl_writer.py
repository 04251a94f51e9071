"""The JSON Lines writer: every line is valid JSON equal to the value that went in."""

from __future__ import annotations

import decimal
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pytest

from etl_assets.lib.io import write_jsonl

TRICKY_STRINGS = [
    'comma, "quote"',
    "new\nline",
    "cr\rlf\r\n",
    "tab\there",
    "back\\slash \\n not a newline",
    "bell\x07 nul\x00 vt\x0b esc\x1b unit\x1f",
    "form\ffeed back\bspace",
    "naïve café 漢字 🎉 \u2028",
    "",
    "null",
    '}{":,',
    None,
]


def lines_of(data: pa.Table | pd.DataFrame, chunk_rows: int = 3) -> list[dict]:
    sink = io.BytesIO()
    written = write_jsonl(data, sink, chunk_rows=chunk_rows)
    raw = sink.getvalue()
    assert written == len(raw)
    assert raw.endswith(b"\n") or not raw
    return [json.loads(line) for line in raw.decode("utf-8").split("\n")[:-1]]


def test_strings_are_escaped_exactly_across_chunks() -> None:
    frame = pd.DataFrame({"s": pd.array(TRICKY_STRINGS, dtype="str")})
    assert [r["s"] for r in lines_of(frame)] == TRICKY_STRINGS


def test_control_characters_only_in_some_chunks() -> None:
    # chunk 1 has no escapes, chunk 2 only simple ones, chunk 3 a rare control character
    values = ["a", "b", "c", 'q"', "n\n", "t\t", "x\x01", "y", None]
    assert [r["s"] for r in lines_of(pa.table({"s": values}))] == values


def test_column_names_are_escaped() -> None:
    names = ['we"ird', "back\\slash", "new\nline", "ünï", ""]
    table = pa.table({n: [i] for i, n in enumerate(names)})
    (record,) = lines_of(table)
    assert list(record) == names and list(record.values()) == list(range(len(names)))


def test_numbers_booleans_and_nulls() -> None:
    floats = [0.1 + 0.2, 1e300, 5e-324, -0.0, 123456789.123, 1e-7, np.nan, np.inf, -np.inf, None]
    n = len(floats)
    table = pa.table(
        {
            "f": pa.array(floats, pa.float64(), from_pandas=True),
            "f32": pa.array([0.1] * n, pa.float32()),
            "i": pa.array([2**63 - 1, -(2**63), 0, None] + [1] * (n - 4), pa.int64()),
            "u8": pa.array([255] * n, pa.uint8()),
            "b": pa.array([True, False, None] + [True] * (n - 3)),
            "dec": pa.array(
                [
                    decimal.Decimal("12345678901234567890.1234567890"),
                    decimal.Decimal("-0.0100000000"),
                    None,
                ]
                + [None] * (n - 3),
                pa.decimal128(38, 10),
            ),
            "nothing": pa.nulls(n),
        }
    )
    records = lines_of(table)
    expected_f = [None if v is None or not math.isfinite(v) else v for v in floats]
    assert [r["f"] for r in records] == expected_f
    assert all(np.float32(r["f32"]) == np.float32(0.1) for r in records)
    assert [r["i"] for r in records[:4]] == [2**63 - 1, -(2**63), 0, None]
    assert [r["b"] for r in records[:3]] == [True, False, None]
    # decimals are JSON numbers with their exact digits
    sink = io.BytesIO()
    write_jsonl(table, sink)
    first = sink.getvalue().split(b"\n")[0]
    assert b'"dec":12345678901234567890.1234567890' in first
    assert json.loads(first, parse_float=decimal.Decimal)["dec"] == decimal.Decimal(
        "12345678901234567890.1234567890"
    )
    assert all(r["nothing"] is None for r in records)


def test_timestamps_dates_and_categories() -> None:
    frame = pd.DataFrame(
        {
            "utc": pd.to_datetime(
                ["2024-01-01T10:00:00Z", None, "2024-06-01T00:00:01.5Z"], utc=True, format="ISO8601"
            ).as_unit("us"),
            "ny": pd.to_datetime(
                ["2024-03-10T07:30:00Z", "2024-11-03T05:30:00Z", None], utc=True
            ).tz_convert("America/New_York"),
            "naive_ns": pd.to_datetime(
                ["2024-01-01", None, "2024-12-31 23:59:59.123456789"], format="ISO8601"
            ).as_unit("ns"),
            "naive_s": pd.to_datetime(["1969-07-20 20:17:40", None, "2038-01-19 03:14:08"]).as_unit(
                "s"
            ),
            "d": pd.array(
                [pd.Timestamp("2024-01-02").date(), None, pd.Timestamp("1899-12-31").date()],
                dtype=pd.ArrowDtype(pa.date32()),
            ),
            "c": pd.Categorical(["b", None, 'a"'], categories=["c", "b", 'a"']),
        }
    )
    r = lines_of(frame, chunk_rows=2)
    assert [x["utc"] for x in r] == [
        "2024-01-01T10:00:00.000000Z",
        None,
        "2024-06-01T00:00:01.500000Z",
    ]
    assert (
        r[0]["ny"]
        == "2024-03-10T07:30:00" + "." + "0" * (6 if frame["ny"].dt.unit == "us" else 9) + "Z"
    )  # in UTC
    assert [x["naive_ns"] for x in r] == [
        "2024-01-01T00:00:00.000000000",
        None,
        "2024-12-31T23:59:59.123456789",
    ]
    assert [x["naive_s"] for x in r] == ["1969-07-20T20:17:40", None, "2038-01-19T03:14:08"]
    assert [x["d"] for x in r] == ["2024-01-02", None, "1899-12-31"]
    assert [x["c"] for x in r] == ["b", None, 'a"']
    assert [pd.Timestamp(x["ny"]) for x in r[:2]] == list(frame["ny"][:2])


def test_nested_values_fall_back_to_json_dumps() -> None:
    table = pa.table(
        {"l": pa.array([[1, 2], None, []]), "st": pa.array([{"a": "x\n"}, None, {"a": None}])}
    )
    assert lines_of(table) == [
        {"l": [1, 2], "st": {"a": "x\n"}},
        {"l": None, "st": None},
        {"l": [], "st": {"a": None}},
    ]


def test_empty_and_columnless_tables() -> None:
    assert lines_of(pa.table({"a": pa.array([], pa.int64())})) == []
    assert lines_of(pa.table({"a": [1, 2]}).select([])) == [{}, {}]  # rows without columns


def test_output_reads_back_with_pyarrow_json(tmp_path: Path) -> None:
    table = pa.table(
        {
            "a": pa.array(range(1000), pa.int64()),
            "s": pa.array(
                [TRICKY_STRINGS[i % len(TRICKY_STRINGS)] for i in range(1000)], pa.large_string()
            ),
            "t": pa.array(range(1000), pa.timestamp("us", "UTC")),
            "f": pa.array([i / 7 for i in range(1000)]),
        }
    )
    path = tmp_path / "x.jsonl"
    write_jsonl(table, str(path), chunk_rows=128)
    back = pajson.read_json(path, parse_options=pajson.ParseOptions(explicit_schema=table.schema))
    assert back.equals(table)


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_frame_and_table_inputs_agree(chunk_rows: int) -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array(range(20), dtype="Int64"),
            "s": pd.array([f"v{i}" for i in range(20)], dtype="str"),
        }
    )
    from_frame = lines_of(frame, chunk_rows)
    assert from_frame == lines_of(pa.Table.from_pandas(frame, preserve_index=False), chunk_rows)
    assert [r["i"] for r in from_frame] == list(range(20))
