"""Candidate pairs: which records are compared at all.

Comparing every pair is quadratic (5e9 pairs at 100k records), so candidates come from three
cheap sources, unioned:

- blocking rules: records agreeing on every term of a rule (normalised or phonetic keys); a
  block larger than ``max_block_size`` is not expanded to all its pairs but compared by sorted
  neighbourhood inside it (so one very common surname cannot blow up the pair count);
- sorted neighbourhood: records sorted by a normalised field, each compared with the next
  ``window - 1`` records (catches typos late in a string that break every blocking key);
- embedding neighbours: the top-k cosine neighbours of each distinct free-text value
  (``IBM Corp`` / ``Intl Business Machines`` share no key at all).

Pairs are ``(i, j)`` row positions with ``i < j``, deduplicated.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from etl_assets.lib.dedup.keys import rule_codes
from etl_assets.lib.dedup.normalize import normalize_series


def pairs_within_groups(order: np.ndarray, group_starts: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """All pairs inside groups of consecutive positions of ``order`` (vectorised per pair offset)."""
    chunks = []
    max_size = int(group_sizes.max()) if len(group_sizes) else 0
    for offset in range(1, max_size):
        eligible = group_sizes > offset
        if not eligible.any():
            break
        starts, sizes = group_starts[eligible], group_sizes[eligible]
        counts = sizes - offset
        base = np.repeat(starts, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        chunks.append(np.stack([order[base], order[base + offset]], axis=1))
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)


def _window_pairs(order: np.ndarray, window: int, segment: np.ndarray | None = None) -> np.ndarray:
    """Pairs of rows at most ``window - 1`` apart in ``order`` (and in the same segment, if given)."""
    chunks = []
    for offset in range(1, window):
        if len(order) <= offset:
            break
        left, right = order[:-offset], order[offset:]
        if segment is not None:
            same = segment[:-offset] == segment[offset:]
            left, right = left[same], right[same]
        chunks.append(np.stack([left, right], axis=1))
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)


def blocking_pairs(
    frame: pd.DataFrame,
    rule: list[str],
    *,
    max_block_size: int = 200,
    window: int = 10,
    sort_text: np.ndarray | None = None,
    split_sizes: list[int] | None = None,
    codes: np.ndarray | None = None,
) -> np.ndarray:
    """Pairs agreeing on every term of ``rule``; oversized blocks by sorted neighbourhood inside
    (rows sorted by ``sort_text``, e.g. the normalised record, or its rank among the records'
    texts, when given). The sizes of the
    blocks split that way are appended to ``split_sizes`` (for the run's metadata). ``codes``:
    the rule's block ids (:func:`rule_codes`), when the caller already has them."""
    if codes is None:
        codes = rule_codes(frame, rule)
    present = np.flatnonzero(codes >= 0)
    if len(present) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    order = present[np.argsort(codes[present], kind="stable")]
    sorted_codes = codes[order]
    boundaries = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate([[0], boundaries])
    sizes = np.diff(np.concatenate([starts, [len(order)]]))
    small = (sizes > 1) & (sizes <= max_block_size)
    pairs = [pairs_within_groups(order, starts[small], sizes[small])]
    big = sizes > max_block_size
    if split_sizes is not None:
        split_sizes.extend(sizes[big].tolist())
    if big.any():
        in_big = np.repeat(big, sizes)
        big_rows = order[in_big]
        if sort_text is not None:
            # by block, then text (an integer array: the texts' ranks, sorted once per run)
            text = sort_text[big_rows]
            if text.dtype == object:
                text = pd.factorize(text, sort=True)[0]
            big_rows = big_rows[np.lexsort((text, codes[big_rows]))]
        pairs.append(_window_pairs(big_rows, window, codes[big_rows]))
    return np.concatenate(pairs)


def neighbourhood_pairs(frame: pd.DataFrame, columns: list[str], window: int) -> np.ndarray:
    """Sorted neighbourhood on the normalised concatenation of ``columns`` (missing sorts last)."""
    text = normalize_series(frame[columns[0]]).fillna("")
    for column in columns[1:]:
        text = text + " " + normalize_series(frame[column]).fillna("")
    keys = text.str.strip().to_numpy(dtype=object)
    nonempty = np.flatnonzero(keys != "")
    order = nonempty[np.argsort(keys[nonempty], kind="stable")]
    return _window_pairs(order, window)


def value_neighbour_pairs(
    codes: np.ndarray, neighbours: np.ndarray, *, max_group_size: int = 50
) -> np.ndarray:
    """Record pairs from value-level neighbour pairs.

    ``codes``: the distinct-value id of every row (-1 missing); ``neighbours``: ``(a, b)`` pairs of
    value ids. Records with value a are paired with records with value b, and records sharing a
    value with each other, unless a group is larger than ``max_group_size`` (a common value is
    no evidence of identity and would flood the candidates).
    """
    present = np.flatnonzero(codes >= 0)
    order = present[np.argsort(codes[present], kind="stable")]
    sorted_codes = codes[order]
    values, starts, sizes = np.unique(sorted_codes, return_index=True, return_counts=True)
    start_of = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.int64)
    size_of = np.zeros_like(start_of)
    start_of[values], size_of[values] = starts, sizes
    small = (sizes > 1) & (sizes <= max_group_size)
    chunks = [pairs_within_groups(order, starts[small], sizes[small])]
    if len(neighbours):
        a, b = neighbours[:, 0], neighbours[:, 1]
        sa, sb = size_of[a], size_of[b]
        ok = (sa > 0) & (sb > 0) & (sa <= max_group_size) & (sb <= max_group_size)
        a, b, sa, sb = a[ok], b[ok], sa[ok], sb[ok]
        # every (row of value a) x (row of value b), vectorised: pair k expands to sa*sb pairs
        counts = sa * sb
        k = np.repeat(np.arange(len(a)), counts)
        t = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        left = order[start_of[a][k] + t // sb[k]]
        right = order[start_of[b][k] + t % sb[k]]
        chunks.append(np.stack([left, right], axis=1))
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)


