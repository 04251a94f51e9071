"""Deduplicate a clean frame: exact normalised keys, then fuzzy matching, clustering and merge.

:func:`deduplicate` is the plain Python API behind ``dedup:`` in a spec. Steps:

1. exact: rows with equal ``keys`` (normalised with ``normalize: true``) collapse onto their
   group's first row before anything else (score 1.0);
2. fuzzy (``fuzzy:``): candidate pairs from blocking rules, sorted neighbourhoods and embedding
   neighbours; field comparators give agreement levels; Fellegi-Sunter weights, fitted by EM (or
   from labelled pairs), give each pair a match probability; pairs at or above ``threshold``
   are clustered centre-first (no chaining);
3. merge: one survivor per cluster (``merge``), carrying ``_cluster_id`` and ``_cluster_size``;
   every removed row goes to the duplicates frame with the kept row's id and their pair score.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl_assets.lib.dedup.candidates import (
    blocking_pairs,
    canonical_pairs,
    neighbourhood_pairs,
    top_k_neighbours,
    value_neighbour_pairs,
)
from etl_assets.lib.dedup.cluster import split_components
from etl_assets.lib.dedup.compare import (
    THRESHOLDS,
    compare_pairs,
    prepare,
    similarity_levels,
)
from etl_assets.lib.dedup.fellegi_sunter import (
    FellegiSunterModel,
    fit_em,
    fit_labelled,
    fit_rule_priors,
    level_frequencies,
    refit_u_outside_blocks,
)
from etl_assets.lib.dedup.keys import parse_term, rule_codes
from etl_assets.lib.dedup.merge import fill_from_cluster, row_quality, survivors
from etl_assets.lib.dedup.normalize import key_hash, normalize_series
from etl_assets.lib.spec.models import DedupSpec, FuzzyFieldSpec, FuzzySpec
from etl_assets.lib.transforms.dedup import group_ids

#: Encodes texts to L2-normalised vectors (an ``EmbeddingModel.encode``).
Embedder = Callable[[Sequence[str]], np.ndarray]

CLUSTER_ID, CLUSTER_SIZE = "_cluster_id", "_cluster_size"
KEPT_ID, SCORE, MATCH_KIND = "_kept_id", "_score", "_match_kind"
_RANDOM_PAIRS = 200_000
_BORDERLINE = 10
#: Pairs compared at once (bounds the comparators' temporary memory; 5M pairs: about 1 GB).
_COMPARE_CHUNK = 5_000_000


@dataclass
class DedupStats:
    rows_in: int
    rows_out: int
    rows_removed: int
    exact_removed: int
    clusters: int
    clusters_with_duplicates: int
    candidate_pairs: int = 0
    matched_pairs: int = 0
    #: Counts of candidate-pair match probabilities in 10 bins of width 0.1.
    score_histogram: list[int] = field(default_factory=list)
    borderline_pairs: list[dict[str, Any]] = field(default_factory=list)
    weights: dict[str, list[float]] = field(default_factory=dict)
    match_share: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Per blocking rule (``"soundex(first_name)+year(dob)"``), the sizes of its blocks larger
    #: than ``max_block_size``, compared by sorted neighbourhood instead of all their pairs
    #: (largest first); rules with none are left out.
    split_blocks: dict[str, list[int]] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        sizes = [size for rule in self.split_blocks.values() for size in rule]
        return {
            "dedup_split_blocks": len(sizes),
            "dedup_split_block_rows": int(sum(sizes)),
            "dedup_largest_split_block": max(sizes, default=0),
            "dedup_rows_removed": self.rows_removed,
            "dedup_exact_removed": self.exact_removed,
            "dedup_clusters": self.clusters,
            "dedup_clusters_with_duplicates": self.clusters_with_duplicates,
            "dedup_candidate_pairs": self.candidate_pairs,
            "dedup_matched_pairs": self.matched_pairs,
            "dedup_warnings": "; ".join(self.warnings) or "none",
        }


@dataclass
class DedupOutcome:
    kept: pd.DataFrame
    duplicates: pd.DataFrame
    stats: DedupStats
    #: Scored candidate pairs (positions into the input, probability), for evaluation and reports.
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Cluster label of every input row (dense).
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    model: FellegiSunterModel | None = None


class DedupError(ValueError):
    """A dedup spec that does not fit the frame (unknown column, embedding without a model)."""


def _field_values(frame: pd.DataFrame, name: str, spec: FuzzyFieldSpec) -> pd.Series:
    columns = spec.columns or [name]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DedupError(f"fuzzy field {name!r}: column(s) {', '.join(missing)} not in the frame ({', '.join(map(str, frame.columns))})")
    if len(columns) == 1:
        return frame[columns[0]]
    parts = [normalize_series(frame[c]).fillna("") for c in columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + " " + part
    joined = joined.str.strip()
    return joined.where(joined != "", None)


@dataclass
class _Prepared:
    values: dict[str, Any]
    compare: dict[str, str]
    embedding_codes: dict[str, np.ndarray]
    embedding_vectors: dict[str, np.ndarray]
    #: fields that add evidence to the match probability (``score: true``), in order
    scored: list[str] = field(default_factory=list)


def _prepare(frame: pd.DataFrame, fuzzy: FuzzySpec, embedder: Embedder | None) -> _Prepared:
    prepared = _Prepared({}, {}, {}, {})
    prepared.scored = [name for name, spec in fuzzy.field_specs.items() if spec.score]
    if not prepared.scored:
        raise DedupError("fuzzy dedup needs at least one field with score: true")
    for name, field_spec in fuzzy.field_specs.items():
        values = _field_values(frame, name, field_spec)
        prepared.compare[name] = field_spec.compare
        if field_spec.compare != "embedding":
            prepared.values[name] = prepare(values, field_spec.compare)
            continue
        if embedder is None:
            raise DedupError(f"fuzzy field {name!r} compares by embedding but no embedding model was given")
        text = normalize_series(values)
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        vectors = embedder([str(u) for u in uniques]) if len(uniques) else np.zeros((0, 384), dtype=np.float32)
        prepared.embedding_codes[name] = np.asarray(codes, dtype=np.int64)
        prepared.embedding_vectors[name] = np.asarray(vectors, dtype=np.float32)
        prepared.values[name] = None
    return prepared


def _embedding_levels(prepared: _Prepared, name: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine levels of the pairs' values, in chunks (a vector per pair would not fit in memory)."""
    codes, vectors = prepared.embedding_codes[name], prepared.embedding_vectors[name]
    if len(vectors) and len(vectors) ** 2 < len(left):
        # few distinct values (a company field): one cosine per distinct value pair
        width = np.int64(len(vectors) + 1)
        packed = (codes[left] + 1) * width + (codes[right] + 1)
        distinct, inverse = np.unique(packed, return_inverse=True)
        lc, rc = distinct // width - 1, distinct % width - 1
        sims = np.einsum("ij,ij->i", vectors[np.maximum(lc, 0)], vectors[np.maximum(rc, 0)]).astype(float)
        sims[(lc < 0) | (rc < 0)] = np.nan
        return similarity_levels(sims, THRESHOLDS["embedding"])[inverse]
    out = np.empty(len(left), dtype=np.int8)
    chunk = 200_000
    for start in range(0, len(left), chunk):
        lc, rc = codes[left[start : start + chunk]], codes[right[start : start + chunk]]
        sims = np.einsum("ij,ij->i", vectors[np.maximum(lc, 0)], vectors[np.maximum(rc, 0)]).astype(float)
        sims[(lc < 0) | (rc < 0)] = np.nan
        out[start : start + chunk] = similarity_levels(sims, THRESHOLDS["embedding"])
    return out


