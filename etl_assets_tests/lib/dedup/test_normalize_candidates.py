"""Normalisation, blocking keys and candidate generation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.dedup.candidates import (
    blocking_pairs,
    canonical_pairs,
    neighbourhood_pairs,
    top_k_neighbours,
    value_neighbour_pairs,
)
from etl_assets.lib.dedup.keys import parse_term, term_values
from etl_assets.lib.dedup.normalize import key_hash, normalize_series, normalize_text


@pytest.mark.parametrize(
    "a, b",
    [
        ("José  Núñez", "jose nunez"),
        ("O'Brien, Ltd.", "o brien ltd"),
        ("\uff21\uff22\uff23", "abc"),  # full-width letters (NFKC)
        ("Cafe\u0301", "café"),  # combining accent vs precomposed
        ("  STRASSE ", "strasse"),
    ],
)
def test_normalised_values_are_equal(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


def test_key_hash_equal_for_normalised_equal_and_never_for_missing() -> None:
    frame = pd.DataFrame({"name": ["Ann  Lee", "ann lee!", "Bob", None, None], "city": ["Oslo", "OSLO", "Oslo", "x", "x"]})
    hashes = key_hash(frame, ["name", "city"])
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]
    assert hashes[3] != hashes[4]  # missing keys never make rows the same


def test_phonetic_and_prefix_terms() -> None:
    frame = pd.DataFrame({"last": ["Smith", "Smyth", "Jones"], "dob": ["1980-02-03", "1980-12-01", None]})
    soundex = term_values(frame, "soundex(last)")
    assert soundex[0] == soundex[1] != soundex[2]
    assert list(term_values(frame, "first2(last)")) == ["sm", "sm", "jo"]
    assert list(term_values(frame, "year(dob)")) == ["1980", "1980", None]
    with pytest.raises(ValueError, match="unknown function 'sndx'"):
        parse_term("sndx(last)")


def test_vectorised_normalisation_equals_the_per_value_one() -> None:
    """normalize_series normalises many ASCII values in Arrow (RE2); it must agree with
    normalize_text exactly, control characters and separators included."""
    rng = np.random.default_rng(9)
    alphabet = np.array([*list("abcXYZ019_ .,'-@\t\n\x0b\x0c\r\x1c\x1f\x00\x7f!"), "é", "Ñ", "\u3000", "ﬁ"])
    values = ["".join(rng.choice(alphabet, size=rng.integers(0, 10))) for _ in range(5000)]
    values += ["  Hello,  World! ", "O'Brien", "a__b", "", None, 42]
    got = normalize_series(pd.Series(values, dtype=object)).tolist()
    assert got == [normalize_text(v) for v in values]


def _brute(keys: list[str]) -> set[tuple[int, int]]:
    return {(i, j) for i in range(len(keys)) for j in range(i + 1, len(keys)) if keys[i] == keys[j]}


def test_blocking_pairs_equal_all_pairs_within_small_blocks() -> None:
    rng = np.random.default_rng(1)
    keys = [f"k{v}" for v in rng.integers(0, 30, size=300)]
    frame = pd.DataFrame({"key": keys})
    pairs = canonical_pairs(blocking_pairs(frame, ["key"], max_block_size=1000))
    assert set(map(tuple, pairs.tolist())) == _brute(keys)


def test_oversized_block_is_not_expanded_to_all_pairs() -> None:
    n, window = 5000, 10
    frame = pd.DataFrame({"key": ["same"] * n})
    pairs = blocking_pairs(frame, ["key"], max_block_size=100, window=window)
    assert len(pairs) <= n * (window - 1)
    assert len(pairs) < n * (n - 1) // 2 / 100


def test_split_blocks_are_reported_in_the_dedup_metadata() -> None:
    """A block larger than max_block_size is compared by sorted neighbourhood; the run says so:
    how many blocks, their rows and the largest, per rule (a small block is not listed)."""
    from etl_assets.lib.dedup import deduplicate
    from etl_assets.lib.spec.models import DedupSpec

    rng = np.random.default_rng(4)
    n_big, n_mid = 120, 40
    cities = ["Springfield"] * n_big + ["Shelbyville"] * n_mid + [f"Town{k}" for k in range(30)]
    frame = pd.DataFrame({
        "name": [f"person {k} {rng.integers(0, 10**6)}" for k in range(len(cities))],
        "city": cities,
    })
    fuzzy = {"fields": {"name": "name", "city": "exact"}, "blocking": [["city"], ["first3(name)"]], "max_block_size": 30}
    outcome = deduplicate(frame, DedupSpec.model_validate({"fuzzy": fuzzy}))
    assert outcome.stats.split_blocks["city"] == [n_big, n_mid]
    # every name starts with "per": one block of all rows under the second rule
    assert outcome.stats.split_blocks["first3(name)"] == [len(frame)]
    metadata = outcome.stats.as_metadata()
    assert metadata["dedup_split_blocks"] == 3
    assert metadata["dedup_split_block_rows"] == n_big + n_mid + len(frame)
    assert metadata["dedup_largest_split_block"] == len(frame)
    # nothing split when the cap is above every block
    fuzzy["max_block_size"] = 1000
    unsplit = deduplicate(frame, DedupSpec.model_validate({"fuzzy": fuzzy}))
    assert unsplit.stats.split_blocks == {} and unsplit.stats.as_metadata()["dedup_split_blocks"] == 0


def test_sorted_neighbourhood_pairs_adjacent_typos() -> None:
    frame = pd.DataFrame({"name": ["anderson", "zed", "andersen", "bob", "andersonn"]})
    pairs = set(map(tuple, canonical_pairs(neighbourhood_pairs(frame, ["name"], 2)).tolist()))
    assert (0, 2) in pairs and (0, 4) in pairs
    assert (0, 1) not in pairs and (1, 2) not in pairs  # zed sorts last, far from the andersons


def test_top_k_neighbours_and_value_groups() -> None:
    vectors = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.995]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    neighbours = set(map(tuple, top_k_neighbours(vectors, 1).tolist()))
    assert neighbours == {(0, 1), (2, 3)}
    codes = np.array([0, 1, 1, 2, 3, -1])
    pairs = set(map(tuple, canonical_pairs(value_neighbour_pairs(codes, np.array([[0, 1]]))).tolist()))
    assert pairs == {(0, 1), (0, 2), (1, 2)}


def test_lsh_neighbours_find_close_vectors_beyond_the_exact_limit() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((1500, 64)).astype(np.float32)
    noisy = centres + 0.15 * rng.standard_normal(centres.shape).astype(np.float32)  # one close twin each
    vectors = np.concatenate([centres, noisy])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = set(map(tuple, top_k_neighbours(vectors, 3).tolist()))
    approx = set(map(tuple, top_k_neighbours(vectors, 3, exact_limit=500).tolist()))
    twins = {(i, i + 1500) for i in range(1500)}
    assert twins <= exact
    assert len(twins & approx) / len(twins) >= 0.95
    sims = np.array([vectors[i] @ vectors[j] for i, j in approx])
    assert (sims >= 0.5).all()  # only close pairs are proposed
    assert len(approx) < 3000 * 2999 / 2 / 50  # bucketed, never all pairs


def test_comparison_in_chunks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pairs are compared in chunks to bound memory; the levels must not depend on the chunking
    (a chunk boundary inside the pairs, a last chunk shorter than the others)."""
    from etl_assets.demo.customers import PERSON_FUZZY, generate_customers
    from etl_assets.lib.dedup import engine
    from etl_assets.lib.spec.models import DedupSpec

    frame, _ = generate_customers(3000, seed=11)
    fuzzy = DedupSpec.model_validate({"fuzzy": PERSON_FUZZY}).fuzzy
    assert fuzzy is not None
    prepared = engine._prepare(frame, fuzzy, None)
    pairs = engine._candidates(frame, fuzzy, prepared)
    whole, n_whole = engine._compare_all(prepared, pairs)
    monkeypatch.setattr(engine, "_COMPARE_CHUNK", len(pairs) // 3 + 7)
    chunked, n_chunked = engine._compare_all(prepared, pairs)
    assert n_chunked == n_whole
    np.testing.assert_array_equal(chunked, whole)
