"""``format: epoch_s`` / ``epoch_ms`` / ``epoch_us``: Unix epoch numbers read as instants."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from etl_assets.lib.quality.inference import draft_yaml, infer_files
from etl_assets.lib.spec.loader import parse_spec
from etl_assets.lib.transforms import clean_table
from etl_assets_tests.lib.transforms.helpers import clean_one as one


def test_epoch_seconds_from_text_naive_column_keeps_utc_wall_time() -> None:
    result = one(
        ["1356998400", " 1357084800 ", "1356998400.25", None], type="datetime", format="epoch_s"
    )
    assert result.clean["x"].tolist()[:3] == [
        pd.Timestamp("2013-01-01 00:00:00"),
        pd.Timestamp("2013-01-02 00:00:00"),
        pd.Timestamp("2013-01-01 00:00:00.25"),
    ]
    assert str(result.clean["x"].dtype) == "datetime64[us]" and len(result.rejected) == 0


def test_epoch_milliseconds_from_numbers_in_a_timezone() -> None:
    values = pd.Series([1356998400123, 1357084800000, None], dtype="Int64")
    result = one(values, type="datetime", format="epoch_ms", timezone="America/New_York")
    first = result.clean["x"].iloc[0]
    assert first == pd.Timestamp("2013-01-01 00:00:00.123", tz="UTC")
    assert str(first.tz) == "America/New_York" and first.hour == 19


def test_epoch_microseconds_and_dates() -> None:
    assert one(["1356998400000001"], type="datetime", format="epoch_us").clean["x"].iloc[
        0
    ] == pd.Timestamp("2013-01-01 00:00:00.000001")
    assert one(["1357084799"], type="date", format="epoch_s").clean["x"].iloc[0] == dt.date(
        2013, 1, 1
    )


@pytest.mark.parametrize("bad", ["abc", "1e3", "2013-01-01", "99999999999999999", "-99999999999"])
def test_values_that_are_not_epoch_numbers_in_range_are_rejected(bad: str) -> None:
    result = one(["1356998400", bad], type="datetime", format="epoch_s")
    assert result.rejected["x"].tolist() == [bad]
    assert result.rejected["_reason"].iloc[0] == f"x: '{bad}' is not a datetime (epoch_s)"


def test_inferred_epoch_columns_draft_a_format_that_cleans_every_value(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "created_ts": [1356998400, 1370044800, 1388534399],
            "event_time_ms": [1356998400000, 1356998460500, 1356998520000],
        }
    )
    frame.to_csv(tmp_path / "events.csv", index=False)
    report, frames = infer_files([tmp_path / "events.csv"], tmp_path)
    spec = parse_spec(draft_yaml(report, "ev", frames))
    columns = spec.clean["events"].columns
    assert (columns["created_ts"].type, columns["created_ts"].format) == ("datetime", "epoch_s")
    assert (columns["event_time_ms"].type, columns["event_time_ms"].format) == (
        "datetime",
        "epoch_ms",
    )
    raw = frame.astype("str")
    raw["_source_row"] = range(1, 4)
    result = clean_table(raw, spec.clean["events"], table="events")
    assert len(result.rejected) == 0
    assert result.clean["created_ts"].iloc[-1] == pd.Timestamp("2013-12-31 23:59:59", tz="UTC")
    assert result.clean["event_time_ms"].iloc[1] == pd.Timestamp("2013-01-01 00:01:00.5", tz="UTC")
