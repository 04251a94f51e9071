"""The streamed aggregate (a chunk at a time; median/std/nunique through DuckDB) equals the
in-memory one: same rows, order, values and dtypes, for every metric, window, join and having.

Floats are compared with a relative tolerance of 1e-12: sums (and so means) and std are added up
in another order than pandas' single pass.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.transforms import aggregate
from etl_assets.lib.transforms.aggregate_duckdb import DuckDBLimits
from etl_assets.lib.transforms.aggregate_streaming import (
    MERGEABLE,
    SPILLED,
    NotStreamable,
    aggregate_streamed,
)
from etl_assets_tests.lib.transforms.helpers import agg_spec as agg

ROWS = 3_000


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """Every dtype a clean table has, with nulls everywhere they can be."""
    rng = np.random.default_rng(7)
    shops = np.array(["north", "south", "east", "west"], dtype=object)
    shop = pd.Categorical(
        shops[rng.integers(0, 4, ROWS)], categories=["east", "north", "south", "unused", "west"]
    )
    shop[rng.random(ROWS) < 0.03] = np.nan
    amount = rng.normal(100, 30, ROWS).round(2)
    amount[rng.random(ROWS) < 0.1] = np.nan
    qty = pd.array(rng.integers(0, 50, ROWS), dtype="Int64")
    qty[rng.random(ROWS) < 0.1] = pd.NA
    kind = pd.array(np.array(["a", "b", "c"], dtype=object)[rng.integers(0, 3, ROWS)], dtype="str")
    kind[rng.random(ROWS) < 0.05] = None
    at = pd.Series(
        pd.Timestamp("2024-03-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 40 * 24 * 60, ROWS), unit="min")
    ).dt.as_unit("us")
    at[rng.random(ROWS) < 0.02] = pd.NaT
    return pd.DataFrame(
        {
            "shop": shop,
            "kind": kind,
            "region_id": rng.integers(0, 6, ROWS),
            "amount": amount,
            "qty": qty,
            "flag": rng.random(ROWS) < 0.3,
            "at": at,
            "tier": pd.Categorical(
                np.array(["low", "mid", "high"], dtype=object)[rng.integers(0, 3, ROWS)],
                categories=["low", "mid", "high"],
            ),
        }
    )


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    return pd.DataFrame(
        {"region_id": np.arange(5), "region": pd.array(["r0", "r1", "r2", "r3", None], dtype="str")}
    )


def _chunks(frame: pd.DataFrame, sizes: list[int]) -> Iterator[pd.DataFrame]:
    start = 0
    for size in sizes:
        yield frame.iloc[start : start + size]
        start += size
    yield frame.iloc[start:]


CHUNKS = [1, 0, 400, 7, 900, 0, 1]  # an empty chunk and single rows too

EVERY_METRIC = {
    "n": "count()", "n_amount": "count(amount)", "nulls": "null_count(qty)", "total": "sum(amount)", "qty_total": "sum(qty)",
    "avg": "mean(amount)", "qty_avg": "mean(qty)", "flag_rate": "mean(flag)", "flags": "sum(flag)",
    "lo": "min(amount)", "hi": "max(qty)", "lo_kind": "min(kind)", "hi_tier": "max(tier)", "first_at": "first(at)", "last_tier": "last(tier)",
    "first_qty": "first(qty)", "last_kind": "last(kind)", "med": "median(amount)", "qty_med": "median(qty)", "sd": "std(amount)",
    "distinct_kind": "nunique(kind)", "distinct_qty": "nunique(qty)", "distinct_tier": "nunique(tier)", "distinct_at": "nunique(at)",
}  # fmt: skip
MERGEABLE_ONLY = {
    name: text for name, text in EVERY_METRIC.items() if text.split("(")[0] in MERGEABLE
}

CASES: dict[str, dict[str, Any]] = {
    "every metric by category and text keys": {"group_by": ["shop", "kind"], "metrics": EVERY_METRIC},
    "mergeable only by an int key": {"group_by": ["region_id"], "metrics": MERGEABLE_ONLY},
    "no group_by": {"metrics": EVERY_METRIC},
    "day windows in New York": {"group_by": ["shop"], "window": {"column": "at", "every": "day", "timezone": "America/New_York"}, "metrics": EVERY_METRIC},
    "rolling 3-day windows": {"group_by": ["tier"], "window": {"column": "at", "every": "day", "rolling": 3}, "metrics": EVERY_METRIC},
    "rolling weeks, mergeable": {"window": {"column": "at", "every": "week", "rolling": 2}, "metrics": MERGEABLE_ONLY},
    "join and having": {
        "join": [{"table": "regions", "on": ["region_id"]}], "group_by": ["region"], "metrics": {"n": "count()", "med": "median(amount)", "avg": "mean(amount)"},
        "having": ["n >= 400", "med > 0"],
    },
    "inner join, having on mean": {
        "join": [{"table": "regions", "on": ["region_id"], "how": "inner"}], "group_by": ["region", "flag"], "metrics": {"avg": "mean(qty)", "sd": "std(qty)"},
        "having": ["avg > 24.5"],
    },
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_equals_in_memory(case: str, events: pd.DataFrame, regions: pd.DataFrame) -> None:
    spec = agg(**CASES[case])
    joins = {"regions": regions}
    expected = aggregate(events, spec, joins=joins)
    streamed = aggregate_streamed(_chunks(events, CHUNKS), spec, joins=joins)
    pd.testing.assert_frame_equal(streamed.result.frame, expected.frame, rtol=1e-12, atol=0)
    assert streamed.result.stats == expected.stats
    assert len(expected.frame) > 0
    assert streamed.chunks == len(CHUNKS) + 1
    spilled = any(text.split("(")[0] in SPILLED for text in spec.metrics.values())
    assert streamed.engine == ("duckdb" if spilled else "streaming")
    assert (streamed.spilled_rows > 0) == spilled


def test_partial_states_are_reduced_along_the_way(
    events: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partials are combined into one whenever they grow past the threshold: same result."""
    from etl_assets.lib.transforms import aggregate_streaming

    monkeypatch.setattr(aggregate_streaming, "REDUCE_AT_ROWS", 10)
    spec = agg(group_by=["shop", "kind"], metrics=EVERY_METRIC)
    streamed = aggregate_streamed(_chunks(events, [100] * 25), spec)
    pd.testing.assert_frame_equal(
        streamed.result.frame, aggregate(events, spec).frame, rtol=1e-12, atol=0
    )


