"""Results of the transforms, with counts that feed Dagster metadata and the conservation check."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class CleanStats:
    rows_in: int
    rows_out: int
    #: Rows in the rejected frame (parse errors, bad values, missing required values, drops).
    rows_rejected: int
    #: Subset of rows_rejected removed on purpose by a ``nulls: drop`` policy (and nothing else).
    rows_dropped: int
    #: Kept rows removed as exact duplicates on the dedup keys (not in the rejected frame).
    rows_deduplicated: int
    #: Rejected rows by their first problem: ``"coercion:dep_time"``, ``"required:carrier"``,
    #: ``"category:dst"``, ``"dropped:tailnum"``, ``"parse_error"``. Sums to rows_rejected.
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def conserved(self) -> bool:
        """Row conservation: nothing lost, nothing invented."""
        return self.rows_in == self.rows_out + self.rows_rejected + self.rows_deduplicated

    def as_metadata(self) -> dict[str, int]:
        """The counts as plain ints (Dagster metadata refuses numpy integers)."""
        return {
            "rows_in": int(self.rows_in),
            "rows_out": int(self.rows_out),
            "rows_rejected": int(self.rows_rejected),
            "rows_dropped": int(self.rows_dropped),
            "rows_deduplicated": int(self.rows_deduplicated),
        }


@dataclass(frozen=True)
class CleanResult:
    clean: pd.DataFrame
    rejected: pd.DataFrame
    stats: CleanStats


@dataclass(frozen=True)
class AggregateStats:
    rows_in: int
    #: Output rows (after ``having``).
    groups_out: int
    groups_filtered_by_having: int


@dataclass(frozen=True)
class AggregateResult:
    frame: pd.DataFrame
    stats: AggregateStats
