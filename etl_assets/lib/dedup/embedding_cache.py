"""A persistent cache of sentence embeddings keyed by (model, text hash).

Encoding is the expensive part of embedding-based matching (a few hundred texts per second on a
CPU), and the same names come back in every rerun and every new partition. Vectors are stored in
one SQLite file (WAL, so concurrent runs of other partitions can read while one writes), so a
restart or the next partition only encodes texts never seen before.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_CHUNK = 900  # below SQLite's default limit of host parameters


def text_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """``get`` the known vectors of a batch of texts, ``put`` new ones; one SQLite file."""

    def __init__(self, path: str | Path, namespace: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " model TEXT NOT NULL, hash BLOB NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,"
                " PRIMARY KEY (model, hash)) WITHOUT ROWID"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the texts already in the cache (texts not found are absent)."""
        by_hash = {text_hash(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        hashes = list(by_hash)
        with self._connect() as db:
            for start in range(0, len(hashes), _CHUNK):
                chunk = hashes[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                    [self.namespace, *chunk],
                )
                for digest, blob in rows:
                    found[by_hash[digest]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (self.namespace, text_hash(t), int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", [self.namespace]).fetchone()[0])
