"""Per-type parsing: what each type accepts and rejects, from text (CSV) and native (JSON/Parquet) input."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.lib.transforms.arrays import all_ascii, cast_or_null
from etl_assets.lib.transforms.temporal import calendar_valid, format_pattern, has_zone
from etl_assets_tests.lib.transforms.helpers import clean_one as one


def rejected_values(result) -> list[str]:
    return result.rejected["x"].tolist()


# --------------------------------------------------------------------------- int


def test_int_text_accepts_signs_spaces_and_integral_decimals() -> None:
    result = one([" 12", "+3", "4.0", "4.00", "-0", "0012", "-9223372036854775808", "9223372036854775807"], type="int")
    assert result.clean["x"].tolist() == [12, 3, 4, 4, 0, 12, -(2**63), 2**63 - 1]
    assert str(result.clean["x"].dtype) == "Int64" and len(result.rejected) == 0


def test_int_text_failures_are_rejected_not_nulled() -> None:
    result = one(["1", "4.5", "abc", "1e3", "9223372036854775808", "1 000", None, "  "], type="int")
    assert result.clean["x"].tolist()[:1] == [1] and result.clean["x"].isna().tolist() == [False, True, True]
    assert rejected_values(result) == ["4.5", "abc", "1e3", "9223372036854775808", "1 000"]
    assert result.rejected["_reason"].tolist()[1] == "x: 'abc' is not an int"
    assert result.stats.rejected_by_reason == {"coercion:x": 5}


@pytest.mark.parametrize("neighbours", [["1", "2"], ["1", "abc"], ["1"] * 3000 + ["2.5"]])
def test_int_hex_text_is_rejected_whatever_the_other_values(neighbours: list[str]) -> None:
    """Arrow's int cast reads ``0x1F`` as 31; the int rules do not, clean column or dirty."""
    result = one([*neighbours, "0x1F", "0X10"], type="int")
    assert "0x1F" in rejected_values(result) and "0X10" in rejected_values(result)
    assert 31 not in result.clean["x"].tolist() and 16 not in result.clean["x"].tolist()


def test_int_without_trim_rejects_padded_values() -> None:
    result = one([" 12", "13"], type="int", trim=False)
    assert result.clean["x"].tolist() == [13] and rejected_values(result) == [" 12"]


def test_int_from_native_numbers() -> None:
    result = one(pd.Series([1.0, 2.5, None, 3e19, -4.0]), type="int")
    assert result.clean["x"].tolist()[:1] == [1] and result.clean["x"].tolist()[-1] == -4
    assert result.rejected["_reason"].tolist() == ["x: '2.5' is not an int", "x: '3e+19' is not an int"]
    big = one(pd.Series(np.array([1, 2**63 + 5], dtype=np.uint64)), type="int")
    assert big.clean["x"].tolist() == [1] and len(big.rejected) == 1
    assert one(pd.Series([True]), type="int").rejected["_reason"].tolist() == ["x: 'true' is not an int"]


# --------------------------------------------------------------------------- float


def test_float_text_and_native() -> None:
    result = one(["1.5", "-2e3", " 7 ", ".5", "x", "1,5"], type="float")
    assert result.clean["x"].tolist() == [1.5, -2000.0, 7.0, 0.5]
    assert result.clean["x"].dtype == np.float64
    assert rejected_values(result) == ["x", "1,5"]
    assert one(pd.Series(pd.array([1, None, 3], dtype="Int64")), type="float").clean["x"].tolist()[::2] == [1.0, 3.0]


def test_float_nulls_survive_as_missing() -> None:
    result = one(["1", None, ""], type="float")
    assert result.clean["x"].isna().tolist() == [False, True, True] and len(result.rejected) == 0


# --------------------------------------------------------------------------- decimal


def test_decimal_rejects_more_decimals_than_scale_and_too_many_digits() -> None:
    result = one(["1.25", "1.255", "12345678901.00", "7", "1.2500", "-0.5", "1e2", "1e-5", ".", "abc"], type="decimal", precision=12, scale=2)
    D = decimal.Decimal
    assert result.clean["x"].tolist() == [D("1.25"), D("7.00"), D("1.25"), D("-0.50"), D("100.00")]
    assert str(result.clean["x"].dtype) == "decimal128(12, 2)[pyarrow]"
    assert rejected_values(result) == ["1.255", "12345678901.00", "1e-5", ".", "abc"]
    assert "at most 10 digits before and 2 after the point" in result.rejected["_reason"].iloc[0]