def _compare_all(prepared: _Prepared, pairs: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Agreement levels (pairs x scored fields) of every pair, in chunks of
    :data:`_COMPARE_CHUNK` pairs: only the int8 levels are kept for all pairs, the comparators'
    temporaries (string lists, similarities) exist for one chunk at a time."""
    if len(pairs) <= _COMPARE_CHUNK:
        return _compare_chunk(prepared, pairs)
    levels = np.empty((len(pairs), len(prepared.scored)), dtype=np.int8)
    n_levels: list[int] = []
    for start in range(0, len(pairs), _COMPARE_CHUNK):
        chunk, n_levels = _compare_chunk(prepared, pairs[start : start + _COMPARE_CHUNK])
        levels[start : start + len(chunk)] = chunk
    return levels, n_levels


def _compare_chunk(prepared: _Prepared, pairs: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Levels of one chunk of pairs, two fields at a time: rapidfuzz and numpy release the GIL
    for their inner loops, so one field's string metric overlaps another's list building."""
    names = prepared.scored
    levels = np.empty((len(pairs), len(names)), dtype=np.int8)
    left, right = pairs[:, 0], pairs[:, 1]

    def field_levels(name: str) -> tuple[np.ndarray, int]:
        compare = prepared.compare[name]
        if compare == "embedding":
            return _embedding_levels(prepared, name, left, right), len(THRESHOLDS["embedding"]) + 1
        comparison = compare_pairs(prepared.values[name], compare, left, right)
        return comparison.levels, comparison.n_levels

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(field_levels, names))
    for f, (field_level, _) in enumerate(results):
        levels[:, f] = field_level
    return levels, [n for _, n in results]


