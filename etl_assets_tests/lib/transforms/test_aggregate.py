"""aggregate: metrics, having, joins, tumbling and rolling windows, partitions, categorical keys."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.lib.transforms import AggregateError, aggregate
from etl_assets_tests.lib.transforms.helpers import agg_spec as agg


@pytest.fixture
def sales() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop": pd.Categorical(["a", "a", "b", "a", "b", "c"], categories=["a", "b", "c", "unused"]),
            "amount": [10.0, np.nan, 5.0, 30.0, 7.0, 1.0],
            "qty": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
            "at": pd.to_datetime(
                ["2024-01-01T03:00Z", "2024-01-01T15:00Z", "2024-01-02T10:00Z", "2024-01-08T10:00Z", "2024-01-31T23:00Z", "2024-02-01T01:00Z"], utc=True
            ).as_unit("us"),
        }
    )


ALL_METRICS = {
    "n": "count()", "n_amount": "count(amount)", "nulls": "null_count(amount)", "total": "sum(amount)", "avg": "mean(amount)",
    "lo": "min(amount)", "hi": "max(amount)", "med": "median(amount)", "sd": "std(amount)", "distinct": "nunique(qty)",
    "first_qty": "first(qty)", "last_qty": "last(qty)",
}


def test_every_metric_against_hand_computed_values(sales: pd.DataFrame) -> None:
    out = aggregate(sales, agg(group_by=["shop"], metrics=ALL_METRICS)).frame
    assert list(out.columns) == ["shop", *ALL_METRICS]
    rows = {row.pop("shop"): row for row in out.to_dict("records")}
    assert list(rows) == ["a", "b", "c"]  # no row for the unused category
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["n"], a["n_amount"], a["nulls"], a["total"], a["avg"], a["lo"], a["hi"], a["med"]) == (3, 2, 1, 40.0, 20.0, 10.0, 30.0, 20.0)
    assert a["sd"] == pytest.approx(math.sqrt(200.0)) and (a["distinct"], a["first_qty"], a["last_qty"]) == (3, 1, 4)
    assert (b["n"], b["total"], b["avg"], b["med"], b["distinct"]) == (2, 12.0, 6.0, 6.0, 1)
    assert b["sd"] == pytest.approx(math.sqrt(2.0))
    assert (b["first_qty"], b["last_qty"]) == (5, 5)  # first non-null value
    assert math.isnan(c["sd"]) and c["n"] == 1  # one value: sample std undefined


def test_metric_dtypes(sales: pd.DataFrame) -> None:
    out = aggregate(sales, agg(group_by=["shop"], metrics={**ALL_METRICS, "qty_sum": "sum(qty)", "qty_mean": "mean(qty)", "first_at": "first(at)"})).frame
    dtypes = {name: str(dtype) for name, dtype in out.dtypes.items()}
    assert dtypes["shop"] == "category" and list(out["shop"].cat.categories) == ["a", "b", "c", "unused"]
    assert {dtypes[m] for m in ("n", "n_amount", "nulls", "distinct")} == {"int64"}
    assert {dtypes[m] for m in ("avg", "med", "sd", "qty_mean", "total")} == {"float64"}
    assert dtypes["qty_sum"] == dtypes["first_qty"] == "Int64" and dtypes["first_at"] == "datetime64[us, UTC]"


def test_sum_of_an_all_null_group_is_null_and_min_max_of_text() -> None:
    frame = pd.DataFrame({"g": ["x", "x", "y"], "v": [np.nan, np.nan, 1.0], "c": pd.Categorical(["q", "b", "z"], categories=["z", "q", "b"])})
    out = aggregate(frame, agg(group_by=["g"], metrics={"s": "sum(v)", "n": "count(v)", "lo": "min(c)", "hi": "max(c)"})).frame
    assert math.isnan(out["s"].iloc[0]) and out["s"].iloc[1] == 1.0 and out["n"].tolist() == [0, 1]
    assert out["lo"].tolist() == ["b", "z"] and out["hi"].tolist() == ["q", "z"]


def test_no_group_by_gives_one_row_even_for_empty_input(sales: pd.DataFrame) -> None:
    spec = agg(metrics={"n": "count()", "total": "sum(amount)", "u": "nunique(qty)"})
    assert aggregate(sales, spec).frame.to_dict("records") == [{"n": 6, "total": 53.0, "u": 5}]
    empty = aggregate(sales.iloc[:0], spec).frame
    assert len(empty) == 1 and empty["n"].iloc[0] == 0 and empty["u"].iloc[0] == 0 and math.isnan(empty["total"].iloc[0])


def test_categorical_keys_do_not_explode_and_null_keys_group() -> None:
    rng = np.random.default_rng(4)
    cats = [f"c{i}" for i in range(200)]
    frame = pd.DataFrame({name: pd.Categorical(rng.choice(cats[:3], 50), categories=cats) for name in ("k1", "k2", "k3")})
    frame.loc[0, "k1"] = np.nan
    out = aggregate(frame, agg(group_by=["k1", "k2", "k3"], metrics={"n": "count()"})).frame
    assert len(out) == len(frame.drop_duplicates()) <= 27 + 1 and out["n"].sum() == 50
    assert all(isinstance(out[k].dtype, pd.CategoricalDtype) for k in ("k1", "k2", "k3"))
    assert out["k1"].isna().sum() >= 1 and out["k1"].isna().iloc[-1]  # null key group sorts last


def test_output_is_deterministic_whatever_the_input_order(sales: pd.DataFrame) -> None:
    spec = agg(group_by=["shop"], window={"column": "at", "every": "week"}, metrics={"n": "count()", "t": "sum(amount)", "m": "median(amount)"})
    expected = aggregate(sales, spec).frame
    for seed in range(3):
        shuffled = sales.sample(frac=1.0, random_state=seed)
        pd.testing.assert_frame_equal(aggregate(shuffled, spec).frame, expected)


def test_missing_columns_and_non_numeric_metrics_are_errors(sales: pd.DataFrame) -> None:
    with pytest.raises(AggregateError, match="aggregate input has no column 'amout'"):
        aggregate(sales, agg(metrics={"t": "sum(amout)"}))
    with pytest.raises(AggregateError, match=r"sum\(shop\) needs a numeric column"):
        aggregate(sales, agg(metrics={"t": "sum(shop)"}))
    with pytest.raises(AggregateError, match="collide with a group column"):
        aggregate(sales, agg(group_by=["shop"], metrics={"shop": "count()"}))


# --------------------------------------------------------------------------- having


def test_having_filters_groups(sales: pd.DataFrame) -> None:
    result = aggregate(sales, agg(group_by=["shop"], metrics={"n": "count()", "total": "sum(amount)"}, having=["n >= 2", "total > 11"]))
    assert result.frame["shop"].astype(str).tolist() == ["a", "b"]
    assert result.stats.groups_filtered_by_having == 1 and result.stats.groups_out == 2 and result.stats.rows_in == 6


def test_having_on_a_group_column_and_errors(sales: pd.DataFrame) -> None:
    frame = sales.assign(year=[2023, 2023, 2024, 2024, 2024, 2025])
    out = aggregate(frame, agg(group_by=["year"], metrics={"n": "count()"}, having=["year != 2024"])).frame
    assert out["year"].tolist() == [2023, 2025]
    with pytest.raises(AggregateError, match="'nope' is neither a metric nor a group column"):
        aggregate(sales, agg(group_by=["shop"], metrics={"n": "count()"}, having=["nope > 1"]))
    with pytest.raises(AggregateError, match="'shop' is category, not a number"):
        aggregate(sales, agg(group_by=["shop"], metrics={"n": "count()"}, having=["shop > 1"]))


# --------------------------------------------------------------------------- tumbling windows


def day_counts(out: pd.DataFrame, fmt: str = "%Y-%m-%d") -> dict[str, int]:
    return dict(zip(out["window_start"].dt.strftime(fmt), out["n"], strict=True))


def test_day_window_in_a_timezone(sales: pd.DataFrame) -> None:
    spec = agg(window={"column": "at", "every": "day", "timezone": "America/New_York"}, metrics={"n": "count()"})
    out = aggregate(sales, spec).frame
    # 03:00 UTC on Jan 1 is Dec 31 in New York; 01:00 UTC Feb 1 is Jan 31
    assert day_counts(out) == {"2023-12-31": 1, "2024-01-01": 1, "2024-01-02": 1, "2024-01-08": 1, "2024-01-31": 2}
    assert str(out["window_start"].dt.tz) == "America/New_York"
    assert out["window_start"].iloc[1] == pd.Timestamp("2024-01-01 05:00", tz="UTC")  # local midnight


def test_utc_early_morning_belongs_to_the_previous_new_york_day() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2013-01-02T03:00:00Z", "2013-01-02T06:00:00Z"], utc=True)})
    out = aggregate(frame, agg(window={"column": "at", "every": "day", "timezone": "America/New_York"}, metrics={"n": "count()"})).frame
    assert day_counts(out) == {"2013-01-01": 1, "2013-01-02": 1}
    utc_days = aggregate(frame, agg(window={"column": "at", "every": "day"}, metrics={"n": "count()"})).frame
    assert day_counts(utc_days) == {"2013-01-02": 2} and str(utc_days["window_start"].dt.tz) == "UTC"


@pytest.mark.parametrize(("every", "expected"), [
    ("week", {"2024-01-01": 3, "2024-01-08": 1, "2024-01-29": 2}),
    ("month", {"2024-01-01": 5, "2024-02-01": 1}),
    ("hour", {"2024-01-01T03": 1, "2024-01-01T15": 1, "2024-01-02T10": 1, "2024-01-08T10": 1, "2024-01-31T23": 1, "2024-02-01T01": 1}),
])
def test_tumbling_units(sales: pd.DataFrame, every: str, expected: dict[str, int]) -> None:
    out = aggregate(sales, agg(window={"column": "at", "every": every}, metrics={"n": "count()"})).frame
    assert day_counts(out, "%Y-%m-%dT%H" if every == "hour" else "%Y-%m-%d") == expected
    if every == "week":
        assert (out["window_start"].dt.day_of_week == 0).all()  # weeks start on Monday


def test_week_and_month_starts_on_sunday_and_month_ends() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2024-03-03 23:59", "2024-03-04 00:00", "2024-02-29 12:00", "2023-12-31 23:00"])})
    weeks = aggregate(frame, agg(window={"column": "at", "every": "week"}, metrics={"n": "count()"})).frame
    assert day_counts(weeks) == {"2023-12-25": 1, "2024-02-26": 2, "2024-03-04": 1}  # Sunday Mar 3 is in the week of Mon Feb 26
    months = aggregate(frame, agg(window={"column": "at", "every": "month"}, metrics={"n": "count()"})).frame
    assert day_counts(months) == {"2023-12-01": 1, "2024-02-01": 1, "2024-03-01": 2}
    assert weeks["window_start"].dt.tz is None  # naive in, naive out


def test_hour_windows_keep_the_repeated_dst_hour_apart() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2013-11-03T05:10Z", "2013-11-03T05:50Z", "2013-11-03T06:10Z"], utc=True)})
    out = aggregate(frame, agg(window={"column": "at", "every": "hour", "timezone": "America/New_York"}, metrics={"n": "count()"})).frame
    assert out["n"].tolist() == [2, 1]  # 01:00 EDT and 01:00 EST are two hours
    assert [str(v) for v in out["window_start"]] == ["2013-11-03 01:00:00-04:00", "2013-11-03 01:00:00-05:00"]
    india = aggregate(frame, agg(window={"column": "at", "every": "hour", "timezone": "Asia/Kolkata"}, metrics={"n": "count()"})).frame
    assert [str(v) for v in india["window_start"]] == ["2013-11-03 10:00:00+05:30", "2013-11-03 11:00:00+05:30"]  # local hours, UTC+05:30
    assert india["n"].tolist() == [1, 2]


def test_windows_on_dates_and_naive_values_in_a_window_timezone() -> None:
    days = pd.Series(pd.array([pd.Timestamp(d).date() for d in ("2024-01-03", "2024-01-07", "2024-01-08")], dtype=pd.ArrowDtype(pa.date32())))
    out = aggregate(pd.DataFrame({"d": days}), agg(window={"column": "d", "every": "week", "timezone": "Asia/Tokyo"}, metrics={"n": "count()"})).frame
    assert day_counts(out) == {"2024-01-01": 2, "2024-01-08": 1} and out["window_start"].dt.tz is None


def test_rows_with_a_null_window_column_form_their_own_group() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2024-01-01", None, "2024-01-01"])})
    out = aggregate(frame, agg(window={"column": "at", "every": "day"}, metrics={"n": "count()"})).frame
    assert out["n"].tolist() == [2, 1] and out["window_start"].isna().tolist() == [False, True]


# --------------------------------------------------------------------------- rolling windows


def test_rolling_window_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame({
        "g": rng.choice(["x", "y"], n),
        "v": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 20, n).astype(float)),
        "at": pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 40 * 24, n), unit="h"),
    })
    metrics = {"n": "count()", "s": "sum(v)", "med": "median(v)", "u": "nunique(v)", "first": "first(v)", "last": "last(v)", "sd": "std(v)"}
    zone = "America/New_York"  # spans the March DST change
    spec = agg(group_by=["g"], window={"column": "at", "every": "day", "rolling": 3, "timezone": zone}, metrics=metrics)
    out = aggregate(frame, spec).frame
    local_day = frame["at"].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    expected_keys = sorted({(g, d) for g, d in zip(frame["g"], local_day, strict=True)})
    assert [(r.g, r.window_end.tz_localize(None) - pd.Timedelta(days=1)) for r in out.itertuples()] == expected_keys
    for row in out.itertuples():
        last_day = row.window_end.tz_localize(None) - pd.Timedelta(days=1)
        inside = frame[(frame["g"] == row.g) & (local_day > last_day - pd.Timedelta(days=3)) & (local_day <= last_day)]["v"]
        assert row.window_start == pd.Timestamp(last_day - pd.Timedelta(days=2), tz=zone)
        assert row.n == len(inside) and row.u == inside.nunique()
        assert row.s == pytest.approx(inside.sum(min_count=1), nan_ok=True)
        assert row.med == pytest.approx(inside.median(), nan_ok=True) and row.sd == pytest.approx(inside.std(), nan_ok=True)
        non_null = inside.dropna()
        assert row.first == pytest.approx(non_null.iloc[0] if len(non_null) else np.nan, nan_ok=True)
        assert row.last == pytest.approx(non_null.iloc[-1] if len(non_null) else np.nan, nan_ok=True)


def test_rolling_months_bounds() -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2024-01-15", "2024-03-02"]), "v": [1.0, 2.0]})
    out = aggregate(frame, agg(window={"column": "at", "every": "month", "rolling": 2}, metrics={"t": "sum(v)"})).frame
    assert out[["window_start", "window_end", "t"]].values.tolist() == [
        [pd.Timestamp("2023-12-01"), pd.Timestamp("2024-02-01"), 1.0],
        [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-01"), 2.0],  # February has no row: no output for it
    ]


# --------------------------------------------------------------------------- joins


def test_join_with_timezone_and_unit_normalised_keys() -> None:
    flights = pd.DataFrame({
        "origin": pd.Categorical(["EWR", "JFK", "EWR", "LGA"]),
        "hour": pd.to_datetime(["2013-01-01T10:00Z"] * 4, utc=True).tz_convert("America/New_York").as_unit("ns"),
        "delay": [5.0, 10.0, 15.0, 1.0],
    })
    weather = pd.DataFrame({
        "origin": pd.array(["EWR", "JFK", "LGA"], dtype="str"),
        "hour": pd.to_datetime(["2013-01-01T10:00Z", "2013-01-01T10:00Z", "2013-01-01T11:00Z"], utc=True).as_unit("ms"),
        "temp": [30.0, 40.0, 50.0],
        "_partition": ["p", "p", "p"],
    })
    spec = agg(join=[{"table": "weather", "on": ["origin", "hour"]}], group_by=["origin"], metrics={"d": "mean(delay)", "temp": "max(temp)", "n": "count(temp)"})
    out = aggregate(flights, spec, joins={"weather": weather}).frame.set_index("origin")
    assert out.loc["EWR", "temp"] == 30.0 and out.loc["JFK", "temp"] == 40.0 and out.loc["EWR", "d"] == 10.0
    assert out.loc["LGA", "n"] == 0  # left join: no weather for that hour
    inner = agg(join=[{"table": "weather", "on": ["origin", "hour"], "how": "inner", "columns": ["temp"]}], metrics={"n": "count()"})
    assert aggregate(flights, inner, joins={"weather": weather}).frame["n"].tolist() == [3]


def test_join_int_keys_of_different_dtypes_and_null_keys_never_match() -> None:
    left = pd.DataFrame({"k": pd.array([1, 2, None], dtype="Int64"), "x": [1, 1, 1]})
    right = pd.DataFrame({"k": np.array([2, 3], dtype="int64"), "label": pd.array([5, 6], dtype="Int64")})
    right_null = pd.DataFrame({"k": pd.array([None], dtype="Int64"), "label": pd.array([9], dtype="Int64")})
    spec = agg(join=[{"table": "r", "on": ["k"]}], group_by=["k"], metrics={"label": "max(label)"})
    assert aggregate(left, spec, joins={"r": right}).frame["label"].tolist()[:2] == [pd.NA, 5]
    assert aggregate(left, spec, joins={"r": right_null}).frame["label"].isna().all()


def test_join_errors_are_clear(sales: pd.DataFrame) -> None:
    with pytest.raises(AggregateError, match="needs the clean table 'weather'"):
        aggregate(sales, agg(join=[{"table": "weather", "on": ["shop"]}], metrics={"n": "count()"}))
    spec = agg(join=[{"table": "w", "on": ["shop"]}], metrics={"n": "count()"})
    with pytest.raises(AggregateError, match=r"key 'shop' is category \(text\) in the aggregated frame but int64 \(number\) in 'w'"):
        aggregate(sales, spec, joins={"w": pd.DataFrame({"shop": [1], "t": [1.0]})})
    with pytest.raises(AggregateError, match="naive datetime"):
        aggregate(sales, agg(join=[{"table": "w", "on": ["at"]}], metrics={"n": "count()"}), joins={"w": pd.DataFrame({"at": pd.to_datetime(["2024-01-01"]), "t": [1]})})
    with pytest.raises(AggregateError, match=r"'w' has 2 rows sharing a key .*dedup 'w' on shop"):
        aggregate(sales, spec, joins={"w": pd.DataFrame({"shop": ["a", "a"], "t": [1.0, 2.0]})})
    with pytest.raises(AggregateError, match="'amount' already exist"):
        aggregate(sales, spec, joins={"w": pd.DataFrame({"shop": ["a"], "amount": [1.0]})})


# --------------------------------------------------------------------------- partitions


def test_partitioned_aggregate_keeps_partition(sales: pd.DataFrame) -> None:
    frame = sales.assign(_partition=["d1", "d1", "d2", "d2", "d2", "d2"])
    out = aggregate(frame, agg(partitioned=True, group_by=["shop"], metrics={"n": "count()"})).frame
    assert list(out.columns) == ["shop", "n", "_partition"]
    assert list(zip(out["_partition"], out["shop"].astype(str), out["n"], strict=True)) == [("d1", "a", 2), ("d2", "a", 1), ("d2", "b", 2), ("d2", "c", 1)]
    unpartitioned = aggregate(frame, agg(group_by=["shop"], metrics={"n": "count()"})).frame
    assert list(unpartitioned.columns) == ["shop", "n"] and unpartitioned["n"].tolist() == [3, 2, 1]
