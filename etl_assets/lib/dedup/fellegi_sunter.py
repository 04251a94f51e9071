"""Fellegi-Sunter match weights, fitted without labels by EM (as recordlinkage's ECM and splink
do) or from a labelled sample.

A pair's comparison vector holds one agreement level per field. Under conditional independence
``P(level | match) = m`` and ``P(level | non-match) = u`` per field; the match probability of a
pair is ``lambda * prod(m) / (lambda * prod(m) + (1 - lambda) * prod(u))``. EM alternates
between those posteriors and re-estimating ``m``, ``u`` and ``lambda`` (the share of matches
among the candidate pairs). Missing levels (-1) contribute nothing. EM runs on the distinct
comparison vectors with their counts, so its cost does not grow with the number of pairs.

Two safeguards keep an unsupervised fit from merging different people on a mostly clean table
(where EM has few or no duplicates to learn from): ``m`` has a Dirichlet prior of "matches
mostly agree" (:data:`M_PRIOR_PAIRS` pseudo-pairs), and each field level's weight is bounded
(:data:`MAX_FIELD_BITS`). ``u`` starts from random pairs, bounded away from 0 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EPS = 1e-4
#: No agreement level is impossible among non-matches (u from random pairs).
PROBABILITY_FLOOR = 1e-6
#: Strength of the prior on ``m`` in pseudo-pairs (see :func:`fit_em`).
M_PRIOR_PAIRS = 30.0
#: Fewest expected non-matches outside a field's blocks for :func:`refit_u_outside_blocks`.
_MIN_OUTSIDE_NON_MATCHES = 1000.0
#: Fewest candidate pairs of one source for its own prior (:func:`fit_rule_priors`).
_MIN_SOURCE_PAIRS = 1000
#: Most evidence one field's level may add or remove, in bits (see :class:`FellegiSunterModel`).
MAX_FIELD_BITS = 12.0


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
    #: Bound on each field level's weight |log2(m/u)|. Without it one field can outweigh all
    #: others: an email one character off is ~1e-7 likely among random pairs (24 bits), yet
    #: namesakes' emails built from their names are that close far more often (fields are
    #: not independent given a non-match). Measured on generated sets at 0-30% duplicates:
    #: unbounded, 2 such pairs passed the threshold at 0.25% duplicates; 10, 12 and 14 bits all
    #: passed none, with recall at 100k records 0.9815, 0.9825 and 0.9834 (unbounded 0.9834);
    #: 12 (odds 4096:1) keeps about 3 bits of margin below the threshold for such a pair.
    max_bits: float = MAX_FIELD_BITS
    #: The share of matches per candidate source (see :func:`fit_rule_priors`): entry k for
    #: the pairs whose first blocking rule sharing a block is rule k, the last entry for pairs
    #: inside no rule's blocks. None: ``lam`` for every pair.
    rule_lams: np.ndarray | None = None
    #: Per source, bit f set when its rule blocks on field f: a pair of that source agreeing
    #: exactly on f adds no weight for it (the source's prior holds that evidence).
    rule_blocked: list[int] | None = None

    def log_odds(self, levels: np.ndarray, sources: np.ndarray | None = None) -> np.ndarray:
        """Log-odds of a match per row of ``levels`` (pairs x fields), prior included.

        ``sources``: per pair, its index into :attr:`rule_lams` (its prior); without it, or
        without ``rule_lams``, every pair has the prior ``lam``."""
        if sources is not None and self.rule_lams is not None:
            total = np.log(self.rule_lams / (1 - self.rule_lams))[sources]
        else:
            total = np.full(len(levels), np.log(self.lam / (1 - self.lam)))
        blocked = None
        if sources is not None and self.rule_blocked is not None:
            blocked = np.array(self.rule_blocked, dtype=np.int64)[sources]
        for f in range(len(self.fields)):
            weight = self.level_weights(f)
            column = levels[:, f]
            present = column >= 0
            if blocked is not None:
                present &= ~((column == len(weight) - 1) & ((blocked >> f) & 1).astype(bool))
            total[present] += weight[column[present]]
        return total

    def level_weights(self, f: int) -> np.ndarray:
        """ln(m/u) per level of field ``f``, bounded to +-``max_bits`` bits (see the class doc)."""
        bound = self.max_bits * np.log(2.0)
        return np.clip(np.log(self.m[f]) - np.log(self.u[f]), -bound, bound)

    def probability(self, levels: np.ndarray, sources: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.log_odds(levels, sources), -700, 700)))

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
        """log2(m/u) per field and level as scored (bounded): the evidence each level adds."""
        return {
            name: [round(float(w), 3) for w in self.level_weights(f) / np.log(2.0)] for f, name in enumerate(self.fields)
        }


def _patterns(levels: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison vectors (ascending by their code) and how many pairs have each.

    ``extra``: one more small non-negative integer per pair (which blocks the pair is inside),
    returned as a last column (so a pattern is a comparison vector and that tag)."""
    if extra is not None:
        levels = _with_column(levels, extra)
    if not len(levels):
        return levels.reshape(0, levels.shape[1]), np.zeros(0)
    # one int64 code per comparison vector (levels are small), built column by column (no
    # int64 copy of the whole matrix); counted by bincount when the code space is small (always,
    # for a handful of fields), else by np.unique: far faster than np.unique(axis=0)
    widths = [int(levels[:, f].max()) + 2 for f in range(levels.shape[1])]
    bases = np.concatenate([[1], np.cumprod(widths[:-1])]).astype(np.int64)
    codes = np.zeros(len(levels), dtype=np.int64)
    for f, base in enumerate(bases.tolist()):
        codes += (levels[:, f].astype(np.int64) + 1) * base
    space = int(bases[-1]) * widths[-1]
    if space <= 4 * len(levels) + 1_000_000:
        tally = np.bincount(codes, minlength=space)
        distinct = np.flatnonzero(tally)
        counts = tally[distinct]
    else:
        distinct, counts = np.unique(codes, return_counts=True)
    patterns = np.stack([(distinct // base) % width - 1 for base, width in zip(bases.tolist(), widths, strict=True)], axis=1)
    return patterns.astype(levels.dtype), counts.astype(float)


def _with_column(levels: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``levels`` with ``extra`` as one more column (a copy: int8 when the values fit)."""
    dtype = np.int8 if (not len(extra) or int(extra.max()) < 127) else np.int32
    out = np.empty((len(levels), levels.shape[1] + 1), dtype=np.result_type(levels.dtype, dtype))
    out[:, :-1] = levels
    out[:, -1] = extra
    return out


def _estimate(
    patterns: np.ndarray, weight: np.ndarray, n_levels: list[int], *, prior: list[np.ndarray] | None = None,
    prior_pairs: float = 0.0,
) -> list[np.ndarray]:
    out = []
    for f, n in enumerate(n_levels):
        column = patterns[:, f]
        present = column >= 0
        totals = np.bincount(column[present], weights=weight[present], minlength=n)[:n] + _EPS
        if prior is not None and prior_pairs:
            totals = totals + prior_pairs * prior[f]
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
    m_prior_pairs: float = M_PRIOR_PAIRS,
) -> FellegiSunterModel:
    """Fit ``m``, ``u`` and ``lambda`` by EM on the candidate pairs' comparison levels.

    ``u_init``: level frequencies among random pairs (nearly all non-matches), the usual and
    robust starting point; without it u starts concentrated on disagreement.

    ``m_prior_pairs``: ``m`` is a MAP estimate under a Dirichlet prior worth that many
    pseudo-pairs that mostly agree (:func:`_initial_m`: a match disagrees on a field about
    1 time in 15 when the field has 4 levels). Plain EM needs duplicates to learn from: with
    10 in 4,000 rows its match class was the namesakes (same name, every other field
    different; disagreement on phone and date of birth came out as no evidence) and it
    removed 49 rows at precision 0.18. The prior keeps "disagrees on everything else" from
    looking like a match unless the data has enough duplicates to say so; at 2% duplicates
    and more the data outweighs it (measured in the README).
    """
    patterns, counts = _patterns(levels)
    m_prior = [_initial_m(n) for n in n_levels]
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
        model.m = _estimate(patterns, matched, n_levels, prior=m_prior, prior_pairs=m_prior_pairs)
        model.u = _estimate(patterns, counts - matched, n_levels)
        model.lam = float(np.clip(matched.sum() / counts.sum(), _EPS, 1 - _EPS))
        model.iterations = iteration
        model.history.append(model.lam)
        if abs(model.lam - previous) < tol:
            model.converged = True
            break
        previous = model.lam
    return model


def refit_u_outside_blocks(
    model: FellegiSunterModel, levels: np.ndarray, blocks: np.ndarray, blocked_by: list[int],
    u_prior: list[np.ndarray] | None = None,
) -> FellegiSunterModel:
    """Re-estimate each field's ``u`` (every level) from the fitted model's non-match
    posteriors on the candidates inside the blocks of OTHER rules than those reading that
    field, then ``lambda`` with m and u fixed.

    ``blocks``: per pair, bit k set when both rows share a block of blocking rule k;
    ``blocked_by``: per field, the bits of the rules that block on it. Inside those blocks
    non-matches agree on the field by construction (most date-of-birth-block candidates share
    a date of birth), so u fitted on all candidates makes agreement look common among
    non-matches: at 1M records "same date of birth" was worth 1.7 bits and recall fell to
    0.96. Pairs inside no rule's blocks (sorted neighbourhoods) are left out too: a name
    neighbourhood's non-matches have near names by construction (with them "near name" was
    worth 3.3 bits at 100k records, profile b; among the date-of-birth block's non-matches
    it is worth 12). The pairs of other rules are still candidates (namesakes, shared
    emails), so a field that follows from another (an email built from the name) is not
    counted twice. ``u_prior`` (the random-pair rates) shrinks each refit by
    :data:`_MIN_OUTSIDE_NON_MATCHES` pseudo-pairs: with few non-matches outside (30k records)
    a near date of birth otherwise came out as 12 bits and precision fell to 0.986.

    Tried and dropped (generated customers, 300k records, profile a): u held at the
    random-pair frequencies with m by EM per blocking rule (splink's training) gave precision
    0.62 (a similar name and a similar email, built from it, each worth ~12 bits). With one
    prior for all candidates, only exact agreement was re-estimated (and neighbourhood pairs
    counted as outside): refitting every level let one borderline pair of a 4,000-row table
    over the threshold; the per-source priors (:func:`fit_rule_priors`) need every level
    (100k records, profile b: F1 0.976 with exact agreement only, 0.991 with every level).
    """
    patterns, counts = _patterns(levels, blocks)
    tags = patterns[:, -1].astype(np.int64)
    patterns = patterns[:, :-1]
    unmatched = counts * (1.0 - model.probability(patterns))
    u = []
    for f, (n, bits) in enumerate(zip([len(x) for x in model.u], blocked_by, strict=True)):
        outside = ((tags & bits) == 0) & (tags != 0)  # in another rule's blocks
        if not bits or unmatched[outside].sum() < _MIN_OUTSIDE_NON_MATCHES:
            u.append(model.u[f])  # not blocked on, or too few non-matches outside: as fitted
            continue
        outside_u = _estimate(
            patterns[outside][:, [f]], unmatched[outside], [n],
            prior=[u_prior[f]] if u_prior is not None else None, prior_pairs=_MIN_OUTSIDE_NON_MATCHES,
        )[0]
        u.append(outside_u)
    model.u = u
    return fit_lambda(model, levels)


def fit_lambda(model: FellegiSunterModel, levels: np.ndarray, *, max_iter: int = 100, tol: float = 1e-7) -> FellegiSunterModel:
    """The share of matches ``lambda`` by EM on ``levels`` with ``m`` and ``u`` held fixed."""
    patterns, counts = _patterns(levels)
    if not len(patterns):
        return model
    for iteration in range(1, max_iter + 1):
        lam = float(np.clip((counts * model.probability(patterns)).sum() / counts.sum(), _EPS, 1 - _EPS))
        model.iterations = iteration
        model.history.append(lam)
        if abs(lam - model.lam) < tol:
            model.lam, model.converged = lam, True
            break
        model.lam = lam
    return model


def fit_rule_priors(
    model: FellegiSunterModel, levels: np.ndarray, sources: np.ndarray, n_sources: int, *,
    rule_blocked: list[int] | None = None, min_pairs: int = _MIN_SOURCE_PAIRS,
    max_iter: int = 100, tol: float = 1e-7,
) -> FellegiSunterModel:
    """One share of matches per candidate source (``model.rule_lams``), each by EM on that
    source's pairs with ``m`` and ``u`` held fixed (as splink keeps a prior per blocking rule).

    ``sources``: per pair, 0..``n_sources``-1 (the first blocking rule whose blocks hold the
    pair; the last index for pairs inside no rule's blocks). ``rule_blocked``: per source, bit
    f set when that source's rule is an exact key on field f (``dob``, ``email``): its pairs
    agree on f by construction, so that agreement is the source's prior, not more evidence.

    Why: one ``lambda`` is the match share of the whole candidate pool (0.079 at 100k records,
    profile b), while 3% of the date-of-birth block's pairs and 0.2% of the neighbourhood-only
    pairs are matches. With one prior "same date of birth (12 bits), different name, no
    email or phone" passed the threshold: 2,004 false pairs at 100k records, profile b.
    Fitted per source: 0.026 and 0.0016 (true 0.030 and 0.0018). A source with fewer than
    ``min_pairs`` pairs keeps ``lam``.

    Tried and dropped: the per-source prior with the blocked field's agreement still counted
    (its prior came out 0.078, no gain in precision); the blocked field's agreement dropped
    for fuzzy keys too (``metaphone(full_name)``: an exact name is more than a shared
    metaphone; recall 0.95); m re-estimated from the per-source posteriors (EM diverged).
    """
    patterns, counts = _patterns(levels, sources)
    tags = patterns[:, -1].astype(np.int64)
    patterns = patterns[:, :-1]
    # the evidence of each pattern without the prior: one log-likelihood ratio, then only lambda moves
    model.rule_blocked = rule_blocked
    model.rule_lams = np.full(n_sources, model.lam)
    evidence = model.log_odds(patterns, tags) - np.log(model.lam / (1 - model.lam))
    lams = np.full(n_sources, model.lam)
    own_prior = [False] * n_sources
    for k in range(n_sources):
        mine = tags == k
        if counts[mine].sum() < min_pairs:
            continue
        own, own_counts = evidence[mine], counts[mine]
        lam = model.lam
        for _ in range(max_iter):
            odds = np.clip(own + np.log(lam / (1 - lam)), -700, 700)
            new = float(np.clip((own_counts / (1.0 + np.exp(-odds))).sum() / own_counts.sum(), _EPS, 1 - _EPS))
            converged = abs(new - lam) < tol
            lam = new
            if converged:
                break
        lams[k], own_prior[k] = lam, True
    model.rule_lams = lams
    if rule_blocked is not None:
        # a source on the pooled prior counts its key's agreement as evidence, as before
        model.rule_blocked = [bits if own else 0 for bits, own in zip(rule_blocked, own_prior, strict=True)]
    return model


def level_frequencies(levels: np.ndarray, n_levels: list[int], *, floor: float = PROBABILITY_FLOOR) -> list[np.ndarray]:
    """Per field, the share of each agreement level among ``levels`` (missing values skipped),
    Laplace-smoothed and bounded away from 0 and 1.

    On randomly sampled record pairs (nearly all non-matches: at most a few per million are
    duplicates) this is the u-probability estimate splink uses: it does not depend on how many
    duplicates the table has, unlike u fitted by EM over blocked candidates.
    """
    out = []
    for f, n in enumerate(n_levels):
        column = levels[:, f]
        counts = np.bincount(column[column >= 0], minlength=n)[:n] + 1.0
        out.append(_bounded(counts / counts.sum(), floor))
    return out


def _bounded(probabilities: np.ndarray, floor: float) -> np.ndarray:
    """Clip into [floor, 1 - floor] and renormalise (so no level is certain or impossible)."""
    clipped = np.clip(probabilities, floor, 1 - floor)
    return clipped / clipped.sum()


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
    return fit_lambda(model, candidate_levels)
