"""The comparators on indexed values (an id per distinct text, packed date digits) give, pair for
pair, what the plain per-pair definition gives: rapidfuzz's scorer on the two normalised texts,
and the date rule on the two dates' ``YYYYMMDD`` text."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

from etl_assets.demo.customers import generate_customers
from etl_assets.lib.dedup.candidates import canonical_pairs
from etl_assets.lib.dedup.compare import THRESHOLDS, compare_pairs, prepare, similarity_levels
from etl_assets.lib.dedup.compare_index import (
    date_index,
    differing_digits,
    text_index,
    with_sorted_tokens,
)
from etl_assets.lib.dedup.normalize import normalize_series

#: per pair, as rapidfuzz gives it in float32 (``cpdist(..., dtype=float32)``), percentages / 100
_PLAIN = {
    "name": lambda a, b: max(np.float32(JaroWinkler.normalized_similarity(a, b)), np.float32(fuzz.token_sort_ratio(a, b)) / np.float32(100)),
    "jaro_winkler": lambda a, b: np.float32(JaroWinkler.normalized_similarity(a, b)),
    "levenshtein": lambda a, b: np.float32(Levenshtein.normalized_similarity(a, b)),
    "email": lambda a, b: np.float32(Levenshtein.normalized_similarity(a, b)),
    "phone": lambda a, b: np.float32(Levenshtein.normalized_similarity(a, b)),
    "token_set": lambda a, b: np.float32(fuzz.token_set_ratio(a, b)) / np.float32(100),
    "exact": lambda a, b: float(a == b),
}
_KIND = {"email": "email", "phone": "phone"}


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    frame, _ = generate_customers(2_000, seed=5, profile="b")
    frame.loc[::17, ["first_name", "last_name"]] = None
    frame["full_name"] = frame["first_name"].fillna("") + " " + frame["last_name"].fillna("")
    frame.loc[::7, "full_name"] = frame["last_name"][::7].fillna("") + " " + frame["first_name"][::7].fillna("")
    frame.loc[::13, "full_name"] = None
    return frame


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, each row with its neighbour (near-duplicates sit close), and self-pairs
    (the same text on both sides)."""
    rng = np.random.default_rng(1)
    left = np.r_[rng.integers(0, n, 20_000), np.arange(n - 1), np.arange(0, n, 5)]
    right = np.r_[rng.integers(0, n, 20_000), np.arange(1, n), np.arange(0, n, 5)]
    return left, right


@pytest.mark.parametrize(
    "column, compare",
    [
        ("full_name", "name"),  # mostly distinct: per pair
        ("last_name", "jaro_winkler"),
        ("first_name", "levenshtein"),
        ("email", "email"),
        ("phone", "phone"),
        ("company", "token_set"),  # few distinct: once per distinct pair
        ("city", "name"),  # few distinct, name: token-sort texts per distinct pair
        ("city", "exact"),
    ],
)
def test_indexed_text_comparators_equal_the_per_pair_definition(records: pd.DataFrame, column: str, compare: str) -> None:
    left, right = _pairs(len(records))
    texts = normalize_series(records[column], _KIND.get(compare, "text")).to_numpy(dtype=object)
    plain = np.array([
        np.nan if texts[i] is None or texts[j] is None else float(_PLAIN[compare](texts[i], texts[j]))
        for i, j in zip(left.tolist(), right.tolist(), strict=True)
    ])
    indexed = compare_pairs(prepare(records[column], compare), compare, left, right)
    np.testing.assert_array_equal(indexed.similarity, plain)
    np.testing.assert_array_equal(indexed.levels, similarity_levels(plain, THRESHOLDS[compare]))
    assert np.isnan(plain).any()
    assert (indexed.levels == len(THRESHOLDS[compare])).any() and (indexed.levels == 0).any()


def test_a_plain_array_of_texts_is_indexed_on_the_fly(records: pd.DataFrame) -> None:
    left, right = _pairs(len(records))
    index = prepare(records["email"], "email")
    on_the_fly = compare_pairs(index.row_values(), "email", left, right)
    np.testing.assert_array_equal(on_the_fly.similarity, compare_pairs(index, "email", left, right).similarity)


def test_text_index_ids_missing_and_row_values() -> None:
    index = text_index(np.array(["b a", None, "c", "b a", np.nan], dtype=object))
    assert index.codes.tolist() == [0, -1, 1, 0, -1]
    assert index.row_values().tolist() == ["b a", None, "c", "b a", None]
    assert with_sorted_tokens(index).sorted_uniques.tolist() == ["a b", "c"]
    assert not index.many_distinct  # 2 distinct texts in 5 rows


def _plain_date_similarity(a: dt.date | None, b: dt.date | None) -> float:
    if a is None or b is None:
        return np.nan
    wrong = sum(x != y for x, y in zip(a.strftime("%Y%m%d"), b.strftime("%Y%m%d"), strict=True))
    swapped = a.year == b.year and a.month == b.day and a.day == b.month
    if wrong == 0:
        return 1.0
    if wrong == 1 or swapped:
        return 0.9
    return 0.5 if abs((a - b).days) <= 31 else 0.0


def test_date_comparator_equals_the_per_pair_definition() -> None:
    rng = np.random.default_rng(2)
    base = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 80 * 365, 400), unit="D")
    dates = pd.Series([
        *base,
        pd.Timestamp("1987-03-04"), pd.Timestamp("1987-04-03"),  # day and month swapped
        pd.Timestamp("1987-03-14"), pd.Timestamp("1978-03-04"),  # one digit, two digits (transposed year)
        pd.Timestamp("1987-03-29"), pd.NaT, pd.Timestamp("1699-12-31"), pd.Timestamp("2261-01-09"),
    ])
    n = len(dates)
    left, right = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    plain_dates = [None if pd.isna(d) else d.date() for d in dates]
    plain = np.array([_plain_date_similarity(plain_dates[i], plain_dates[j]) for i, j in zip(left, right, strict=True)])
    indexed = compare_pairs(prepare(dates.astype(str).where(dates.notna(), None), "date"), "date", left, right)
    np.testing.assert_array_equal(indexed.similarity, plain)
    assert {0.0, 0.5, 0.9, 1.0} <= set(np.unique(plain[~np.isnan(plain)]).tolist())


def test_packed_digits_count_the_differing_digits() -> None:
    index = date_index(pd.Series(pd.to_datetime(["2024-01-05", "2024-01-05", "2042-10-05", None])))
    assert index.present.tolist() == [True, True, True, False]
    assert differing_digits(index.digits[:1], index.digits[1:2]).tolist() == [0]
    assert differing_digits(index.digits[:1], index.digits[2:3]).tolist() == [4]  # 20240105 vs 20421005
    assert hex(int(index.digits[0])) == "0x20240105"


def test_canonical_pairs_order_repeats_and_self_pairs() -> None:
    pairs = canonical_pairs(np.array([[3, 1], [1, 3], [2, 2], [0, 4], [1, 3]]))
    assert pairs.tolist() == [[1, 3], [0, 4]]
    assert canonical_pairs(np.array([[2, 2], [5, 5]])).shape == (0, 2)  # only self-pairs: none left
