"""Each storage format gives back exactly the frame it was given, dtypes included."""

from __future__ import annotations

import decimal
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pytest
from upath import UPath

from etl_assets.lib.io import FORMATS, write_jsonl


def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.array([1, None, -3], dtype="Int64"),
            "f": [1.5, np.nan, 0.1 + 0.2],
            "s": pd.array(['comma, "quote"\nnewline é', None, ""], dtype="str"),
            "b": pd.array([True, False, None], dtype="boolean"),
            "t_utc": pd.to_datetime(["2024-01-01T10:00:00Z", None, "2024-06-01T00:00:01.5Z"], utc=True, format="ISO8601").as_unit("us"),
            "t_ny": pd.to_datetime(["2024-03-10T07:30:00Z", "2024-11-03T05:30:00Z", None], utc=True).tz_convert("America/New_York").as_unit("us"),
            "t_naive": pd.to_datetime(["2024-01-01 00:00:00", None, "2024-12-31 23:59:59.25"], format="ISO8601").as_unit("us"),
            "c": pd.Categorical(["a", None, "b"]),
            "d": pd.array([pd.Timestamp("2024-01-02").date(), None, pd.Timestamp("1999-12-31").date()], dtype=pd.ArrowDtype(pa.date32())),
            "dec": pd.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.10")], dtype=pd.ArrowDtype(pa.decimal128(12, 2))),
            "all_null": pd.array([None, None, None], dtype="Int64"),
        }
    )


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_round_trip_keeps_values_and_dtypes(tmp_path: Path, name: str) -> None:
    fmt = FORMATS[name]
    frame = mixed_frame()
    path = UPath(tmp_path / f"table{fmt.extension}")
    fmt.write(frame, path)
    back = fmt.read(path)
    pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_empty_frame_round_trip(tmp_path: Path, name: str) -> None:
    fmt = FORMATS[name]
    frame = mixed_frame().iloc[0:0]
    path = UPath(tmp_path / f"empty{fmt.extension}")
    fmt.write(frame, path)
    back = fmt.read(path)
    assert list(back.columns) == list(frame.columns) and len(back) == 0
    assert back.dtypes.astype(str).equals(frame.dtypes.astype(str))  # categories of an empty column may differ


def test_csv_without_its_schema_file_names_it(tmp_path: Path) -> None:
    fmt = FORMATS["csv"]
    path = UPath(tmp_path / "t.csv")
    fmt.write(mixed_frame(), path)
    (tmp_path / "t.csv.schema").unlink()
    with pytest.raises(FileNotFoundError, match=r"t\.csv\.schema is missing"):
        fmt.read(path)


def test_jsonl_writer_output_is_valid_json_per_line() -> None:
    frame = mixed_frame()
    frame["ctrl"] = pd.array(["bell\x07", "tab\tand\\slash", None], dtype="str")
    frame["inf"] = [np.inf, -np.inf, 2.0]
    sink = io.BytesIO()
    write_jsonl(pa.Table.from_pandas(frame, preserve_index=False), sink, chunk_rows=2)
    lines = sink.getvalue().decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 3
    assert records[0]["s"] == 'comma, "quote"\nnewline é'
    assert records[0]["ctrl"] == "bell\x07" and records[1]["ctrl"] == "tab\tand\\slash"
    assert records[1]["i"] is None and records[1]["f"] is None and records[1]["b"] is False
    assert records[0]["inf"] is None and records[2]["inf"] == 2.0
    assert records[2]["f"] == 0.1 + 0.2  # shortest round-trip repr
    assert records[0]["t_utc"] == "2024-01-01T10:00:00.000000Z"
    assert records[0]["t_ny"] == "2024-03-10T07:30:00.000000Z"  # same instant, written in UTC
    assert records[0]["dec"] == 1.25 and records[0]["d"] == "2024-01-02" and records[0]["c"] == "a"
    assert list(records[0]) == list(frame.columns)


def test_jsonl_is_readable_by_arrow(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": pd.array(range(1000), dtype="Int64"), "s": pd.array([f"v{i}" for i in range(1000)], dtype="str")})
    path = tmp_path / "x.jsonl"
    with path.open("wb") as sink:
        write_jsonl(pa.Table.from_pandas(frame, preserve_index=False), sink, chunk_rows=128)
    table = pajson.read_json(path)
    assert table.num_rows == 1000 and table["a"].to_pylist() == list(range(1000))
