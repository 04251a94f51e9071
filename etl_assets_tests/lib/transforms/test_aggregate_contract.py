"""aggregate contract cases kept from the first implementation (metrics, having, windows, joins, partitions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.spec import AggregateSpec
from etl_assets.lib.transforms import AggregateError, aggregate


def agg(**fields: Any) -> AggregateSpec:
    return AggregateSpec.model_validate({"from": "t", **fields})


@pytest.fixture
def sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop": pd.Categorical(["a", "a", "b", "a", "b", "c"], categories=["a", "b", "c", "unused"]),
            "amount": [10.0, np.nan, 5.0, 30.0, 7.0, 1.0],
            "qty": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
            "at": pd.to_datetime(
                ["2024-01-01T03:00Z", "2024-01-01T15:00Z", "2024-01-02T10:00Z", "2024-01-08T10:00Z", "2024-01-31T23:00Z", "2024-02-01T01:00Z"], utc=True
            ),
        }
    )


def test_every_metric_against_pandas(sales: pd.DataFrame) -> None:
    spec = agg(group_by=["shop"], metrics={
        "n": "count()", "n_amount": "count(amount)", "nulls": "null_count(amount)", "total": "sum(amount)",
        "avg": "mean(amount)", "lo": "min(amount)", "hi": "max(amount)", "med": "median(amount)", "sd": "std(amount)",
        "distinct": "nunique(qty)", "first_qty": "first(qty)", "last_qty": "last(qty)",
    })
    out = aggregate(sales, spec).frame.set_index("shop")
    assert list(out.index.astype(str)) == ["a", "b", "c"]  # no row for the unused category
    a = sales[sales["shop"] == "a"]
    assert out.loc["a", "n"] == 3 and out.loc["a", "n_amount"] == 2 and out.loc["a", "nulls"] == 1
    assert out.loc["a", "total"] == 40.0 and out.loc["a", "avg"] == 20.0 and out.loc["a", "med"] == 20.0
    assert out.loc["a", "lo"] == 10.0 and out.loc["a", "hi"] == 30.0
    assert out.loc["a", "sd"] == pytest.approx(a["amount"].std(ddof=1))
    assert out.loc["a", "distinct"] == 3 and out.loc["a", "first_qty"] == 1 and out.loc["a", "last_qty"] == 4
    assert out.loc["b", "first_qty"] == 5  # first non-null value
    assert np.isnan(out.loc["c", "sd"])  # one value: sample std undefined


def test_having_filters_groups(sales: pd.DataFrame) -> None:
    result = aggregate(sales, agg(group_by=["shop"], metrics={"n": "count()", "total": "sum(amount)"}, having=["n >= 2", "total > 11"]))
    assert result.frame["shop"].astype(str).tolist() == ["a", "b"]
    assert result.stats.groups_filtered_by_having == 1 and result.stats.groups_out == 2


def test_no_group_by_gives_one_row(sales: pd.DataFrame) -> None:
    out = aggregate(sales, agg(metrics={"n": "count()", "total": "sum(amount)"})).frame
    assert out.to_dict("records") == [{"n": 6, "total": 53.0}]


def test_day_window_in_a_timezone(sales: pd.DataFrame) -> None:
    spec = agg(window={"column": "at", "every": "day", "timezone": "America/New_York"}, metrics={"n": "count()"})
    out = aggregate(sales, spec).frame
    days = dict(zip(out["window_start"].dt.strftime("%Y-%m-%d"), out["n"], strict=True))
    # 03:00 UTC on Jan 1 is Dec 31 in New York; 01:00 UTC Feb 1 is Jan 31
    assert days == {"2023-12-31": 1, "2024-01-01": 1, "2024-01-02": 1, "2024-01-08": 1, "2024-01-31": 2}
    assert str(out["window_start"].dt.tz) == "America/New_York"


@pytest.mark.parametrize(("every", "expected"), [
    ("week", {"2024-01-01": 3, "2024-01-08": 1, "2024-01-29": 2}),
    ("month", {"2024-01-01": 5, "2024-02-01": 1}),
    ("hour", {"2024-01-01T03": 1, "2024-01-01T15": 1, "2024-01-02T10": 1, "2024-01-08T10": 1, "2024-01-31T23": 1, "2024-02-01T01": 1}),
])
def test_tumbling_units(sales: pd.DataFrame, every: str, expected: dict[str, int]) -> None:
    out = aggregate(sales, agg(window={"column": "at", "every": every}, metrics={"n": "count()"})).frame
    fmt = "%Y-%m-%dT%H" if every == "hour" else "%Y-%m-%d"
    assert dict(zip(out["window_start"].dt.strftime(fmt), out["n"], strict=True)) == expected
    if every == "week":
        assert (out["window_start"].dt.day_of_week == 0).all()  # weeks start on Monday


def test_rolling_window_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({
        "g": rng.choice(["x", "y"], n),
        "v": rng.normal(size=n),
        "at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 24, n), unit="h"),
    })
    spec = agg(group_by=["g"], window={"column": "at", "every": "day", "rolling": 3}, metrics={"n": "count()", "med": "median(v)", "u": "nunique(v)"})
    out = aggregate(frame, spec).frame
    days = frame["at"].dt.floor("D")
    for row in out.sample(15, random_state=1).itertuples():
        end = row.window_end
        inside = frame[(frame["g"] == row.g) & (days >= end - pd.Timedelta(days=3)) & (days < end)]
        assert row.window_start == end - pd.Timedelta(days=3)
        assert row.n == len(inside) and row.med == pytest.approx(inside["v"].median()) and row.u == inside["v"].nunique()


def test_join_with_timezone_normalised_keys() -> None:
    flights = pd.DataFrame({
        "origin": pd.Categorical(["EWR", "JFK", "EWR"]),
        "hour": pd.to_datetime(["2013-01-01T10:00Z"] * 3, utc=True).tz_convert("America/New_York"),
        "delay": [5.0, 10.0, 15.0],
    })
    weather = pd.DataFrame({
        "origin": pd.array(["EWR", "JFK"], dtype="str"),
        "hour": pd.to_datetime(["2013-01-01T10:00Z", "2013-01-01T10:00Z"], utc=True).as_unit("us"),
        "temp": [30.0, 40.0],
    })
    spec = agg(join=[{"table": "weather", "on": ["origin", "hour"], "columns": ["temp"]}], group_by=["origin"], metrics={"d": "mean(delay)", "temp": "max(temp)"})
    out = aggregate(flights, spec, joins={"weather": weather}).frame.set_index("origin")
    assert out.loc["EWR", "temp"] == 30.0 and out.loc["JFK", "temp"] == 40.0 and out.loc["EWR", "d"] == 10.0


def test_join_table_missing_is_an_error(sales: pd.DataFrame) -> None:
    with pytest.raises(AggregateError, match="needs the clean table 'weather'"):
        aggregate(sales, agg(join=[{"table": "weather", "on": ["shop"]}], metrics={"n": "count()"}))


def test_partitioned_aggregate_keeps_partition(sales: pd.DataFrame) -> None:
    frame = sales.assign(_partition=["d1", "d1", "d2", "d2", "d2", "d2"])
    out = aggregate(frame, agg(partitioned=True, group_by=["shop"], metrics={"n": "count()"})).frame
    assert list(out.columns) == ["shop", "n", "_partition"]
    assert sorted(zip(out["_partition"], out["shop"].astype(str), out["n"], strict=True)) == [("d1", "a", 2), ("d2", "a", 1), ("d2", "b", 2), ("d2", "c", 1)]
    unpartitioned = aggregate(frame, agg(group_by=["shop"], metrics={"n": "count()"})).frame
    assert "_partition" not in unpartitioned.columns and unpartitioned["n"].sum() == 6