def _candidates(
    frame: pd.DataFrame, fuzzy: FuzzySpec, prepared: _Prepared, split_blocks: dict[str, list[int]] | None = None,
    rule_keys: list[tuple[list[str], np.ndarray]] | None = None,
) -> np.ndarray:
    """Candidate pairs of all sources; ``split_blocks`` receives, per rule, the sizes of the
    blocks too large to expand (see :class:`DedupStats`); ``rule_keys`` each blocking rule with
    its block id per row (for :func:`_fit`: which candidates are inside which rule's blocks)."""
    parts: list[np.ndarray] = []
    sort_text = None
    names = [n for n, c in prepared.compare.items() if c not in ("numeric", "date", "embedding")]
    if names:
        text = pd.Series([""] * len(frame), dtype=object)
        for name in names:
            text = text + " " + pd.Series(prepared.values[name].row_values(), dtype=object).fillna("")
        # ranks, not texts: every rule's split blocks sort by integers (one string sort per run)
        sort_text = pd.factorize(text.to_numpy(dtype=object), sort=True)[0].astype(np.int64)
    blocking = fuzzy.blocking or [[name] for name in names]
    # blocking and neighbourhoods may name a combined field (``full_name: {columns: [...]}``)
    derived = {
        name: _field_values(frame, name, spec)
        for name, spec in fuzzy.field_specs.items()
        if spec.columns and name not in frame.columns
    }
    keyed = frame.assign(**derived) if derived else frame
    for rule in blocking:
        for term in rule:
            column = parse_term(term)[1]
            if column not in keyed.columns:
                raise DedupError(f"blocking rule {rule}: column {column!r} is neither in the frame nor a fuzzy field")
        split: list[int] = []
        codes = rule_codes(keyed, rule)
        if rule_keys is not None:
            rule_keys.append((list(rule), codes))
        parts.append(blocking_pairs(
            keyed, rule, max_block_size=fuzzy.max_block_size, sort_text=sort_text, split_sizes=split, codes=codes
        ))
        if split and split_blocks is not None:
            split_blocks["+".join(rule)] = sorted(split, reverse=True)
    for hood in fuzzy.neighbourhood:
        parts.append(neighbourhood_pairs(keyed, hood.fields, hood.window))
    if fuzzy.embedding_neighbours:
        for name, vectors in prepared.embedding_vectors.items():
            neighbours = top_k_neighbours(vectors, fuzzy.embedding_neighbours)
            parts.append(value_neighbour_pairs(prepared.embedding_codes[name], neighbours))
    return canonical_pairs(parts)


