"""The embedding model resource: packaged model, batches, on-disk cache that survives restarts.

Uses the real packaged MiniLM (few, small encodes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl_assets.lib.dedup import deduplicate
from etl_assets.lib.dedup.candidates import top_k_neighbours
from etl_assets.lib.dedup.embedding_cache import EmbeddingCache
from etl_assets.lib.resources.embedding import (
    EmbeddingModel,
    default_cache_dir,
    load_model,
    packaged_model_path,
)
from etl_assets.lib.spec.models import DedupSpec

pytestmark = pytest.mark.xdist_group("embedding_model")

COMPANIES = ["International Business Machines", "IBM Corp", "Intl Business Machines", "Acme Widgets Ltd",
             "Globex Corporation", "Procter & Gamble", "Procter and Gamble Co.", "Tyrell Corp"]


def test_cache_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "cache"
    code = (
        "import sys, json; from etl_assets.lib.resources.embedding import EmbeddingModel;"
        f"m = EmbeddingModel(cache_dir={str(cache_dir)!r}); m.encode(sys.argv[1:]); print(json.dumps(m.last_stats))"
    )
    done = subprocess.run([sys.executable, "-c", code, *COMPANIES], check=True, capture_output=True, text=True)
    assert '"encoded": 8.0' in done.stdout
    # a new process (this one): everything comes from disk, the model is never run
    model = EmbeddingModel(cache_dir=str(cache_dir))

    def refuse(texts: object) -> np.ndarray:
        raise AssertionError(f"encoded again: {texts}")

    monkeypatch.setattr(EmbeddingModel, "encode_uncached", lambda self, texts: refuse(texts))
    vectors = model.encode([*COMPANIES, COMPANIES[0]])
    assert model.last_stats["encoded"] == 0 and model.last_stats["cached"] == 8
    assert vectors.shape == (9, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[8])


def test_only_new_texts_are_encoded_and_abbreviations_meet(tmp_path: Path) -> None:
    model = EmbeddingModel(cache_dir=str(tmp_path), batch_size=4)
    first = model.encode(COMPANIES[:5])
    assert model.last_stats["encoded"] == 5
    both = model.encode(COMPANIES)
    assert model.last_stats == {**model.last_stats, "encoded": 3.0, "cached": 5.0}
    np.testing.assert_allclose(both[:5], first, atol=1e-6)
    assert len(EmbeddingCache(tmp_path / "cache.sqlite", f"all-MiniLM-L6-v2:{model.resolved_precision()}")) == 8
    # "Intl Business Machines" meets "International Business Machines" and "IBM Corp" among neighbours
    pairs = {tuple(p) for p in top_k_neighbours(both, 2, min_similarity=0.3).tolist()}
    assert (0, 2) in pairs and ((0, 1) in pairs or (1, 2) in pairs)
    assert load_model(packaged_model_path()) is load_model(packaged_model_path())  # once per process


def test_embedding_field_in_dedup(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "company": ["International Business Machines", "Intl Business Machines", "Globex Corporation", "Tyrell Corp"],
        "city": ["Oslo", "Oslo", "Oslo", "Lima"],
    })
    spec = DedupSpec.model_validate({"fuzzy": {"fields": {"company": "embedding", "city": "exact"}, "blocking": [["city"]]}})
    model = EmbeddingModel(cache_dir=str(tmp_path))
    outcome = deduplicate(frame, spec, embedder=model.encode)
    assert outcome.stats.candidate_pairs >= 3
    with pytest.raises(ValueError, match="no embedding model"):
        deduplicate(frame, spec)


def test_mapping_with_embeddings_finds_synonyms_the_name_rules_miss(tmp_path: Path) -> None:
    from etl_assets.lib.mapping import propose_mapping
    from etl_assets.lib.spec.models import ColumnSpec

    frame = pd.DataFrame({"workplace": ["Acme", "Globex"], "hometown": ["Oslo", "Lima"], "full_surname": ["Lee", "Ray"]})
    targets = {
        "company": ColumnSpec(type="string", description="employer of the person"),
        "city": ColumnSpec(type="string", description="city where the person lives"),
        "last_name": ColumnSpec(type="string", description="family name"),
    }
    lexical = {p.target: p.source for p in propose_mapping(frame, targets)}
    assert lexical["company"] != "workplace"  # names alone get it wrong
    model = EmbeddingModel(cache_dir=str(tmp_path))
    proposals = {p.target: p for p in propose_mapping(frame, targets, embedder=model.encode)}
    assert {t: p.source for t, p in proposals.items()} == {"company": "workplace", "city": "hometown", "last_name": "full_surname"}
    assert proposals["company"].confidence < 0.8  # right, but not confident enough to apply unseen


def test_default_cache_under_dagster_home_does_not_shadow_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code servers run with DAGSTER_HOME as the current directory, which is on ``sys.path``.

    The cache used to live in ``$DAGSTER_HOME/etl_assets/``: a namespace package that shadowed
    the installed one, so the next code server failed to load ``etl_assets.PipelineComponent``.
    """
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    folder = default_cache_dir()
    assert folder.is_relative_to(tmp_path)
    EmbeddingCache(folder / "cache.sqlite", "probe")  # creates the folders, as a run does
    done = subprocess.run(
        [sys.executable, "-c", "import etl_assets; print(etl_assets.PipelineComponent.__module__)"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "etl_assets.component.pipeline_component"