def test_decimal_from_native_floats_uses_their_shortest_text() -> None:
    result = one(pd.Series([0.1, 2.675, 1.005]), type="decimal", precision=6, scale=3)
    assert result.clean["x"].tolist() == [decimal.Decimal("0.100"), decimal.Decimal("2.675"), decimal.Decimal("1.005")]
    assert rejected_values(one(pd.Series([0.1234]), type="decimal", precision=6, scale=3)) == ["0.1234"]


# --------------------------------------------------------------------------- bool


def test_bool_default_values_case_insensitive() -> None:
    result = one(["Yes", "n", "TRUE", "0", " t ", "maybe", "Ja"], type="bool")
    assert result.clean["x"].tolist() == [True, False, True, False, True]
    assert str(result.clean["x"].dtype) == "boolean"
    assert rejected_values(result) == ["maybe", "Ja"]
    assert result.rejected["_reason"].iloc[0] == "x: 'maybe' is not a boolean (true/t/yes/y/1 or false/f/no/n/0)"


def test_bool_custom_values_and_native_input() -> None:
    result = one(["JA", "nein", "yes"], type="bool", true_values=["ja"], false_values=["Nein"])
    assert result.clean["x"].tolist() == [True, False] and rejected_values(result) == ["yes"]
    native = one(pd.Series(pd.array([True, None, False], dtype="boolean")), type="bool")
    assert native.clean["x"].tolist()[::2] == [True, False] and native.clean["x"].isna().sum() == 1
    numbers = one(pd.Series([1, 0, 2]), type="bool")
    assert numbers.clean["x"].tolist() == [True, False] and rejected_values(numbers) == ["2"]


# --------------------------------------------------------------------------- string and category


@pytest.mark.parametrize(
    ("options", "values", "expected"),
    [
        ({}, ["  a  b ", "\tx\n"], ["a  b", "x"]),
        ({"trim": False}, ["  a "], ["  a "]),
        ({"collapse_whitespace": True}, ["a   b", "x\u00a0\u00a0y", " p \t q "], ["a b", "x y", "p q"]),
        ({"case": "lower"}, ["ÀB", "Ab"], ["àb", "ab"]),
        ({"case": "upper"}, ["école", "ab"], ["ÉCOLE", "AB"]),
        ({"case": "title"}, ["new york", "élan vital"], ["New York", "Élan Vital"]),
        ({"unicode_form": "NFC"}, ["Cafe\u0301"], ["Caf\u00e9"]),
        ({"unicode_form": "NFKC"}, ["\uff46\uff55\uff4c\uff4c", "\ufb01"], ["full", "fi"]),
    ],
)
def test_string_normalisation(options: dict, values: list[str], expected: list[str]) -> None:
    result = one(values, type="string", **options)
    assert result.clean["x"].tolist() == expected
    assert str(result.clean["x"].dtype) == "str"


def test_blank_after_trim_is_null_for_every_type() -> None:
    for kind in ("int", "float", "bool", "string", "category", "date", "datetime"):
        result = one(["   ", ""], type=kind)
        assert result.clean["x"].isna().all() and len(result.rejected) == 0, kind


def test_category_with_declared_categories() -> None:
    result = one(["A", "n", " u ", "X"], type="category", categories=["U", "A", "N"], case="upper")
    assert result.clean["x"].tolist() == ["A", "N", "U"]
    assert list(result.clean["x"].cat.categories) == ["U", "A", "N"]  # declared order, all of them
    assert result.rejected["_reason_kind"].tolist() == ["category"]
    assert result.rejected["_reason"].tolist() == ["x: 'X' is not one of U, A, N"]
    assert result.stats.rejected_by_reason == {"category:x": 1}


def test_category_without_declared_categories_is_sorted_whatever_the_row_order() -> None:
    first = one(["b", "a", "c", "a", None], type="category")
    second = one(["c", "a", "b"], type="category")
    assert list(first.clean["x"].cat.categories) == list(second.clean["x"].cat.categories) == ["a", "b", "c"]
    assert first.clean["x"].tolist()[:4] == ["b", "a", "c", "a"]


def test_category_from_native_categorical_is_normalised() -> None:
    values = pd.Series(pd.Categorical(["a ", "b", None, "zz", "a"]))
    result = one(values, type="category", categories=["a", "b"])
    assert result.clean["x"].tolist()[:2] == ["a", "b"] and result.clean["x"].tolist()[-1] == "a"
    assert rejected_values(result) == ["zz"]


# --------------------------------------------------------------------------- date


def test_date_iso_strict_calendar() -> None:
    result = one(["2013-01-31", " 2013-03-01 ", "31.01.2013", "2013-02-30", "2013-1-1"], type="date")
    assert result.clean["x"].tolist() == [dt.date(2013, 1, 31), dt.date(2013, 3, 1)]
    assert str(result.clean["x"].dtype) == "date32[day][pyarrow]"
    assert rejected_values(result) == ["31.01.2013", "2013-02-30", "2013-1-1"]
    assert result.rejected["_reason"].iloc[1] == "x: '2013-02-30' is not a date (YYYY-MM-DD)"