def _random_pairs(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Up to ``size`` distinct random pairs of different rows (with replacement, then deduplicated)."""
    if n < 2 or size < 1:
        return np.zeros((0, 2), dtype=np.int64)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=size)
    right = rng.integers(0, n - 1, size=size)
    right += right >= left  # never a row with itself
    return canonical_pairs(np.stack([left, right], axis=1))


def _blocked_fields(fuzzy: FuzzySpec, names: list[str], rule: list[str]) -> list[int]:
    """Indices of the scored fields a blocking rule's terms read (``soundex(first_name)`` reads
    ``full_name: {columns: [first_name, last_name]}``): inside that rule's blocks their
    agreement among non-matches is caused by the blocking, so their u is not estimated there."""
    columns = {parse_term(term)[1] for term in rule}
    blocked = []
    for f, name in enumerate(names):
        spec = fuzzy.field_specs[name]
        if name in columns or columns & set(spec.columns or [name]):
            blocked.append(f)
    return blocked


def _fit(
    prepared: _Prepared, pairs: np.ndarray, levels: np.ndarray, n_levels: list[int], n_rows: int,
    labels: pd.DataFrame | None, fuzzy: FuzzySpec | None = None,
    rule_keys: list[tuple[list[str], np.ndarray]] | None = None,
) -> FellegiSunterModel:
    """Labelled: m and u counted from the labels. Otherwise EM on the candidates, u starting
    from the agreement rates among random pairs (almost all non-matches whatever the duplicate
    rate); then each field's u re-estimated inside the blocks of the rules NOT on that field,
    lambda refitted (see :func:`refit_u_outside_blocks`), and one prior per candidate source:
    the first rule holding the pair, or none (see :func:`fit_rule_priors`; score with
    :func:`_sources`)."""
    names = prepared.scored
    if labels is not None:
        labelled = labels[["left", "right"]].to_numpy(dtype=np.int64)
        labelled_levels, _ = _compare_all(prepared, labelled)
        return fit_labelled(labelled_levels, labels["match"].astype(bool).to_numpy(), n_levels, names, levels)
    random = _random_pairs(n_rows, min(_RANDOM_PAIRS, n_rows * (n_rows - 1) // 2))
    u_init = level_frequencies(_compare_all(prepared, random)[0], n_levels) if len(random) else None
    model = fit_em(levels, n_levels, names, u_init=u_init)
    blocks, blocked_by = _block_tags(pairs, names, fuzzy, rule_keys or [])
    if blocks is None or blocked_by is None or not any(blocked_by) or model.implausible_fields():
        return model  # nothing to refit, or a fit the caller refuses (its u must stay as fitted)
    model = refit_u_outside_blocks(model, levels, blocks, blocked_by, u_init)
    tagged = (rule_keys or [])[:15]
    rule_blocked = [sum(1 << f for f in _exact_key_fields(fuzzy, names, rule)) for rule, _ in tagged] + [0]
    return fit_rule_priors(model, levels, _first_rule(blocks, len(tagged)), len(rule_blocked), rule_blocked=rule_blocked)


def _exact_key_fields(fuzzy: FuzzySpec | None, names: list[str], rule: list[str]) -> list[int]:
    """Indices of the scored fields a rule of exact keys blocks on as they are compared
    (``dob``, ``email``, ``phone(phone)``): every pair inside its blocks agrees on them
    exactly. Fuzzy keys (``metaphone(full_name)``, ``year(dob)``) imply no exact agreement."""
    if fuzzy is None or not all(parse_term(term)[0] in ("exact", "phone") for term in rule):
        return []
    columns = {parse_term(term)[1] for term in rule}
    blocked = []
    for f, name in enumerate(names):
        read = fuzzy.field_specs[name].columns or [name]
        if name in columns or (len(read) == 1 and read[0] in columns):
            blocked.append(f)
    return blocked


def _first_rule(blocks: np.ndarray, n_rules: int) -> np.ndarray:
    """Per pair, the index of the first rule whose blocks hold it (``n_rules`` for none)."""
    out = np.full(len(blocks), min(n_rules, 15), dtype=np.int8)
    for k in reversed(range(min(n_rules, 15))):
        out[(blocks & np.int16(1 << k)) != 0] = k
    return out


def _sources(
    model: FellegiSunterModel, pairs: np.ndarray, rule_keys: list[tuple[list[str], np.ndarray]]
) -> np.ndarray | None:
    """Per pair, its index into ``model.rule_lams`` (None when the model has one prior)."""
    if model.rule_lams is None or not rule_keys:
        return None
    rule_keys = rule_keys[:15]
    blocks = np.zeros(len(pairs), dtype=np.int16)
    for k, (_, codes) in enumerate(rule_keys):
        left = codes[pairs[:, 0]]
        blocks[(left == codes[pairs[:, 1]]) & (left >= 0)] |= np.int16(1 << k)
    return _first_rule(blocks, len(rule_keys))


def _block_tags(
    pairs: np.ndarray, names: list[str], fuzzy: FuzzySpec | None, rule_keys: list[tuple[list[str], np.ndarray]]
) -> tuple[np.ndarray | None, list[int] | None]:
    """Per pair, bit k set when both rows share a block of rule k; per field, the bits of the
    rules reading it. (None, None) without rules; rules beyond the 15th are not tagged."""
    if fuzzy is None or not rule_keys or not len(pairs):
        return None, None
    rule_keys = rule_keys[:15]
    blocks = np.zeros(len(pairs), dtype=np.int16)
    blocked_by = [0] * len(names)
    for k, (rule, codes) in enumerate(rule_keys):
        left = codes[pairs[:, 0]]
        inside = (left == codes[pairs[:, 1]]) & (left >= 0)
        del left
        blocks[inside] |= np.int16(1 << k)
        for f in _blocked_fields(fuzzy, names, rule):
            blocked_by[f] |= 1 << k
    return blocks, blocked_by


def _label_positions(frame: pd.DataFrame, labels: pd.DataFrame, id_column: str | None) -> np.ndarray:
    """Row positions of labelled pairs: ``left``/``right`` are ids (``id_column``) or positions."""
    missing = {"left", "right", "match"} - set(labels.columns)
    if missing:
        raise DedupError(f"labelled pairs need columns left, right, match; missing {', '.join(sorted(missing))}")
    if id_column is None:
        positions = labels[["left", "right"]].to_numpy(dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(frame)):
            raise DedupError(f"labelled pairs: positions must be 0..{len(frame) - 1} (or set id_column)")
        return positions
    lookup = pd.Series(np.arange(len(frame)), index=frame[id_column].astype(str).to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    ids = labels[["left", "right"]].astype(str)
    unknown = sorted(set(ids.to_numpy().ravel()) - set(lookup.index))
    if unknown:
        raise DedupError(f"labelled pairs name unknown {id_column} value(s): {', '.join(unknown[:5])}")
    return np.stack([lookup.loc[ids["left"]].to_numpy(), lookup.loc[ids["right"]].to_numpy()], axis=1)


def _exact_groups(frame: pd.DataFrame, spec: DedupSpec) -> np.ndarray:
    if not spec.keys:
        return np.arange(len(frame), dtype=np.int64)
    missing = [k for k in spec.keys if k not in frame.columns]
    if missing:
        raise DedupError(f"dedup keys {', '.join(missing)} not in the frame")
    if spec.normalize:
        return np.asarray(pd.factorize(key_hash(frame, spec.keys))[0], dtype=np.int64)
    return group_ids([frame[k] for k in spec.keys])


def _ids(frame: pd.DataFrame, id_column: str | None) -> pd.Series:
    if id_column is None:
        return pd.Series(frame.index, index=frame.index)
    if id_column not in frame.columns:
        raise DedupError(f"id_column {id_column!r} not in the frame")
    return frame[id_column]


def deduplicate(
    frame: pd.DataFrame,
    spec: DedupSpec,
    *,
    embedder: Embedder | None = None,
    labels: pd.DataFrame | None = None,
) -> DedupOutcome:
    """Deduplicate ``frame`` as ``spec`` says; see the module docstring.

    ``labels``: labelled pairs (``left``, ``right`` row positions, ``match`` bool) to fit the weights from.
    """
    timings: dict[str, float] = {}
    warnings: list[str] = []
    split_blocks: dict[str, list[int]] = {}
    started = time.perf_counter()
    frame = frame.reset_index(drop=True)
    n = len(frame)
    groups = _exact_groups(frame, spec)
    keep_order = "first" if spec.keep == "first" else "last"
    rep_mask = ~pd.Series(groups).duplicated(keep=keep_order).to_numpy()
    reps = np.flatnonzero(rep_mask)
    rep_of_group = np.empty(int(groups.max()) + 1 if n else 0, dtype=np.int64)
    rep_of_group[groups[reps]] = reps
    exact_removed = int(n - len(reps))
    timings["exact"] = time.perf_counter() - started

    fuzzy = spec.fuzzy
    pairs = np.zeros((0, 2), dtype=np.int64)
    scores = np.zeros(0)
    model = None
    prepared = None
    rule_keys: list[tuple[list[str], np.ndarray]] = []
    rep_labels = np.arange(len(reps), dtype=np.int64)
    if fuzzy is not None and len(reps) > 1:
        t = time.perf_counter()
        rep_frame = frame.iloc[reps].reset_index(drop=True)
        prepared = _prepare(rep_frame, fuzzy, embedder)
        timings["prepare"] = time.perf_counter() - t
        t = time.perf_counter()
        rep_pairs = _candidates(rep_frame, fuzzy, prepared, split_blocks, rule_keys)
        timings["candidates"] = time.perf_counter() - t
        t = time.perf_counter()
        levels, n_levels = _compare_all(prepared, rep_pairs)
        timings["compare"] = time.perf_counter() - t
        t = time.perf_counter()
        rep_labels_frame = None
        if labels is not None:
            rep_index_of = np.empty(n, dtype=np.int64)
            rep_index_of[reps] = np.arange(len(reps))
            positions = _label_positions(frame, labels, fuzzy.id_column)
            rep_labels_frame = pd.DataFrame({
                "left": rep_index_of[rep_of_group[groups[positions[:, 0]]]],
                "right": rep_index_of[rep_of_group[groups[positions[:, 1]]]],
                "match": labels["match"].astype(bool).to_numpy(),
            })
        model = _fit(prepared, rep_pairs, levels, n_levels, len(rep_frame), rep_labels_frame, fuzzy, rule_keys)
        scores = model.probability(levels, _sources(model, rep_pairs, rule_keys)) if len(levels) else np.zeros(0)
        timings["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        implausible = model.implausible_fields() if labels is None else []
        if implausible:
            # the unsupervised fit found no credible match class: remove nothing, say why
            warnings.append(
                "EM fit rejected: exact agreement on "
                + ", ".join(implausible)
                + " came out as evidence against a match (no credible duplicates to learn from);"
                " no fuzzy duplicates removed. Give labelled pairs ('labels') to fit the weights."
            )
            scores = np.zeros_like(scores)
        matched = scores >= fuzzy.threshold
        fitted = model

        def score_pairs(extra: np.ndarray) -> np.ndarray:
            return fitted.probability(_compare_all(prepared, extra)[0], _sources(fitted, extra, rule_keys))

        clusters = split_components(
            len(rep_frame), rep_pairs[matched], scores[matched], score_pairs, floor=fuzzy.cluster_floor
        )
        rep_labels = clusters.labels
        pairs = np.stack([reps[rep_pairs[:, 0]], reps[rep_pairs[:, 1]]], axis=1) if len(rep_pairs) else pairs
        timings["cluster"] = time.perf_counter() - t

    # every row's cluster: its exact group's representative's fuzzy cluster
    rep_index = np.empty(n, dtype=np.int64)
    rep_index[reps] = np.arange(len(reps))
    labels_all = rep_labels[rep_index[rep_of_group[groups]]] if n else np.zeros(0, dtype=np.int64)
    _, labels_all = np.unique(labels_all, return_inverse=True)
    labels_all = labels_all.astype(np.int64)

    t = time.perf_counter()
    strategy = fuzzy.merge if fuzzy is not None else ("keep_first" if spec.keep == "first" else "keep_last")
    data_columns = [c for c in frame.columns if not str(c).startswith("_")]
    quality = row_quality(frame, data_columns) if strategy in ("keep_best_quality", "field_wise") else None
    chosen = survivors(labels_all, strategy, quality) if n else np.zeros(0, dtype=np.int64)
    keep_positions = np.sort(chosen)
    kept = (
        fill_from_cluster(frame, labels_all, keep_positions, data_columns)
        if strategy == "field_wise"
        else frame.iloc[keep_positions].copy()
    )
    sizes = np.bincount(labels_all) if n else np.zeros(0, dtype=np.int64)
    kept[CLUSTER_ID] = labels_all[keep_positions]
    kept[CLUSTER_SIZE] = sizes[labels_all[keep_positions]]
    kept = kept.reset_index(drop=True)

    removed_mask = np.ones(n, dtype=bool)
    removed_mask[keep_positions] = False
    removed = np.flatnonzero(removed_mask)
    kept_of_removed = chosen[labels_all[removed]]
    same_group = groups[removed] == groups[kept_of_removed]
    removed_scores = np.ones(len(removed))
    fuzzy_rows = np.flatnonzero(~same_group)
    if len(fuzzy_rows) and model is not None and prepared is not None:
        # score each removed row against the row actually kept (it may not be the cluster centre)
        left = rep_index[rep_of_group[groups[removed[fuzzy_rows]]]]
        right = rep_index[rep_of_group[groups[kept_of_removed[fuzzy_rows]]]]
        direct = np.stack([left, right], axis=1)
        direct_levels, _ = _compare_all(prepared, direct)
        removed_scores[fuzzy_rows] = model.probability(direct_levels, _sources(model, direct, rule_keys))
    ids = _ids(frame, fuzzy.id_column if fuzzy is not None else None)
    duplicates = frame.iloc[removed].copy()
    duplicates[CLUSTER_ID] = labels_all[removed]
    duplicates[KEPT_ID] = ids.to_numpy()[kept_of_removed]
    duplicates[SCORE] = removed_scores
    duplicates[MATCH_KIND] = np.where(same_group, "exact", "fuzzy")
    duplicates = duplicates.reset_index(drop=True)
    timings["merge"] = time.perf_counter() - t

    stats = DedupStats(
        rows_in=n,
        rows_out=len(kept),
        rows_removed=len(removed),
        exact_removed=exact_removed,
        clusters=len(sizes),
        clusters_with_duplicates=int((sizes > 1).sum()),
        candidate_pairs=len(pairs),
        matched_pairs=int((scores >= fuzzy.threshold).sum()) if fuzzy is not None else 0,
        score_histogram=np.histogram(scores, bins=10, range=(0.0, 1.0))[0].astype(int).tolist(),
        borderline_pairs=_borderline(frame, pairs, scores, fuzzy, ids) if fuzzy is not None else [],
        weights=model.weights() if model is not None else {},
        match_share=round(model.lam, 6) if model is not None else None,
        warnings=warnings,
        split_blocks=split_blocks,
        seconds={k: round(v, 3) for k, v in timings.items()},
    )
    return DedupOutcome(kept, duplicates, stats, pairs, scores, labels_all, model)


def _borderline(frame: pd.DataFrame, pairs: np.ndarray, scores: np.ndarray, fuzzy: FuzzySpec, ids: pd.Series) -> list[dict[str, Any]]:
    """A few pairs whose probability is closest to the threshold, with their compared values."""
    if not len(pairs):
        return []
    distance = np.abs(scores - fuzzy.threshold)
    if len(distance) > _BORDERLINE:
        # the stable argsort's first few, without sorting millions: all within the k-th distance
        kth = np.partition(distance, _BORDERLINE - 1)[_BORDERLINE - 1]
        near = np.flatnonzero(distance <= kth)
        closest = near[np.argsort(distance[near], kind="stable")][:_BORDERLINE]
    else:
        closest = np.argsort(distance, kind="stable")
    columns = []
    for name, field_spec in fuzzy.field_specs.items():
        columns += field_spec.columns or [name]
    columns = list(dict.fromkeys(columns))
    out = []
    for k in closest:
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        out.append({
            "left_id": str(ids.iloc[i]),
            "right_id": str(ids.iloc[j]),
            "score": round(float(scores[k]), 4),
            "left": {c: _plain(frame[c].iloc[i]) for c in columns},
            "right": {c: _plain(frame[c].iloc[j]) for c in columns},
        })
    return out


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
