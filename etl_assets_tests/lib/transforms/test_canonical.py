"""Dirty text columns parsed in two parts (canonical values cast at once, the rest fully parsed)
give exactly what the full parser gives on the whole column: values, failures and messages."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.canonical import (
    canonical_date,
    canonical_datetime,
    canonical_float,
    canonical_int,
)
from etl_assets.lib.transforms.coerce import PARSERS, _split_parse, coerce_array
from etl_assets.lib.transforms.parsed import Coerced
from etl_assets_tests.lib.transforms.helpers import clean_one as one

TEXT = pa.large_string()
CANONICAL_JUDGES = {"int": canonical_int, "float": canonical_float, "date": canonical_date, "datetime": canonical_datetime}


def judged(judge, values: list[str | None]) -> list[bool]:
    result = judge(pa.array(values, type=TEXT))
    return result.tolist()


def test_canonical_int_is_plain_decimal_that_fits() -> None:
    values = ["0", "-5", "007", "123456789012345678", "1234567890123456789", "+1", " 1", "1.0", "-", "", "1e3", "\uff11", None]
    assert judged(canonical_int, values) == [True, True, True, True, False, False, False, False, False, False, False, False, False]


def test_canonical_float_needs_digits_around_the_point() -> None:
    values = ["1.5", "-0.25", "12", "-7", ".5", "5.", "-.5", "1.2.3", "1e5", "inf", "1,5", " 1.5", "+1.5", "1-2", None]
    expected = [True, True, True, True, False, False, False, False, False, False, False, False, False, False, False]
    assert judged(canonical_float, values) == expected


def test_canonical_dates_are_on_the_calendar() -> None:
    values = ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "0000-01-01", "2024-1-05", " 2024-01-05", None]
    assert judged(canonical_date, values) == [True, False, False, True, False, False, False, False, False, False, False]


def test_canonical_datetimes_are_iso_seconds_with_optional_z() -> None:
    values = [
        "2024-01-01T10:00:00Z", "2024-01-01 10:00:00", "2024-01-01T10:00:00", "2024-01-01T24:00:00Z",
        "2024-01-01T23:59:60Z", "2024-02-30T10:00:00Z", "2024-01-01t10:00:00z", "2024-01-01T10:00",
        "2024-01-01T10:00:00+01:00", "2024-01-01T10:00:00.5Z", "2024-01-01X10:00:00Z", None,
    ]
    expected = [True, True, True, False, False, False, False, False, False, False, False, False]
    assert judged(canonical_datetime, values) == expected


def test_a_judged_column_of_sliced_string_arrays_uses_its_own_values() -> None:
    array = pa.array(["x", "12", "-3", "y", "4"], type=pa.string()).slice(1, 3)
    assert canonical_int(array).tolist() == [True, True, False]


# --------------------------------------------------------------------------- two parts == whole

ODD = {
    "int": ["+12", "12.0", "12.5", " 42 ", "1e3", "9223372036854775808", "-", "12a", "\u00a012", "1_000"],
    "float": [".5", "5.", "1e5", "inf", "NaN", "1,5", "1.2.3", " 3.25", "+1.5", "1e400", "abc"],
    "date": ["2024-02-30", "2023-02-29", "2024-13-01", "0000-01-01", " 2024-01-05", "2024-1-5", "2024-01-01T00:00:00", "x"],
    "datetime": [
        "2024-02-30T10:00:00Z", "2023-02-29T10:00:00Z", "2024-01-01t10:00:00z", "2024-01-01T10:00", "2024-01-01",
        "2024-01-01T10:00:00.1234567Z", "2024-01-01T10:00:00+01:00", "2024-01-01T24:00:00Z", "0000-01-01T00:00:00Z",
        "2024-03-31T02:30:00", "2024-10-27T02:30:00", "2024-01-01T10:00:00 ", "x",
    ],
}
PLAIN = {
    "int": st.integers(-(10**12), 10**12).map(str),
    "float": st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.4f}"),
    "date": st.dates().filter(lambda d: d.year >= 1).map(lambda d: d.isoformat()),
    "datetime": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S")).filter(lambda s: not s.startswith("0000")).flatmap(
        lambda s: st.sampled_from([s, s + "Z", s.replace("T", " ")])
    ),
}
SPECS = {
    "int": [ColumnSpec(type="int")],
    "float": [ColumnSpec(type="float"), ColumnSpec(type="float", trim=False)],
    "date": [ColumnSpec(type="date")],
    "datetime": [ColumnSpec(type="datetime"), ColumnSpec(type="datetime", timezone="UTC"), ColumnSpec(type="datetime", timezone="Europe/Berlin")],
}


def by_message(coerced: Coerced) -> dict[str, list[int]]:
    return {f.message: np.flatnonzero(f.mask).tolist() for f in coerced.failures}


def assert_same(split: Coerced, whole: Coerced) -> None:
    assert split.values.type == whole.values.type
    if pa.types.is_floating(whole.values.type):  # NaN (from "NaN" text) equals itself here
        assert (split.values.is_valid().to_pylist()) == whole.values.is_valid().to_pylist()
        assert np.array_equal(split.values.to_numpy(zero_copy_only=False), whole.values.to_numpy(zero_copy_only=False), equal_nan=True)
    else:
        assert split.values.equals(whole.values)
    assert by_message(split) == by_message(whole)
    assert [f.message for f in split.failures] == [f.message for f in whole.failures]


@pytest.mark.parametrize("kind", sorted(ODD))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_two_parts_give_what_the_full_parser_gives(kind: str, data: st.DataObject) -> None:
    plain = data.draw(st.lists(PLAIN[kind], min_size=1, max_size=60))
    odd = data.draw(st.lists(st.sampled_from(ODD[kind]), min_size=1, max_size=20))
    nulls = data.draw(st.lists(st.none(), max_size=5))
    values = data.draw(st.permutations(plain + odd + nulls))
    odd_first = data.draw(st.booleans())  # the sample decides between whole cast and screen first
    if odd_first:
        values = odd[:1] + values
    array = pa.array(values, type=TEXT)
    for spec in SPECS[kind]:
        whole = PARSERS[kind](array, spec)
        assert_same(coerce_array(array, spec), whole)


def test_the_split_is_taken_for_a_mostly_plain_dirty_column() -> None:
    values = [str(i) for i in range(1000)] + ["12a", "+7", " 8"] * 10
    array = pa.array(values, type=TEXT)
    split = _split_parse(array, ColumnSpec(type="int"))
    assert split is not None
    assert_same(split, PARSERS["int"](array, ColumnSpec(type="int")))
    assert split.values.to_pylist()[-3:] == [None, 7, 8]


def test_a_mostly_odd_or_clean_column_is_parsed_whole() -> None:
    odd = pa.array(["+1"] * 10 + ["1"] * 5, type=TEXT)
    assert _split_parse(odd, ColumnSpec(type="int")) is None
    formatted = pa.array(["01/02/2024"] * 5, type=TEXT)
    assert _split_parse(formatted, ColumnSpec(type="date", format="%d/%m/%Y")) is None


def test_dirty_rows_keep_their_reasons_through_clean_table() -> None:
    values = [f"2024-01-{day:02d}T10:00:00Z" for day in range(1, 29)] * 5 + ["2024-02-30T10:00:00Z", "soon", None]
    result = one(values, type="datetime", timezone="UTC")
    assert len(result.clean) == 141 and result.stats.rows_rejected == 2
    assert result.rejected["_reason"].tolist() == [
        "x: '2024-02-30T10:00:00Z' is not a datetime (ISO 8601)",
        "x: 'soon' is not a datetime (ISO 8601)",
    ]


@pytest.mark.parametrize("kind", sorted(ODD))
def test_blocks_judge_as_the_whole_column(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long columns are judged block by block (temporaries kept in cache): same masks."""
    from etl_assets.lib.transforms import canonical

    plain = {"int": "123", "float": "-1.5", "date": "2024-02-29", "datetime": "2024-02-29T23:59:59Z"}[kind]
    values = [plain, None, *ODD[kind], plain] * 5
    array = pa.array(values, type=TEXT)
    whole = getattr(canonical, f"_canonical_{kind}")(array)
    monkeypatch.setattr(canonical, "_BLOCK_ROWS", 7)
    blocks = CANONICAL_JUDGES[kind](array)
    assert blocks.tolist() == whole.tolist()
    assert whole.any() and not whole.all()
