"""clean_table contract cases kept from the first implementation (types, null policies, rejects, dedup, conservation)."""

from __future__ import annotations

import decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.spec import CleanSpec
from etl_assets.lib.transforms import CleanError, clean_table


def raw(**columns: list[Any]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({k: pd.array(v, dtype="str") for k, v in columns.items()})
    frame["_source_file"] = pd.array(["in.csv"] * n, dtype="str")
    frame["_source_row"] = np.arange(1, n + 1, dtype="int64")
    return frame


def spec(columns: dict[str, Any], **extra: Any) -> CleanSpec:
    return CleanSpec.model_validate({"from": "src", "columns": columns, **extra})


def one(values: list[Any], **column: Any):
    result = clean_table(raw(x=values), spec({"x": column}), table="t")
    return result


def test_int_parsing_and_failures() -> None:
    result = one([" 12", "+3", "4.0", "4.5", "abc", None, "99999999999999999999"], type="int")
    assert result.clean["x"].tolist() == [12, 3, 4, pd.NA]
    assert str(result.clean["x"].dtype) == "Int64"
    assert result.rejected["_source_row"].tolist() == [4, 5, 7]
    assert result.rejected["_reason"].tolist()[1] == "x: 'abc' is not an int"
    assert result.rejected["x"].tolist() == ["4.5", "abc", "99999999999999999999"]
    assert result.stats.rejected_by_reason == {"coercion:x": 3}


def test_float_and_numeric_json_input() -> None:
    assert one(["1.5", "-2e3", "x"], type="float").clean["x"].tolist() == [1.5, -2000.0]
    frame = pd.DataFrame({"x": [1.0, 2.5, None], "_source_row": [1, 2, 3]})
    result = clean_table(frame, spec({"x": {"type": "int"}}), table="t")
    assert result.clean["x"].isna().tolist() == [False, True] and result.clean["x"].iloc[0] == 1
    assert result.rejected["_reason"].tolist() == ["x: '2.5' is not an int"]


def test_decimal_exact_scale_and_precision() -> None:
    result = one(["1.25", "1.255", "12345678901.00", "7"], type="decimal", precision=12, scale=2)
    assert result.clean["x"].tolist() == [decimal.Decimal("1.25"), decimal.Decimal("7.00")]
    assert str(result.clean["x"].dtype) == "decimal128(12, 2)[pyarrow]"
    assert result.rejected["x"].tolist() == ["1.255", "12345678901.00"]


def test_bool_variants() -> None:
    result = one(["Yes", "n", "TRUE", "0", "maybe"], type="bool")
    assert result.clean["x"].tolist() == [True, False, True, False]
    assert "is not a boolean" in result.rejected["_reason"].iloc[0]


def test_string_normalisation() -> None:
    result = one(["  a   b ", "Cafe\u0301", "   ", None], type="string", collapse_whitespace=True, case="upper", unicode_form="NFC")
    assert result.clean["x"].tolist()[:2] == ["A B", "CAFÉ"]
    assert result.clean["x"].isna().tolist() == [False, False, True, True]  # blank after trim is null


def test_category_with_declared_categories() -> None:
    result = one(["A", "n", "X"], type="category", categories=["A", "N", "U"], case="upper")
    assert result.clean["x"].tolist() == ["A", "N"]
    assert list(result.clean["x"].cat.categories) == ["A", "N", "U"]
    assert result.rejected["_reason_kind"].tolist() == ["category"]
    assert result.rejected["_reason"].tolist() == ["x: 'X' is not one of A, N, U"]


def test_datetime_timezones_and_formats() -> None:
    utc = one(["2013-01-01T10:00:00Z", "2013-01-01T05:00:00-05:00", "nope"], type="datetime", timezone="UTC")
    assert utc.clean["x"].tolist() == [pd.Timestamp("2013-01-01 10:00", tz="UTC")] * 2
    assert str(utc.clean["x"].dtype) == "datetime64[us, UTC]"
    local = one(["01/02/2013 03:00"], type="datetime", format="%m/%d/%Y %H:%M", timezone="America/New_York")
    assert local.clean["x"].iloc[0] == pd.Timestamp("2013-01-02 08:00", tz="UTC")
    naive = one(["2013-01-01 03:00"], type="datetime")
    assert naive.clean["x"].dt.tz is None


def test_date_parsing() -> None:
    result = one(["2013-01-31", "31.01.2013", "2013-02-30"], type="date")
    assert [str(v) for v in result.clean["x"].tolist()] == ["2013-01-31"]
    assert len(result.rejected) == 2
    dotted = one(["31.01.2013"], type="date", format="%d.%m.%Y")
    assert str(dotted.clean["x"].iloc[0]) == "2013-01-31"


def test_null_policies() -> None:
    frame = raw(a=["1", None, "3", None], b=[None, "x", "y", "z"], c=["1", "2", None, "4"], d=[None, None, "k", None])
    result = clean_table(
        frame,
        spec({
            "a": {"type": "int", "required": True},
            "b": {"type": "string", "nulls": "drop"},
            "c": {"type": "int", "nulls": "default", "default": 0},
            "d": {"type": "string"},
        }),
        table="t",
    )
    assert result.clean["a"].tolist() == [3] and result.clean["c"].tolist() == [0]
    kinds = dict(zip(result.rejected["_source_row"], result.rejected["_reason_kind"], strict=True))
    assert kinds == {1: "dropped", 2: "required", 4: "required"}
    assert result.stats.rows_dropped == 1
    assert "a: required value is missing" in result.rejected.set_index("_source_row").loc[4, "_reason"]


def test_rows_with_several_problems_list_them_all() -> None:
    result = clean_table(raw(a=["x"], b=[None]), spec({"a": {"type": "int"}, "b": {"type": "int", "required": True}}), table="t")
    assert result.rejected["_reason"].tolist() == ["a: 'x' is not an int; b: required value is missing"]
    assert result.rejected["_reason_kind"].tolist() == ["coercion"]


def test_rename_keep_undeclared_and_order() -> None:
    frame = raw(year=["2004"], extra=["e"], tail=["n1"])
    result = clean_table(frame, spec({"tailnum": {"type": "string", "source": "tail", "case": "upper"}, "year_built": {"type": "int", "source": "year"}}, keep_undeclared=True), table="t")
    assert list(result.clean.columns) == ["tailnum", "year_built", "extra"]
    assert result.clean.iloc[0].tolist() == ["N1", 2004, "e"]


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(CleanError, match=r"clean table 't': input has no column 'dep_tme'.*close matches: 'dep_tme' \(found 'dep_time'\)"):
        clean_table(raw(dep_time=["1"]), spec({"dep_tme": {"type": "int"}}), table="t")


def test_parse_error_rows_are_rejected_with_their_message() -> None:
    frame = raw(a=["1", None])
    frame["_parse_error"] = pd.array([None, "expected 1 fields, found 2: 1,2"], dtype="str")
    result = clean_table(frame, spec({"a": {"type": "int"}}), table="t")
    assert result.rejected["_reason_kind"].tolist() == ["parse_error"]
    assert result.rejected["_reason"].tolist() == ["expected 1 fields, found 2: 1,2"]


@pytest.mark.parametrize(("keep", "expected"), [("first", ["a", "b"]), ("last", ["c", "b"])])
def test_dedup_keep_first_last(keep: str, expected: list[str]) -> None:
    frame = raw(k=["1", "2", "1"], v=["a", "b", "c"])
    result = clean_table(frame, spec({"k": {"type": "int"}, "v": {"type": "string"}}, dedup={"keys": ["k"], "keep": keep}), table="t")
    assert sorted(result.clean["v"].tolist()) == sorted(expected)
    assert result.stats.rows_deduplicated == 1 and result.stats.conserved()


def test_partition_column_is_carried() -> None:
    frame = raw(a=["1", "x"])
    frame["_partition"] = pd.array(["2024-01-01"] * 2, dtype="str")
    result = clean_table(frame, spec({"a": {"type": "int"}}), table="t")
    assert list(result.clean.columns) == ["a", "_partition"] and result.rejected["_partition"].tolist() == ["2024-01-01"]


def test_empty_rejected_frame_has_columns() -> None:
    result = one(["1"], type="int")
    assert list(result.rejected.columns) == ["_source_file", "_source_row", "_reason_kind", "_reason", "x"]
    assert len(result.rejected) == 0


def test_conservation_holds_on_random_dirty_frames() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(1, 300))
        pool_int = ["1", "2", "3", "x", None, " 4 ", "5.0"]
        pool_dt = ["2024-01-01T00:00:00Z", "bad", None, "2024-02-30T00:00:00Z"]
        frame = raw(k=list(rng.choice(pool_int, n)), t=list(rng.choice(pool_dt, n)), s=list(rng.choice(["a", "", None], n)))
        result = clean_table(
            frame,
            spec({"k": {"type": "int", "required": True}, "t": {"type": "datetime", "timezone": "UTC"}, "s": {"type": "string", "nulls": "drop"}}, dedup={"keys": ["k", "t"]}),
            table="t",
        )
        stats = result.stats
        assert stats.conserved(), stats
        assert len(result.clean) == stats.rows_out and len(result.rejected) == stats.rows_rejected
        assert set(result.rejected["_source_row"]).isdisjoint(set()) and result.clean["k"].notna().all()


def test_exact_dedup_points_removed_rows_at_the_kept_row() -> None:
    from etl_assets.lib.transforms import exact_dedup

    frame = pd.DataFrame({"k": [1, 2, 1, 1], "v": ["a", "b", "c", "d"]}, index=[10, 11, 12, 13])
    first = exact_dedup(frame, ["k"], "first", with_kept_index=True)
    assert first.kept["v"].tolist() == ["a", "b"] and first.removed["v"].tolist() == ["c", "d"]
    assert list(first.kept_index) == [10, 10]
    last = exact_dedup(frame, ["k"], "last", with_kept_index=True)
    assert last.kept["v"].tolist() == ["b", "d"] and list(last.kept_index) == [13, 13]
    assert exact_dedup(frame, ["k"]).kept_index is None
