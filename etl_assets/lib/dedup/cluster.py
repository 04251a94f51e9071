"""Clustering of matched pairs without chaining.

Connected components of the match graph chain: A~B and B~C put A and C together even when they
are different people who each resemble B. :func:`split_components` therefore takes the
components, scores every pair inside each one, and keeps a component whole only when all its
members are pairwise at least ``floor`` likely to match (a true cluster's noisiest pair is still
plausible; a chain's ends are not). Other components are split centre-first (the CENTER
algorithm, as used for duplicate detection by Hassanzadeh et al.): edges by descending match
probability; an unassigned pair starts a cluster whose centre is one of them, and a record joins
a cluster only through a direct edge to its centre, never through a chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from etl_assets.lib.dedup.candidates import pairs_within_groups


@dataclass(frozen=True)
class Clusters:
    """Per row: cluster label (dense, 0..n_clusters-1), whether it is its cluster's centre, and the
    probability of its edge to the centre (1.0 for centres and singletons)."""

    labels: np.ndarray
    is_centre: np.ndarray
    score_to_centre: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels)[self.labels]


def center_clusters(n_rows: int, pairs: np.ndarray, scores: np.ndarray) -> Clusters:
    """Cluster ``n_rows`` records from matched ``pairs`` (i, j) with their ``scores``."""
    centre_of = np.full(n_rows, -1, dtype=np.int64)
    score = np.ones(n_rows)
    is_centre = np.zeros(n_rows, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    for i, j, s in zip(pairs[order, 0].tolist(), pairs[order, 1].tolist(), scores[order].tolist(), strict=True):
        ci, cj = centre_of[i], centre_of[j]
        if ci < 0 and cj < 0:
            # the earlier row becomes the centre; deterministic across runs
            centre, member = (i, j) if i < j else (j, i)
            centre_of[centre], centre_of[member] = centre, centre
            is_centre[centre] = True
            score[member] = s
        elif ci < 0 and is_centre[j]:
            centre_of[i], score[i] = j, s
        elif cj < 0 and is_centre[i]:
            centre_of[j], score[j] = i, s
    singles = centre_of < 0
    centre_of[singles] = np.flatnonzero(singles)
    is_centre |= singles
    _, labels = np.unique(centre_of, return_inverse=True)
    return Clusters(labels=labels.astype(np.int64), is_centre=is_centre, score_to_centre=score)


def split_components(
    n_rows: int,
    pairs: np.ndarray,
    scores: np.ndarray,
    score_pairs: Callable[[np.ndarray], np.ndarray],
    *,
    floor: float,
    max_component: int = 50,
) -> Clusters:
    """Components of the matched ``pairs``, split centre-first where members are not pairwise
    plausible (some pair below ``floor``). ``score_pairs`` scores any (i, j) pairs.

    Components larger than ``max_component`` are always split (their all-pairs check would be
    quadratic, and a real person rarely has that many records).
    """
    labels = connected_components(n_rows, pairs)
    sizes = np.bincount(labels)
    members = np.argsort(labels, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    checked = np.flatnonzero((sizes >= 3) & (sizes <= max_component))
    # every pair inside each checked component, vectorised (a loop per component cost 80 s at 1M rows)
    all_pairs = pairs_within_groups(members, starts[checked], sizes[checked])
    whole = np.zeros(len(sizes), dtype=bool)
    whole[sizes <= 2] = True
    all_scores = score_pairs(all_pairs) if len(all_pairs) else np.zeros(0)
    if len(all_pairs):
        pair_label = labels[all_pairs[:, 0]]
        lowest = np.full(len(sizes), np.inf)
        np.minimum.at(lowest, pair_label, all_scores)
        whole[checked] = lowest[checked] >= floor
    centre = center_clusters(n_rows, pairs, scores)
    # rows of whole components take their component; the rest their centre-first cluster
    in_whole = whole[labels]
    combined = np.where(in_whole, labels, len(sizes) + centre.labels)
    _, dense = np.unique(combined, return_inverse=True)
    first_of = np.full(int(dense.max()) + 1 if n_rows else 0, -1, dtype=np.int64)
    first_of[dense[::-1]] = np.arange(n_rows)[::-1]
    is_centre = np.where(in_whole, np.arange(n_rows) == first_of[dense], centre.is_centre)
    score = np.where(in_whole, 1.0, centre.score_to_centre)
    return Clusters(labels=dense.astype(np.int64), is_centre=is_centre, score_to_centre=score)


def connected_components(n_rows: int, pairs: np.ndarray) -> np.ndarray:
    """Plain connected components (scipy), for comparison and reports: a label per row."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_rows, n_rows))
    return components(graph, directed=False)[1]
