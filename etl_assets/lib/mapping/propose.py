"""Propose a source -> target column mapping with a confidence per pair, by optimal assignment.

Confidence combines name similarity (canonical tokens with abbreviations expanded, and the
embedding cosine of the names plus descriptions when an embedder is given), type compatibility
of the source's values with the declared type, and agreement with the target's previous values
(overlap, or value shape). Each source column is assigned to at most one target and vice versa
by the Hungarian algorithm (scipy ``linear_sum_assignment``) on the confidence matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from etl_assets.lib.mapping.names import canonical, name_similarity
from etl_assets.lib.mapping.profile import type_fit, value_agreement
from etl_assets.lib.spec.models import ColumnSpec

Embedder = Callable[[Sequence[str]], np.ndarray]
_LINEAGE = {"_source_file", "_source_row", "_parse_error", "_partition"}


@dataclass(frozen=True)
class Proposal:
    target: str
    source: str | None
    confidence: float
    name_score: float
    type_score: float
    value_score: float | None
    #: The next best source column for this target, to show a reviewer the alternative.
    runner_up: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "source": self.source,
            "confidence": round(self.confidence, 3),
            "name": round(self.name_score, 3),
            "type": round(self.type_score, 3),
            "values": None if self.value_score is None else round(self.value_score, 3),
            "runner_up": self.runner_up,
        }


def _name_matrix(sources: list[str], targets: dict[str, ColumnSpec], embedder: Embedder | None) -> np.ndarray:
    lexical = np.array(
        [[name_similarity(s, t, spec.description) for t, spec in targets.items()] for s in sources], dtype=float
    )
    if embedder is None:
        return lexical
    source_text = [canonical(s) or s for s in sources]
    target_text = [
        (canonical(t) + (f": {spec.description}" if spec.description else "")) for t, spec in targets.items()
    ]
    vectors = embedder([*source_text, *target_text])
    cosine = np.clip(vectors[: len(sources)] @ vectors[len(sources) :].T, 0.0, 1.0)
    return np.maximum(lexical, 0.3 * lexical + 0.7 * cosine)


def propose_mapping(
    frame: pd.DataFrame,
    targets: dict[str, ColumnSpec],
    *,
    previous: pd.DataFrame | None = None,
    embedder: Embedder | None = None,
) -> list[Proposal]:
    """One proposal per target column (source None when nothing fits), best first by confidence."""
    sources = [str(c) for c in frame.columns if c not in _LINEAGE]
    names = list(targets)
    if not sources or not names:
        return [Proposal(t, None, 0.0, 0.0, 0.0, None) for t in names]
    name_scores = _name_matrix(sources, targets, embedder)
    type_scores = np.array([[type_fit(frame[s], targets[t].type) for t in names] for s in sources])
    value_scores = np.full((len(sources), len(names)), np.nan)
    if previous is not None:
        for j, t in enumerate(names):
            if t in previous.columns:
                for i, s in enumerate(sources):
                    agreement = value_agreement(frame[s], previous[t])
                    value_scores[i, j] = np.nan if agreement is None else agreement
    with_values = ~np.isnan(value_scores)
    confidence = np.where(
        with_values,
        0.55 * name_scores + 0.15 * type_scores + 0.30 * np.nan_to_num(value_scores),
        0.75 * name_scores + 0.25 * type_scores,
    )
    # a type that cannot hold the values caps the confidence
    confidence = np.minimum(confidence, 0.4 + type_scores)
    rows, cols = linear_sum_assignment(-confidence)
    chosen = dict(zip(cols.tolist(), rows.tolist(), strict=True))
    proposals = []
    for j, target in enumerate(names):
        i = chosen.get(j)
        order = np.argsort(-confidence[:, j])
        runner = next((sources[k] for k in order if k != i), None)
        if i is None:
            proposals.append(Proposal(target, None, 0.0, 0.0, 0.0, None, runner))
            continue
        proposals.append(
            Proposal(
                target=target,
                source=sources[i],
                confidence=float(np.clip(confidence[i, j], 0.0, 1.0)),
                name_score=float(name_scores[i, j]),
                type_score=float(type_scores[i, j]),
                value_score=None if np.isnan(value_scores[i, j]) else float(value_scores[i, j]),
                runner_up=runner,
            )
        )
    return sorted(proposals, key=lambda p: -p.confidence)
