"""Resolve an incoming frame's columns to a clean table's declared columns.

Order of evidence: mappings a person accepted (the sidecar file, or the spec's ``source:``
renames) first; then, for declared columns still missing, proposals at or above the threshold
are applied automatically (and recorded); the rest stay unresolved, added as empty columns so
the clean step can still account for every row, and the ``mapping`` check fails listing them.
A source column renamed upstream (schema drift) is just a missing column here: same path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from etl_assets.lib.mapping.propose import Embedder, Proposal, propose_mapping
from etl_assets.lib.spec.models import ColumnSpec

_LINEAGE = {"_source_file", "_source_row", "_parse_error", "_partition"}


@dataclass
class MappingOutcome:
    frame: pd.DataFrame
    #: source column -> target column, accepted by a person (sidecar / spec)
    accepted: dict[str, str] = field(default_factory=dict)
    #: source column -> target column, applied automatically (confidence >= threshold)
    automatic: dict[str, Proposal] = field(default_factory=dict)
    #: targets left without a confident source, with the best proposal
    unresolved: list[Proposal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unresolved


def expected_columns(targets: dict[str, ColumnSpec], *, primary: bool) -> dict[str, str]:
    """The input column each target reads: its ``source:`` rename on the primary source, else its name."""
    return {name: (spec.source or name) if primary else name for name, spec in targets.items()}


def map_columns(
    frame: pd.DataFrame,
    targets: dict[str, ColumnSpec],
    *,
    expected: dict[str, str] | None = None,
    accepted: dict[str, str] | None = None,
    threshold: float = 0.8,
    previous: pd.DataFrame | None = None,
    embedder: Embedder | None = None,
) -> MappingOutcome:
    """Rename ``frame``'s columns so every target's expected input column exists."""
    expected = expected or {name: name for name in targets}
    accepted = dict(accepted or {})
    unknown = [t for t in accepted.values() if t not in targets]
    if unknown:
        raise ValueError(f"accepted mapping names unknown target column(s) {', '.join(unknown)}; declared: {', '.join(targets)}")
    renames = {s: expected[t] for s, t in accepted.items() if s in frame.columns and expected[t] not in frame.columns}
    frame = frame.rename(columns=renames)
    outcome = MappingOutcome(frame, accepted={s: accepted[s] for s in renames})
    missing = {t: spec for t, spec in targets.items() if expected[t] not in frame.columns}
    if not missing:
        return outcome
    used = set(expected.values()) | _LINEAGE
    free = frame[[c for c in frame.columns if c not in used]]
    previous_targets = previous.rename(columns={t: t for t in missing}) if previous is not None else None
    proposals = propose_mapping(free, missing, previous=previous_targets, embedder=embedder)
    auto = {}
    for proposal in proposals:
        if proposal.source is not None and proposal.confidence >= threshold:
            auto[proposal.source] = proposal
        else:
            outcome.unresolved.append(proposal)
    frame = frame.rename(columns={s: expected[p.target] for s, p in auto.items()})
    for proposal in outcome.unresolved:
        frame[expected[proposal.target]] = pd.Series([None] * len(frame), index=frame.index, dtype="str")
    outcome.frame = frame
    outcome.automatic = auto
    return outcome
