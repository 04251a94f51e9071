"""Precision and recall of predicted duplicate pairs against generated ground truth, at the
default threshold, on differently generated data sets (exact, fuzzy and mixed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from etl_assets.demo.customers import (
    PERSON_FUZZY,
    cluster_pairs,
    exact_variants,
    generate_customers,
    precision_recall,
    true_pairs,
)
from etl_assets.lib.dedup import CLUSTER_ID, CLUSTER_SIZE, KEPT_ID, SCORE, deduplicate
from etl_assets.lib.spec.models import DedupSpec

TARGET = 0.95


def _check(labels: np.ndarray, entity: np.ndarray) -> tuple[float, float, float]:
    precision, recall, f1 = precision_recall(cluster_pairs(labels), true_pairs(entity))
    assert precision >= TARGET, f"precision {precision:.4f}"
    assert recall >= TARGET, f"recall {recall:.4f}"
    return precision, recall, f1


def test_exact_normalised_keys() -> None:
    frame, entity = exact_variants(2000)
    outcome = deduplicate(frame, DedupSpec(keys=["first_name", "last_name", "email"], normalize=True))
    _check(outcome.labels, entity)
    assert outcome.stats.exact_removed == len(frame) - len(np.unique(entity))
    # without normalisation the same keys find (almost) nothing
    plain = deduplicate(frame, DedupSpec(keys=["first_name", "last_name", "email"], normalize=False, fuzzy=None))
    assert plain.stats.rows_removed < outcome.stats.rows_removed / 5


@pytest.mark.parametrize(("profile", "seed"), [("a", 21), ("b", 22)])
def test_fuzzy_default_threshold_holds_across_data_sets(profile: str, seed: int) -> None:
    frame, entity = generate_customers(3000, seed=seed, profile=profile)
    spec = DedupSpec.model_validate({"fuzzy": PERSON_FUZZY})
    assert spec.fuzzy is not None and spec.fuzzy.threshold == 0.9  # the default, not tuned here
    outcome = deduplicate(frame, spec)
    _check(outcome.labels, entity)
    # candidate generation never compares all pairs
    assert outcome.stats.candidate_pairs < len(frame) * (len(frame) - 1) / 2 / 20


def test_mixed_exact_then_fuzzy_and_conservation() -> None:
    frame, entity = generate_customers(3000, seed=23, profile="b")
    # add exact copies (different case/spacing) on top of the fuzzy duplicates
    extra = frame.sample(300, random_state=1)
    extra = extra.assign(email=extra["email"].str.upper(), record_id=extra["record_id"] + "x")
    frame = pd.concat([frame, extra], ignore_index=True)
    entity = np.concatenate([entity, entity[extra.index.to_numpy()]])
    spec = DedupSpec.model_validate({"keys": ["email"], "normalize": True, "fuzzy": {**PERSON_FUZZY, "id_column": "record_id"}})
    outcome = deduplicate(frame, spec)
    _check(outcome.labels, entity)
    assert outcome.stats.exact_removed >= 300
    kept, removed = outcome.kept, outcome.duplicates
    # nothing lost, nothing invented: output + duplicates == input
    assert len(kept) + len(removed) == len(frame)
    assert sorted(kept["record_id"].tolist() + removed["record_id"].tolist()) == sorted(frame["record_id"].tolist())
    assert set(removed[KEPT_ID]) <= set(kept["record_id"])
    assert set(removed["_match_kind"]) == {"exact", "fuzzy"}
    assert removed.loc[removed["_match_kind"] == "exact", SCORE].eq(1.0).all()
    assert removed.loc[removed["_match_kind"] == "fuzzy", SCORE].between(0, 1).all()
    sizes = kept.groupby(CLUSTER_ID).size()
    assert (sizes == 1).all()  # one survivor per cluster
    assert kept[CLUSTER_SIZE].sum() == len(frame)


@pytest.mark.parametrize("merge", ["keep_first", "keep_last", "keep_best_quality", "field_wise"])
def test_every_merge_strategy(merge: str) -> None:
    frame = pd.DataFrame(
        {
            "name": ["Ann Lee", "Ann  Lee", "ANN LEE", "Bob Ray"],
            "email": [None, "ann@x.org", "ann@x.org", "bob@y.org"],
            "phone": ["555 0101", None, "5550101", None],
            "_quality_score": [0.2, 0.9, 0.5, 1.0],
        }
    )
    spec = DedupSpec.model_validate({"keys": ["name"], "normalize": True, "fuzzy": {"fields": {"name": "name"}, "merge": merge}})
    outcome = deduplicate(frame, spec)
    kept = outcome.kept.set_index("name")
    ann = kept.index[kept.index.str.lower().str.contains("ann")][0]
    expected = {"keep_first": "Ann Lee", "keep_last": "ANN LEE", "keep_best_quality": "Ann  Lee", "field_wise": "Ann  Lee"}
    assert ann == expected[merge]
    assert kept.loc[ann, CLUSTER_SIZE] == 3
    if merge == "field_wise":
        assert kept.loc[ann, "phone"] in {"555 0101", "5550101"}  # filled from the cluster
    elif merge == "keep_best_quality":
        assert pd.isna(kept.loc[ann, "phone"])


def test_keep_best_quality_uses_completeness_without_a_quality_score() -> None:
    frame = pd.DataFrame({"name": ["Ann Lee", "ann lee", "ANN LEE"], "email": [None, "a@x.org", None], "city": [None, "Oslo", "Oslo"]})
    spec = DedupSpec.model_validate({"keys": ["name"], "normalize": True, "fuzzy": {"fields": {"name": "name"}, "merge": "keep_best_quality"}})
    assert deduplicate(frame, spec).kept["name"].tolist() == ["ann lee"]


def test_labelled_sample_fits_weights() -> None:
    frame, entity = generate_customers(2000, seed=31)
    spec = DedupSpec.model_validate({"fuzzy": PERSON_FUZZY})
    unlabelled = deduplicate(frame, spec)
    rng = np.random.default_rng(0)
    sample = unlabelled.pairs[rng.choice(len(unlabelled.pairs), size=800, replace=False)]
    labels = pd.DataFrame({"left": sample[:, 0], "right": sample[:, 1], "match": entity[sample[:, 0]] == entity[sample[:, 1]]})
    outcome = deduplicate(frame, spec, labels=labels)
    _check(outcome.labels, entity)


def test_candidate_only_field_adds_no_evidence() -> None:
    frame, entity = generate_customers(1500, seed=51)
    extra = {**PERSON_FUZZY, "fields": {**PERSON_FUZZY["fields"], "swapped": {"compare": "name", "columns": ["last_name", "first_name"], "score": False}}}  # type: ignore[dict-item]
    outcome = deduplicate(frame, DedupSpec.model_validate({"fuzzy": extra}))
    assert "swapped" not in outcome.stats.weights and "full_name" in outcome.stats.weights
    _check(outcome.labels, entity)
