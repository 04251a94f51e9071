"""Dedup building blocks: dense group ids, duplicates with the row they duplicate, exact_dedup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.transforms import exact_dedup, find_duplicates
from etl_assets.lib.transforms.dedup import duplicated, group_ids


def test_group_ids_are_dense_first_appearance_and_treat_nulls_as_equal() -> None:
    a = pd.Series(pd.array([1, 2, 1, None, None, 2], dtype="Int64"))
    b = pd.Series(pd.Categorical(["x", "y", "x", None, None, "z"]))
    assert group_ids([a, b]).tolist() == [0, 1, 0, 2, 2, 3]


def test_group_ids_agree_with_pandas_on_random_keys() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({
        "i": pd.array(rng.integers(0, 5, 2000), dtype="Int64"),
        "s": pd.array(rng.choice(["a", "b", None], 2000), dtype="str"),
        "t": pd.to_datetime(rng.integers(0, 3, 2000), unit="D", utc=True),
    })
    ours = group_ids([frame[c] for c in frame.columns])
    theirs = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    assert (ours == theirs).all()


def test_group_ids_survive_a_huge_key_space() -> None:
    columns = [pd.Series(np.arange(100_000) % m) for m in (99_991, 99_989, 99_971, 99_961)]
    ids = group_ids(columns)
    assert ids.max() == len(np.unique(ids)) - 1 == 99_999


@pytest.mark.parametrize(("keep", "removed", "survivors"), [("first", [2, 3, 5], [0, 0, 1]), ("last", [0, 1, 2], [3, 5, 3])])
def test_find_duplicates_pairs_each_removed_row_with_its_survivor(keep: str, removed: list[int], survivors: list[int]) -> None:
    keys = pd.DataFrame({"k": ["a", "b", "a", "a", "c", "b"]})
    found = find_duplicates(keys, keep)  # type: ignore[arg-type]
    assert found.removed.tolist() == removed and found.survivors is not None and found.survivors.tolist() == survivors
    assert find_duplicates(keys, keep, survivors=False).removed.tolist() == removed  # type: ignore[arg-type]


def test_exact_dedup_points_removed_rows_at_the_kept_row() -> None:
    frame = pd.DataFrame({"k": [1, 2, 1, 1], "v": ["a", "b", "c", "d"]}, index=[10, 11, 12, 13])
    first = exact_dedup(frame, ["k"], "first", with_kept_index=True)
    assert first.kept["v"].tolist() == ["a", "b"] and first.removed["v"].tolist() == ["c", "d"]
    assert list(first.kept_index) == [10, 10]  # type: ignore[arg-type]
    last = exact_dedup(frame, ["k"], "last", with_kept_index=True)
    assert last.kept["v"].tolist() == ["b", "d"] and list(last.kept_index) == [13, 13]  # type: ignore[arg-type]
    assert exact_dedup(frame, ["k"]).kept_index is None
    empty = exact_dedup(frame.iloc[:0], ["k"], with_kept_index=True)
    assert len(empty.kept) == 0 and len(empty.kept_index) == 0  # type: ignore[arg-type]


# --------------------------------------------------------------------------- dense int keys

@pytest.mark.parametrize("keep", ["first", "last"])
@pytest.mark.parametrize("spread", [1, 3, 1000])
def test_dense_int_keys_flag_the_rows_pandas_flags(keep: str, spread: int) -> None:
    """Counting by direct addressing (dense ranges) or hashing (sparse) gives pandas' answer."""
    rng = np.random.default_rng(spread)
    values = rng.integers(-50, 50 + 200 * spread, 2000).astype(np.int64)
    expected = pd.Series(values).duplicated(keep=keep).to_numpy()
    assert (duplicated(pd.DataFrame({"k": values}), keep) == expected).all()
    assert expected.any() and not expected.all()


def test_dense_int_keys_with_every_key_repeated_or_none() -> None:
    once = np.arange(10, dtype=np.int64)[::-1].copy()
    assert not duplicated(pd.DataFrame({"k": once})).any()
    twice = np.concatenate([once, once])
    assert duplicated(pd.DataFrame({"k": twice})).tolist() == [False] * 10 + [True] * 10
    assert duplicated(pd.DataFrame({"k": twice}), "last").tolist() == [True] * 10 + [False] * 10
