"""clean_table: columns and dtypes, null policies, rejects with reasons, dedup and conservation."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.transforms import CleanError, clean_table
from etl_assets_tests.lib.transforms.helpers import clean_spec as spec
from etl_assets_tests.lib.transforms.helpers import raw_frame as raw

REJECTED_COLUMNS = ["_source_file", "_source_row", "_reason_kind", "_reason"]


# --------------------------------------------------------------------------- columns and dtypes


def test_declared_columns_in_order_with_their_dtypes() -> None:
    frame = raw(
        s=["x"], i=["1"], f=["1.5"], d=["2.50"], b=["yes"], c=["k"], day=["2024-01-02"], t=["2024-01-02T03:04:05Z"], extra=["dropped"]
    )
    frame["_parse_error"] = pd.array([None], dtype="str")
    result = clean_table(
        frame,
        spec({
            "t": {"type": "datetime", "timezone": "Europe/Paris"}, "i": {"type": "int"}, "f": {"type": "float"},
            "d": {"type": "decimal", "precision": 5, "scale": 2}, "b": {"type": "bool"}, "s": {"type": "string"},
            "c": {"type": "category"}, "day": {"type": "date"},
        }),
        table="t",
    )
    dtypes = {name: str(dtype) for name, dtype in result.clean.dtypes.items()}
    assert dtypes == {
        "t": "datetime64[us, Europe/Paris]", "i": "Int64", "f": "float64", "d": "decimal128(5, 2)[pyarrow]", "b": "boolean",
        "s": "str", "c": "category", "day": "date32[day][pyarrow]",
    }
    assert result.clean.iloc[0].tolist() == [
        pd.Timestamp("2024-01-02T04:04:05", tz="Europe/Paris"), 1, 1.5, decimal.Decimal("2.50"), True, "x", "k", dt.date(2024, 1, 2)
    ]
    assert isinstance(result.clean.index, pd.RangeIndex)


def test_empty_and_all_null_input_keep_the_declared_dtypes() -> None:
    columns = {t: {"type": t} for t in ("int", "float", "bool", "string", "category", "date", "datetime")}
    expected = ["Int64", "float64", "boolean", "str", "category", "date32[day][pyarrow]", "datetime64[us]"]
    empty = clean_table(pd.DataFrame({c: pd.array([], dtype="str") for c in columns}), spec(columns), table="t")
    assert [str(t) for t in empty.clean.dtypes] == expected and len(empty.rejected) == 0
    assert str(empty.clean["category"].cat.categories.dtype) == "str"
    nulls = clean_table(pd.DataFrame({c: pd.Series([None], dtype=object) for c in columns}), spec(columns), table="t")
    assert [str(t) for t in nulls.clean.dtypes] == expected and nulls.clean.isna().all(axis=None)


def test_rename_keep_undeclared_and_order() -> None:
    frame = raw(year=["2004"], extra=["e"], tail=["n1"])
    frame["_partition"] = pd.array(["2024-01-01"], dtype="str")
    columns = {"tailnum": {"type": "string", "source": "tail", "case": "upper"}, "year_built": {"type": "int", "source": "year"}}
    result = clean_table(frame, spec(columns, keep_undeclared=True), table="t")
    assert list(result.clean.columns) == ["tailnum", "year_built", "extra", "_partition"]
    assert result.clean.iloc[0].tolist() == ["N1", 2004, "e", "2024-01-01"]
    dropped = clean_table(frame, spec(columns), table="t")
    assert list(dropped.clean.columns) == ["tailnum", "year_built", "_partition"]


def test_keep_undeclared_refuses_a_name_clash_with_a_renamed_column() -> None:
    frame = raw(year=["2004"], year_built=["1999"])
    with pytest.raises(CleanError, match=r"keep_undeclared would add input column.*'year_built'"):
        clean_table(frame, spec({"year_built": {"type": "int", "source": "year"}}, keep_undeclared=True), table="t")


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(CleanError, match=r"clean table 't': input has no column 'dep_tme'.*close matches: 'dep_tme' \(found 'dep_time'\). Input columns: dep_time"):
        clean_table(raw(dep_time=["1"]), spec({"dep_tme": {"type": "int"}}), table="t")
    with pytest.raises(CleanError, match="input has no column 'yr'"):
        clean_table(raw(year=["1"]), spec({"year": {"type": "int", "source": "yr"}}), table="t")


def test_unknown_dedup_key_is_an_error() -> None:
    with pytest.raises(CleanError, match="dedup keys 'k' are not declared columns"):
        clean_table(raw(a=["1"]), spec({"a": {"type": "int"}}, dedup={"keys": ["k"]}), table="t")


def test_partition_column_is_carried_to_clean_and_rejected() -> None:
    frame = raw(a=["1", "x"])
    frame["_partition"] = pd.array(["2024-01-01"] * 2, dtype="str")
    result = clean_table(frame, spec({"a": {"type": "int"}}), table="t")
    assert list(result.clean.columns) == ["a", "_partition"] and result.rejected["_partition"].tolist() == ["2024-01-01"]


# --------------------------------------------------------------------------- null policies


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
    assert result.clean["a"].tolist() == [3] and result.clean["c"].tolist() == [0] and result.clean["d"].tolist() == ["k"]
    kinds = dict(zip(result.rejected["_source_row"], result.rejected["_reason_kind"], strict=True))
    assert kinds == {1: "dropped", 2: "required", 4: "required"}
    assert result.stats.rows_dropped == 1 and result.stats.rows_rejected == 3
    by_row = result.rejected.set_index("_source_row")["_reason"]
    assert by_row[1] == "b: null, row dropped by the column's null policy (nulls: drop)"
    assert by_row[4] == "a: required value is missing"
    assert result.stats.rejected_by_reason == {"dropped:b": 1, "required:a": 2}


def test_nulls_reject_same_as_required() -> None:
    result = clean_table(raw(a=["1", None]), spec({"a": {"type": "int", "nulls": "reject"}}), table="t")
    assert result.rejected["_reason_kind"].tolist() == ["required"]


def test_a_failed_value_is_a_coercion_problem_not_a_null() -> None:
    result = clean_table(raw(a=["x", None]), spec({"a": {"type": "int", "nulls": "default", "default": 7}}), table="t")
    assert result.clean["a"].tolist() == [7]
    assert result.rejected["_reason"].tolist() == ["a: 'x' is not an int"]


def test_defaults_for_categories_and_keep_with_default() -> None:
    frame = raw(d=["N", None, "A"], e=[None, "b", "a"])
    result = clean_table(
        frame,
        spec({"d": {"type": "category", "categories": ["A", "N", "U"], "nulls": "default", "default": "U"}, "e": {"type": "category", "default": "m"}}),
        table="t",
    )
    assert result.clean["d"].tolist() == ["N", "U", "A"] and list(result.clean["d"].cat.categories) == ["A", "N", "U"]
    assert result.clean["e"].tolist() == ["m", "b", "a"] and list(result.clean["e"].cat.categories) == ["a", "b", "m"]


def test_default_that_is_not_a_valid_value_is_an_error() -> None:
    with pytest.raises(CleanError, match="column 'd': default 'Z' is not a valid category"):
        clean_table(raw(d=[None]), spec({"d": {"type": "category", "categories": ["A"], "nulls": "default", "default": "Z"}}), table="t")


def test_dropped_is_the_kind_only_when_nothing_else_is_wrong() -> None:
    frame = raw(a=[None, None], b=["1", "x"])
    result = clean_table(frame, spec({"a": {"type": "string", "nulls": "drop"}, "b": {"type": "int"}}), table="t")
    assert result.rejected["_reason_kind"].tolist() == ["dropped", "coercion"]
    assert result.rejected["_reason"].tolist()[1] == "a: null, row dropped by the column's null policy (nulls: drop); b: 'x' is not an int"
    assert result.stats.rows_dropped == 1 and result.stats.rejected_by_reason == {"dropped:a": 1, "coercion:b": 1}


# --------------------------------------------------------------------------- rejected frame


def test_rows_with_several_problems_list_them_all_in_column_order() -> None:
    frame = raw(a=["x"], b=[None], c=["2013-02-30"])
    columns = {"a": {"type": "int"}, "b": {"type": "int", "required": True}, "c": {"type": "date"}}
    result = clean_table(frame, spec(columns), table="t")
    assert result.rejected["_reason"].tolist() == ["a: 'x' is not an int; b: required value is missing; c: '2013-02-30' is not a date (YYYY-MM-DD)"]
    assert result.rejected["_reason_kind"].tolist() == ["coercion"]
    assert result.stats.rejected_by_reason == {"coercion:a": 1}


def test_rejected_frame_columns_values_and_dtypes() -> None:
    frame = raw(k=["1", "x", "3"], renamed=["a", "b", None])
    frame["_source_file"] = pd.array(["f1.csv", "f1.csv", "f2.csv"], dtype="str")
    frame["_source_row"] = np.array([7, 8, 1], dtype="int64")
    result = clean_table(frame, spec({"k": {"type": "int"}, "v": {"type": "string", "source": "renamed", "required": True}}), table="t")
    rejected = result.rejected
    assert list(rejected.columns) == [*REJECTED_COLUMNS, "k", "v"]
    assert rejected.to_dict("records") == [
        {"_source_file": "f1.csv", "_source_row": 8, "_reason_kind": "coercion", "_reason": "k: 'x' is not an int", "k": "x", "v": "b"},
        {"_source_file": "f2.csv", "_source_row": 1, "_reason_kind": "required", "_reason": "v: required value is missing", "k": "3", "v": np.nan},
    ]
    assert {c: str(t) for c, t in rejected.dtypes.items()} == {
        "_source_file": "str", "_source_row": "int64", "_reason_kind": "str", "_reason": "str", "k": "str", "v": "str"
    }


def test_empty_rejected_frame_has_the_same_columns_and_dtypes() -> None:
    frame = raw(x=["1"])
    frame["_partition"] = pd.array(["p"], dtype="str")
    rejected = clean_table(frame, spec({"x": {"type": "int"}}), table="t").rejected
    assert list(rejected.columns) == [*REJECTED_COLUMNS, "x", "_partition"] and len(rejected) == 0
    assert [str(t) for t in rejected.dtypes] == ["str", "int64", "str", "str", "str", "str"]


def test_long_values_are_cut_in_the_reason_but_kept_whole_in_the_row() -> None:
    long = "y" * 200
    result = clean_table(raw(a=[long]), spec({"a": {"type": "int"}}), table="t")
    assert result.rejected["_reason"].iloc[0] == f"a: '{'y' * 57}...' is not an int"
    assert result.rejected["a"].iloc[0] == long


def test_native_input_without_lineage_columns() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.5, None], "flag": [True, None, None]})
    result = clean_table(frame, spec({"x": {"type": "int"}, "flag": {"type": "bool", "required": True}}), table="t")
    assert result.rejected["_source_row"].tolist() == [2, 3]  # positions, 1-based
    assert result.rejected["_source_file"].isna().all()
    assert result.rejected["x"].tolist() == ["2.5", np.nan] and result.rejected["flag"].isna().all()
    assert result.rejected["_reason"].tolist() == ["x: '2.5' is not an int; flag: required value is missing", "flag: required value is missing"]


def test_parse_error_rows_are_rejected_with_only_their_message() -> None:
    frame = raw(a=["1", None])
    frame["_parse_error"] = pd.array([None, "expected 1 fields, found 2: 1,2"], dtype="str")
    result = clean_table(frame, spec({"a": {"type": "int", "required": True}}), table="t")
    assert result.rejected["_reason_kind"].tolist() == ["parse_error"]
    assert result.rejected["_reason"].tolist() == ["expected 1 fields, found 2: 1,2"]
    assert result.stats.rejected_by_reason == {"parse_error": 1} and result.clean["a"].tolist() == [1]


# --------------------------------------------------------------------------- dedup


@pytest.mark.parametrize(("keep", "expected"), [("first", ["a", "b"]), ("last", ["b", "c"])])
def test_dedup_keep_first_last_in_input_order(keep: str, expected: list[str]) -> None:
    frame = raw(k=["1", "2", "1"], v=["a", "b", "c"])
    result = clean_table(frame, spec({"k": {"type": "int"}, "v": {"type": "string"}}, dedup={"keys": ["k"], "keep": keep}), table="t")
    assert result.clean["v"].tolist() == expected  # survivors stay in input order
    assert result.stats.rows_deduplicated == 1 and result.stats.conserved()


def test_dedup_compares_typed_values_over_kept_rows_only() -> None:
    # " 1", "1.0" and "+1" are the same int; the rejected row (bad v) is not a duplicate of anything.
    frame = raw(k=[" 1", "1.0", "+1", "1", "2", None, None], v=["a", "b", "c", "x", "d", "e", "f"], n=["1", "1", "1", "bad", "1", "1", "1"])
    columns = {"k": {"type": "int"}, "v": {"type": "string"}, "n": {"type": "int"}}
    result = clean_table(frame, spec(columns, dedup={"keys": ["k"]}), table="t")
    assert result.clean["v"].tolist() == ["a", "d", "e"]  # nulls in a key compare equal
    assert result.stats.rows_deduplicated == 3 and result.stats.rows_rejected == 1 and result.stats.conserved()


def test_dedup_on_several_keys_of_several_types() -> None:
    frame = raw(a=["x", "x", "x", "y"], t=["2024-01-01T00:00Z", "2024-01-01T01:00+01:00", "2024-01-01T00:00:01Z", "2024-01-01T00:00Z"], v=["1", "2", "3", "4"])
    columns = {"a": {"type": "category"}, "t": {"type": "datetime", "timezone": "UTC"}, "v": {"type": "int"}}
    result = clean_table(frame, spec(columns, dedup={"keys": ["a", "t"], "keep": "last"}), table="t")
    assert result.clean["v"].tolist() == [2, 3, 4]


# --------------------------------------------------------------------------- stats


def test_stats_metadata_are_plain_ints() -> None:
    result = clean_table(raw(a=["1", "1", "x"]), spec({"a": {"type": "int"}}, dedup={"keys": ["a"]}), table="t")
    metadata = result.stats.as_metadata()
    assert metadata == {"rows_in": 3, "rows_out": 1, "rows_rejected": 1, "rows_dropped": 0, "rows_deduplicated": 1}
    assert all(type(v) is int for v in metadata.values())


def test_conserved_detects_a_mismatch() -> None:
    from etl_assets.lib.transforms import CleanStats

    assert not CleanStats(rows_in=3, rows_out=1, rows_rejected=1, rows_dropped=0, rows_deduplicated=0).conserved()


def _random_raw(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    n = int(rng.integers(0, 300))
    pools: dict[str, tuple[list[Any], dict[str, Any]]] = {
        "k": (["1", "2", "3", "x", None, " 4 ", "5.0", "1e9", ""], {"type": "int", "required": True}),
        "t": (["2024-01-01T00:00:00Z", "bad", None, "2024-02-30T00:00:00Z", "2024-03-10 02:30"], {"type": "datetime", "timezone": "America/New_York"}),
        "s": (["a", "", None, " B "], {"type": "string", "nulls": "drop", "case": "lower"}),
        "c": (["A", "B", "q", None], {"type": "category", "categories": ["A", "B"], "nulls": "default", "default": "A"}),
        "b": (["yes", "no", "maybe", None], {"type": "bool"}),
        "d": (["1.5", "1.55", "x", None], {"type": "decimal", "precision": 4, "scale": 1}),
    }
    frame = raw(**{name: list(rng.choice(np.array(pool, dtype=object), n)) for name, (pool, _) in pools.items()})
    if rng.random() < 0.5:
        frame["_parse_error"] = pd.array(np.where(rng.random(n) < 0.05, "ragged", None), dtype="str")
    keys = list(rng.choice(["k", "t", "s", "c"], int(rng.integers(1, 4)), replace=False))
    return frame, {"columns": {name: column for name, (_, column) in pools.items()}, "dedup": {"keys": keys, "keep": str(rng.choice(["first", "last"]))}}


def test_conservation_holds_on_random_dirty_frames() -> None:
    """Property: whatever the mess, every row is out, rejected (once) or a counted duplicate."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        frame, declared = _random_raw(rng)
        result = clean_table(frame, spec(declared["columns"], dedup=declared["dedup"]), table="t")
        stats = result.stats
        assert stats.conserved(), stats
        assert len(result.clean) == stats.rows_out and len(result.rejected) == stats.rows_rejected
        assert sum(stats.rejected_by_reason.values()) == stats.rows_rejected
        assert result.rejected["_source_row"].is_unique
        assert (result.rejected["_reason_kind"] == "dropped").sum() == stats.rows_dropped
        assert result.clean["k"].notna().all() and result.clean["s"].notna().all() and result.clean["c"].notna().all()
        assert not result.clean.duplicated(subset=declared["dedup"]["keys"]).any()
        if "_parse_error" in frame:
            assert set(frame["_source_row"][frame["_parse_error"].notna()]) <= set(result.rejected["_source_row"])
