"""The ``name`` comparator with token-sorted texts precomputed gives the same similarities as
rapidfuzz's ``token_sort_ratio`` per pair (it only moves the sorting from every pair to every
distinct text)."""

from __future__ import annotations

import numpy as np

from etl_assets.demo.customers import generate_customers
from etl_assets.lib.dedup.compare import compare_pairs, many_distinct, prepare, token_sorted


def test_precomputed_token_sort_equals_per_pair_token_sort() -> None:
    frame, _ = generate_customers(3_000, seed=2, profile="b")
    names = frame["first_name"].fillna("") + " " + frame["last_name"].fillna("")
    names[::7] = frame["last_name"][::7].fillna("") + " " + frame["first_name"][::7].fillna("")  # swapped
    names[::11] = None
    values = prepare(names, "name")
    assert many_distinct(np.asarray(values, dtype=object))
    rng = np.random.default_rng(0)
    left = rng.integers(0, len(values), 50_000)
    right = rng.integers(0, len(values), 50_000)
    # plus each row against its own swapped form's neighbours: many exact and near-exact pairs
    left, right = np.r_[left, np.arange(len(values) - 1)], np.r_[right, np.arange(1, len(values))]
    fast = compare_pairs(values, "name", left, right, sorted_tokens=token_sorted(np.asarray(values, dtype=object)))
    plain = compare_pairs(values, "name", left, right)
    np.testing.assert_array_equal(fast.similarity, plain.similarity)
    np.testing.assert_array_equal(fast.levels, plain.levels)
    assert (plain.levels == -1).any() and (plain.levels == 3).any()