def test_date_with_format_and_native_input() -> None:
    result = one(["31.01.2013", "1.2.2013", "30.02.2013"], type="date", format="%d.%m.%Y")
    assert result.clean["x"].tolist() == [dt.date(2013, 1, 31), dt.date(2013, 2, 1)]
    assert rejected_values(result) == ["30.02.2013"]
    stamps = pd.Series(pd.to_datetime(["2013-01-01T23:30:00-05:00"], utc=True).tz_convert("America/New_York"))
    assert one(stamps, type="date").clean["x"].tolist() == [dt.date(2013, 1, 1)]  # its own zone's date
    assert one(pd.Series([dt.date(2013, 5, 6), None]), type="date").clean["x"].tolist()[0] == dt.date(2013, 5, 6)


# --------------------------------------------------------------------------- datetime


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_datetime_iso_with_offsets_into_utc() -> None:
    values = ["2013-01-01T10:00:00Z", "2013-01-01T05:00:00-05:00", "2013-01-01T11:00:00+0100", "2013-01-01 10:00Z", "2013-01-01t10:00:00z"]
    result = one(values, type="datetime", timezone="UTC")
    assert result.clean["x"].tolist() == [utc("2013-01-01 10:00")] * 5
    assert str(result.clean["x"].dtype) == "datetime64[us, UTC]"


def test_datetime_mixed_naive_and_aware_text_and_failures() -> None:
    values = ["2013-01-01T10:00:00Z", "2013-01-01 10:00", "2013-01-01", "2013-01-01T10:00:00.1234567Z", "nope", "2013-02-30T00:00:00Z", "2013-01-01T25:00"]
    result = one(values, type="datetime", timezone="UTC")
    assert result.clean["x"].tolist() == [utc("2013-01-01 10:00"), utc("2013-01-01 10:00"), utc("2013-01-01"), utc("2013-01-01 10:00:00.123456")]
    assert rejected_values(result) == ["nope", "2013-02-30T00:00:00Z", "2013-01-01T25:00"]
    assert result.rejected["_reason"].iloc[0] == "x: 'nope' is not a datetime (ISO 8601)"


def test_datetime_naive_text_is_local_time_in_the_column_timezone() -> None:
    result = one(["2013-01-01 05:00", "2013-07-01 05:00"], type="datetime", timezone="America/New_York")
    assert str(result.clean["x"].dtype) == "datetime64[us, America/New_York]"
    assert [v.tz_convert("UTC") for v in result.clean["x"]] == [utc("2013-01-01 10:00"), utc("2013-07-01 09:00")]


def test_datetime_daylight_saving_gap_rejected_and_overlap_takes_first() -> None:
    result = one(["2013-03-10 02:30", "2013-11-03 01:30"], type="datetime", timezone="America/New_York")
    assert result.clean["x"].tolist() == [pd.Timestamp("2013-11-03 05:30", tz="UTC")]  # EDT, the first 01:30
    assert result.rejected["_reason"].tolist() == ["x: '2013-03-10 02:30' does not exist in America/New_York (skipped by a daylight-saving change)"]


def test_datetime_without_timezone_is_naive_and_offsets_become_utc_wall_time() -> None:
    result = one(["2013-01-01 03:00", "2013-01-01T05:00:00-05:00"], type="datetime")
    assert str(result.clean["x"].dtype) == "datetime64[us]"
    assert result.clean["x"].tolist() == [pd.Timestamp("2013-01-01 03:00"), pd.Timestamp("2013-01-01 10:00")]


def test_datetime_with_numeric_format_is_calendar_strict() -> None:
    result = one(["01/02/2013 03:00", "1/2/2013 3:05", "31/02/2013 03:00", "01/13/2013 03:00", "x"], type="datetime", format="%d/%m/%Y %H:%M", timezone="America/New_York")
    assert [v.tz_convert("UTC") for v in result.clean["x"]] == [utc("2013-02-01 08:00"), utc("2013-02-01 08:05")]
    assert rejected_values(result) == ["31/02/2013 03:00", "01/13/2013 03:00", "x"]
    assert result.rejected["_reason"].iloc[0] == "x: '31/02/2013 03:00' is not a datetime (%d/%m/%Y %H:%M)"


def test_datetime_format_with_two_digit_year_fraction_and_offset() -> None:
    result = one(["13-01-02 10:00:00.5 +0100", "70-01-01 00:00:00.000001 Z"], type="datetime", format="%y-%m-%d %H:%M:%S.%f %z", timezone="UTC")
    assert result.clean["x"].tolist() == [utc("2013-01-02 09:00:00.5"), utc("1970-01-01 00:00:00.000001")]


