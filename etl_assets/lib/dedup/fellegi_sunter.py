"""Fellegi-Sunter match weights, fitted without labels by EM (as recordlinkage's ECM and splink
do) or from a labelled sample.

A pair's comparison vector holds one agreement level per field. Under conditional independence
``P(level | match) = m`` and ``P(level | non-match) = u`` per field; the match probability of a
pair is ``lambda * prod(m) / (lambda * prod(m) + (1 - lambda) * prod(u))``. EM alternates
between those posteriors and re-estimating ``m``, ``u`` and ``lambda`` (the share of matches
among the candidate pairs). Missing levels (-1) contribute nothing. EM runs on the distinct
comparison vectors with their counts, so its cost does not grow with the number of pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EPS = 1e-4


@dataclass
class FellegiSunterModel:
    """``m[f][l]``, ``u[f][l]`` per field and level, and the prior share of matches ``lam``."""

    fields: list[str]
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float
    iterations: int = 0
    converged: bool = False
    history: list[float] = field(default_factory=list)

    def log_odds(self, levels: np.ndarray) -> np.ndarray:
        """Log-odds of a match per row of ``levels`` (pairs x fields), prior included."""
        total = np.full(len(levels), np.log(self.lam / (1 - self.lam)))
        for f in range(len(self.fields)):
            weight = np.log(self.m[f]) - np.log(self.u[f])
            column = levels[:, f]
            present = column >= 0
            total[present] += weight[column[present]]
        return total

    def probability(self, levels: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(levels), -700, 700)))

    def implausible_fields(self) -> list[str]:
        """Fields on which exact agreement came out as clear evidence AGAINST a match (at least
        twice as likely among non-matches: log2(m/u) < -1 at the top level).

        That never holds for a real match class; EM produces it when the data has no duplicates
        and it fits some other structure instead (e.g. namesakes: same name, every other field
        different). Such a fit must not be used to remove rows. (A weakly informative field, such
        as a company most people share, may come out near 0: that is tolerated.)
        """
        return [name for f, name in enumerate(self.fields) if self.m[f][-1] < 0.5 * self.u[f][-1]]

    def weights(self) -> dict[str, list[float]]:
        """log2(m/u) per field and level: the evidence each level adds (metadata, reports)."""
        return {
            name: [round(float(w), 3) for w in np.log2(self.m[f] / self.u[f])] for f, name in enumerate(self.fields)
        }


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(levels):
        return levels.reshape(0, levels.shape[1]), np.zeros(0)
    # one int64 code per comparison vector (levels are small), then unique codes: far faster
    # than np.unique(axis=0) on a million rows
    shifted = levels.astype(np.int64) + 1
    bases = np.concatenate([[1], np.cumprod(shifted.max(axis=0)[:-1] + 1)])
    codes = shifted @ bases
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    return levels[first], counts.astype(float)


def _estimate(patterns: np.ndarray, weight: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    out = []
    for f, n in enumerate(n_levels):
        column = patterns[:, f]
        present = column >= 0
        totals = np.bincount(column[present], weights=weight[present], minlength=n)[:n] + _EPS
        out.append(totals / totals.sum())
    return out


def _initial_m(n: int) -> np.ndarray:
    # matches mostly agree: most mass on the top level, decreasing below
    m = np.array([0.5**(n - 1 - level) for level in range(n)], dtype=float)
    return m / m.sum()


def _initial_u(n: int) -> np.ndarray:
    u = np.array([0.5**level for level in range(n)], dtype=float) * np.array([1.0] * (n - 1) + [0.1])
    return u / u.sum()


def fit_em(
    levels: np.ndarray,
    n_levels: list[int],
    fields: list[str],
    *,
    u_init: list[np.ndarray] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> FellegiSunterModel:
    """Fit ``m``, ``u`` and ``lambda`` by EM on the candidate pairs' comparison levels.

    ``u_init``: level frequencies among random pairs (nearly all non-matches), the usual and
    robust starting point; without it u starts concentrated on disagreement.
    """
    patterns, counts = _patterns(levels)
    model = FellegiSunterModel(
        fields=list(fields),
        m=[_initial_m(n) for n in n_levels],
        u=[u.copy() for u in u_init] if u_init is not None else [_initial_u(n) for n in n_levels],
        lam=0.1,
    )
    if not len(patterns):
        return model
    previous = np.inf
    for iteration in range(1, max_iter + 1):
        posterior = model.probability(patterns)
        matched = counts * posterior
        model.m = _estimate(patterns, matched, n_levels)
        model.u = _estimate(patterns, counts - matched, n_levels)
        model.lam = float(np.clip(matched.sum() / counts.sum(), _EPS, 1 - _EPS))
        model.iterations = iteration
        model.history.append(model.lam)
        if abs(model.lam - previous) < tol:
            model.converged = True
            break
        previous = model.lam
    return model


def fit_labelled(
    levels: np.ndarray, is_match: np.ndarray, n_levels: list[int], fields: list[str], candidate_levels: np.ndarray
) -> FellegiSunterModel:
    """``m`` and ``u`` counted from labelled pairs (Laplace-smoothed); ``lambda`` then fitted by EM
    on all candidate pairs with ``m`` and ``u`` held fixed."""
    is_match = np.asarray(is_match, dtype=bool)
    if is_match.all() or not is_match.any():
        raise ValueError("labelled pairs need both matches and non-matches")
    ones = np.ones(len(levels))
    m = _estimate(levels[is_match], ones[is_match], n_levels)
    u = _estimate(levels[~is_match], ones[~is_match], n_levels)
    smooth = [(x * c + 1) / (c + len(x)) for x, c in ((mm, is_match.sum()) for mm in m)]
    smooth_u = [(x * c + 1) / (c + len(x)) for x, c in ((uu, (~is_match).sum()) for uu in u)]
    model = FellegiSunterModel(fields=list(fields), m=smooth, u=smooth_u, lam=float(is_match.mean()))
    patterns, counts = _patterns(candidate_levels)
    for iteration in range(1, 101):
        lam = float(np.clip((counts * model.probability(patterns)).sum() / counts.sum(), _EPS, 1 - _EPS))
        model.iterations = iteration
        if abs(lam - model.lam) < 1e-7:
            model.lam, model.converged = lam, True
            break
        model.lam = lam
    return model
