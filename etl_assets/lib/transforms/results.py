"""Results of the transforms, with counts that feed Dagster metadata and checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class CleanStats:
    rows_in: int
    rows_out: int
    rows_rejected: int
    #: Subset of rows_rejected removed on purpose by a ``drop`` null policy.
    rows_dropped: int
    rows_deduplicated: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def conserved(self) -> bool:
        """Row conservation: nothing lost, nothing invented."""
        return self.rows_in == self.rows_out + self.rows_rejected + self.rows_deduplicated

    def as_metadata(self) -> dict[str, int]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_rejected": self.rows_rejected,
            "rows_dropped": self.rows_dropped,
            "rows_deduplicated": self.rows_deduplicated,
        }


@dataclass(frozen=True)
class CleanResult:
    clean: pd.DataFrame
    rejected: pd.DataFrame
    stats: CleanStats


@dataclass(frozen=True)
class AggregateStats:
    rows_in: int
    groups_out: int
    groups_filtered_by_having: int


@dataclass(frozen=True)
class AggregateResult:
    frame: pd.DataFrame
    stats: AggregateStats