def test_duckdb_spills_beyond_its_memory_limit_and_cleans_up(tmp_path: Path) -> None:
    """More values than DuckDB may hold in memory: still exact, and its folder is removed."""
    rng = np.random.default_rng(1)
    rows = 1_500_000
    frame = pd.DataFrame(
        {
            "g": rng.integers(0, 200_000, rows),
            "v": rng.random(rows),
            "k": rng.integers(0, 1_000_000, rows),
        }
    )
    spec = agg(
        group_by=["g"], metrics={"med": "median(v)", "distinct": "nunique(k)", "sd": "std(v)"}
    )
    limits = DuckDBLimits(memory_limit="24MB", threads=1, temp_root=str(tmp_path))
    streamed = aggregate_streamed(_chunks(frame, [250_000] * 5), spec, limits=limits)
    pd.testing.assert_frame_equal(
        streamed.result.frame, aggregate(frame, spec).frame, rtol=1e-12, atol=0
    )
    assert list(tmp_path.iterdir()) == []


def test_what_cannot_be_streamed_says_why(events: pd.DataFrame) -> None:
    with pytest.raises(NotStreamable, match="no rows"):
        aggregate_streamed(_chunks(events.iloc[:0], []), agg(metrics={"n": "count()"}))
    objects = pd.DataFrame({"x": pd.Series([1, "a"], dtype=object)})
    with pytest.raises(NotStreamable, match="nunique over a object column"):
        aggregate_streamed([objects], agg(metrics={"d": "nunique(x)"}))
    with pytest.raises(NotStreamable, match="partitioned"):
        aggregate_streamed([events], agg(metrics={"n": "count()"}, partitioned=True))


def test_errors_are_those_of_the_in_memory_path(events: pd.DataFrame) -> None:
    from etl_assets.lib.transforms import AggregateError

    spec = agg(group_by=["shop"], metrics={"total": "sum(kind)"})
    with pytest.raises(AggregateError, match="needs a numeric column"):
        aggregate_streamed(_chunks(events, [10]), spec)


def test_no_duckdb_folder_without_spilled_metrics(events: pd.DataFrame) -> None:
    before = set(os.listdir(tempfile.gettempdir()))
    aggregate_streamed(_chunks(events, [500]), agg(group_by=["shop"], metrics=MERGEABLE_ONLY))
    created = {
        name
        for name in set(os.listdir(tempfile.gettempdir())) - before
        if name.startswith("etl_assets_agg_")
    }
    assert created == set()