def top_k_neighbours(
    vectors: np.ndarray,
    k: int,
    *,
    min_similarity: float = 0.5,
    block: int = 2048,
    exact_limit: int = 20_000,
    tables: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """``(a, b)`` index pairs, ``a < b``, where b is among a's top-k cosine neighbours (vectors
    L2-normalised).

    Up to ``exact_limit`` vectors: exact, in row blocks (memory ``block x n``). Beyond, the exact
    search is quadratic (100k names: 4e12 multiply-adds), so it runs inside buckets of random-
    hyperplane LSH (SimHash, ``tables`` independent hashings, ~64 vectors per bucket): close
    vectors share a bucket in at least one table with high probability.
    """
    n = len(vectors)
    if n > exact_limit:
        return _lsh_neighbours(vectors, k, min_similarity=min_similarity, tables=tables, seed=seed)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    k = min(k, n - 1)
    chunks = []
    for start in range(0, n, block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(start, min(start + block, n))
        sims[np.arange(len(rows)), rows] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        keep = top_sims >= min_similarity
        left = np.repeat(rows, k).reshape(-1, k)[keep]
        chunks.append(np.stack([left, top[keep]], axis=1))
    return canonical_pairs(np.concatenate(chunks))


def _lsh_neighbours(vectors: np.ndarray, k: int, *, min_similarity: float, tables: int, seed: int) -> np.ndarray:
    n, dim = vectors.shape
    bits = max(1, int(np.log2(n / 64)))
    rng = np.random.default_rng(seed)
    weights = (1 << np.arange(bits)).astype(np.int64)
    chunks = []
    for _ in range(tables):
        planes = rng.standard_normal((dim, bits)).astype(np.float32)
        codes = ((vectors @ planes) > 0).astype(np.int64) @ weights
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]])
        ends = np.r_[starts[1:], n]
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            if end - start < 2:
                continue
            members = order[start:end]
            local = top_k_neighbours(vectors[members], k, min_similarity=min_similarity, exact_limit=max(end - start, 2))
            chunks.append(members[local])
    return canonical_pairs(chunks)


def canonical_pairs(pairs: np.ndarray | Iterable[np.ndarray]) -> np.ndarray:
    """Pairs as ``(min, max)``, without self-pairs or repeats, in order of first occurrence."""
    if not isinstance(pairs, np.ndarray):
        parts = [p for p in pairs if len(p)]
        pairs = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    pairs = pairs.astype(np.int64)
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])  # not a row sort
    distinct_rows = low != high
    pairs = np.stack([low[distinct_rows], high[distinct_rows]], axis=1)
    if not len(pairs):
        return np.zeros((0, 2), dtype=np.int64)
    packed = pairs[:, 0] * (int(pairs[:, 1].max()) + 1) + pairs[:, 1]
    # first occurrences, in input order, by hashing (np.unique's sort of tens of millions of
    # pairs was the slowest step of candidate generation at 1M rows)
    return pairs[~pd.Series(packed).duplicated(keep="first").to_numpy()]