def test_datetime_format_with_names_falls_back_to_pandas() -> None:
    result = one(["Jan 02 2013", "Feb 30 2013"], type="datetime", format="%b %d %Y")
    assert result.clean["x"].tolist() == [pd.Timestamp("2013-01-02")] and rejected_values(result) == ["Feb 30 2013"]


def test_datetime_native_input_is_converted_or_localized() -> None:
    aware = pd.Series(pd.to_datetime(["2013-01-01T10:00Z"], utc=True).as_unit("ns"))
    result = one(aware, type="datetime", timezone="Asia/Tokyo")
    assert str(result.clean["x"].dtype) == "datetime64[us, Asia/Tokyo]" and result.clean["x"].iloc[0] == utc("2013-01-01 10:00")
    naive = pd.Series(pd.to_datetime(["2013-01-01 10:00"]).as_unit("ms"))
    assert one(naive, type="datetime", timezone="Asia/Tokyo").clean["x"].iloc[0] == utc("2013-01-01 01:00")
    assert one(pd.Series([dt.date(2013, 1, 1)]), type="datetime").clean["x"].iloc[0] == pd.Timestamp("2013-01-01")
    assert rejected_values(one(pd.Series([12]), type="datetime")) == ["12"]


# --------------------------------------------------------------------------- building blocks


def test_format_pattern_covers_numeric_directives_only() -> None:
    pattern, fields = format_pattern("%d.%m.%Y %H:%M 100%%")  # type: ignore[misc]
    assert fields == {"d", "m", "Y", "H", "M"} and pattern.endswith(r"\Q 100%\E$")
    assert format_pattern("%b %d %Y") is None  # month names: pandas fallback
    assert format_pattern("%H:%M") is None  # no date
    assert format_pattern("%d/%d/%Y") is None  # repeated field


def test_zone_and_calendar_checks_on_iso_text() -> None:
    text = pa.array(
        ["2013-01-01", "2013-01-01T10", "2013-01-01T10:00Z", "2013-01-01 10:00:00-05:00", "2013-01-01T10:00:00.123+0530",
         "2013-01-01T10:00:00.123456", "2013-01-01T10-05", None],
        pa.large_string(),
    )
    assert has_zone(text).tolist() == [False, False, True, True, True, False, True, False]
    days = pa.array(["2012-02-29", "1900-02-29", "2000-02-29", "2013-04-31", "2013-13-01", "2013-00-10", "2013-01-01T24:00", "2013-01-01T23:59:59"])
    assert calendar_valid(days).tolist() == [True, False, True, False, False, False, False, True]


def test_cast_or_null_isolates_bad_values_anywhere() -> None:
    rng = np.random.default_rng(5)
    values = [str(v) for v in rng.integers(-1000, 1000, 5000)]
    bad = sorted({0, 4999, *rng.integers(0, 5000, 40).tolist()})
    for position in bad:
        values[position] = "9" * 30  # overflows int64: only the cast can tell
    result = cast_or_null(pa.array(values, pa.large_string()), pa.int64())
    assert np.flatnonzero(result.is_null().to_numpy(zero_copy_only=False)).tolist() == bad
    kept = [int(v) for i, v in enumerate(values) if i not in set(bad)]
    assert result.drop_null().to_pylist() == kept


def test_all_ascii_reads_only_the_slice() -> None:
    array = pa.array(["é", "abcdefghijk", "z"], pa.large_string())
    assert not all_ascii(array) and all_ascii(array.slice(1)) and all_ascii(pa.array([None], pa.large_string()))


def test_slow_path_matches_a_per_value_reference() -> None:
    """Random dirty int/float text: the vectorized result equals a plain Python judgement."""
    rng = np.random.default_rng(11)
    pool = ["12", "+3", "-4.0", "4.5", "abc", " 7", "1e3", "", "0012", "99999999999999999999", "-0", ".5", "5.", "inf", "1_0"]
    values = list(rng.choice(pool, 400))

    def as_int(text: str) -> int | None:
        text = text.strip()
        body = text.lstrip("+-")
        head, _, tail = body.partition(".")
        if not head.isdigit() or set(tail) - {"0"}:
            return None
        number = int(text.split(".")[0])
        return number if -(2**63) <= number < 2**63 else None

    result = one(values, type="int")
    expected_clean = [as_int(v) for v in values if v.strip() and as_int(v) is not None]
    expected_rejected = [v for v in values if v.strip() and as_int(v) is None]
    assert result.clean["x"].dropna().tolist() == expected_clean
    assert rejected_values(result) == expected_rejected
