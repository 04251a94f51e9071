"""Fellegi-Sunter EM, clustering without chaining, merge strategies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.dedup.cluster import center_clusters, split_components
from etl_assets.lib.dedup.fellegi_sunter import fit_em, fit_labelled
from etl_assets.lib.dedup.merge import fill_from_cluster, row_quality, survivors


def _synthetic(n: int, lam: float, m: list[list[float]], u: list[list[float]], seed: int = 0):
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < lam
    levels = np.empty((n, len(m)), dtype=np.int8)
    for f in range(len(m)):
        levels[is_match, f] = rng.choice(len(m[f]), size=is_match.sum(), p=m[f])
        levels[~is_match, f] = rng.choice(len(u[f]), size=(~is_match).sum(), p=u[f])
    return levels, is_match


M = [[0.05, 0.15, 0.8], [0.1, 0.9], [0.02, 0.08, 0.2, 0.7]]
U = [[0.85, 0.1, 0.05], [0.7, 0.3], [0.8, 0.15, 0.04, 0.01]]


def test_em_recovers_parameters_without_labels() -> None:
    levels, is_match = _synthetic(40_000, 0.2, M, U)
    model = fit_em(levels, [3, 2, 4], ["a", "b", "c"])
    assert model.converged
    assert model.lam == pytest.approx(0.2, abs=0.02)
    for f in range(3):
        np.testing.assert_allclose(model.m[f], M[f], atol=0.04)
        np.testing.assert_allclose(model.u[f], U[f], atol=0.04)
    predicted = model.probability(levels) >= 0.5
    assert (predicted == is_match).mean() > 0.95


def test_missing_levels_carry_no_evidence() -> None:
    levels, _ = _synthetic(20_000, 0.2, M, U)
    model = fit_em(levels, [3, 2, 4], ["a", "b", "c"])
    with_missing = levels[:5].copy()
    with_missing[:, 2] = -1
    only_two = model.log_odds(with_missing)
    expected = np.log(model.lam / (1 - model.lam)) + sum(
        np.log(model.m[f][with_missing[:, f]] / model.u[f][with_missing[:, f]]) for f in range(2)
    )
    np.testing.assert_allclose(only_two, expected)


def test_labelled_fit() -> None:
    levels, is_match = _synthetic(20_000, 0.1, M, U, seed=3)
    model = fit_labelled(levels[:2000], is_match[:2000], [3, 2, 4], ["a", "b", "c"], levels)
    assert model.lam == pytest.approx(0.1, abs=0.02)
    assert ((model.probability(levels) >= 0.5) == is_match).mean() > 0.95
    with pytest.raises(ValueError, match="both matches and non-matches"):
        fit_labelled(levels[:10], np.ones(10, dtype=bool), [3, 2, 4], ["a", "b", "c"], levels)


def test_clustering_does_not_chain_through_one_record() -> None:
    # 0~1 and 1~2 strongly, but 0 and 2 are different people (pair score near 0)
    pairs = np.array([[0, 1], [1, 2], [3, 4], [4, 5], [3, 5]])
    scores = np.array([0.99, 0.97, 0.95, 0.96, 0.93])
    table = {(0, 2): 0.001, (0, 1): 0.99, (1, 2): 0.97, (3, 4): 0.95, (4, 5): 0.96, (3, 5): 0.93}

    def score(extra: np.ndarray) -> np.ndarray:
        return np.array([table[(int(i), int(j))] for i, j in np.sort(extra, axis=1)])

    clusters = split_components(6, pairs, scores, score, floor=0.1)
    labels = clusters.labels
    assert labels[0] != labels[2]
    assert labels[0] == labels[1]
    assert labels[3] == labels[4] == labels[5]  # a true triangle stays whole
    # plain centre clustering alone never chains either
    centre = center_clusters(3, pairs[:2], scores[:2])
    assert centre.labels[0] != centre.labels[2]


def test_star_through_centre_is_kept_when_members_are_plausible() -> None:
    pairs = np.array([[0, 1], [0, 2], [0, 3]])
    scores = np.array([0.99, 0.98, 0.97])

    def score(extra: np.ndarray) -> np.ndarray:
        return np.full(len(extra), 0.6)

    clusters = split_components(4, pairs, scores, score, floor=0.1)
    assert len(set(clusters.labels.tolist())) == 1


def test_survivors_per_strategy() -> None:
    labels = np.array([0, 1, 0, 0, 1])
    quality = np.array([0.2, 0.9, 0.8, 0.8, 0.1])
    assert survivors(labels, "keep_first").tolist() == [0, 1]
    assert survivors(labels, "keep_last").tolist() == [3, 4]
    assert survivors(labels, "keep_best_quality", quality).tolist() == [2, 1]  # tie 2/3 -> earlier


def test_row_quality_prefers_quality_score_then_completeness() -> None:
    frame = pd.DataFrame({"a": ["x", None, " "], "b": [1.0, 2.0, None]})
    np.testing.assert_allclose(row_quality(frame), [1.0, 0.5, 0.0])
    frame["_quality_score"] = [0.1, 0.9, 0.5]
    np.testing.assert_allclose(row_quality(frame), [0.1, 0.9, 0.5])


def test_field_wise_fills_missing_from_cluster() -> None:
    frame = pd.DataFrame({"name": ["Ann", "Ann", "Bob"], "email": [None, "ann@x.org", None], "phone": ["1", None, "2"]})
    labels = np.array([0, 0, 1])
    kept = fill_from_cluster(frame, labels, np.array([0, 2]), ["name", "email", "phone"])
    assert kept["email"].iloc[0] == "ann@x.org"
    assert pd.isna(kept["email"].iloc[1])  # nothing in Bob's cluster to fill from
    assert kept["phone"].tolist() == ["1", "2"]
