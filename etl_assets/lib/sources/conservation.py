"""Conservation against the physical input: did every record the bytes hold come out as a row?

The readers count what they read in units a parser cannot hide (bytes, lines, list elements,
footer rows) and how many rows that must give (:class:`PhysicalInput`). This module turns those
counts into the figures a raw asset records and the verdict of its ``physical_conservation``
check: it fails when any file emitted a different number of rows than its physical count
implies, or when the combined frame lost or gained rows on the way. A source whose reader
counts nothing (an HTTP API, a database table) is "not applicable", never a failure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from etl_assets.lib.sources.physical import PhysicalInput

__all__ = [
    "MAX_FILES_IN_METADATA",
    "PhysicalVerdict",
    "evaluate_physical",
    "physical_totals",
    "totals_by_partition",
]

#: Per-file figures kept in metadata (problem files first); totals always cover every file.
MAX_FILES_IN_METADATA = 50


@dataclass(frozen=True)
class PhysicalVerdict:
    applicable: bool
    passed: bool
    description: str
    metadata: dict[str, object]


def physical_totals(inputs: list[PhysicalInput]) -> dict[str, int]:
    """Summed figures: files, bytes, expected and emitted rows, and units per unit name."""
    totals: dict[str, int] = {
        "physical_files": len(inputs),
        "physical_bytes": sum(item.bytes for item in inputs),
        "physical_expected_rows": sum(item.expected_rows for item in inputs),
        "physical_emitted_rows": sum(item.emitted_rows for item in inputs),
    }
    units: dict[str, int] = defaultdict(int)
    for item in inputs:
        units[item.unit] += item.units
    for unit, count in sorted(units.items()):
        totals[f"physical_{unit}"] = count
    return totals


def totals_by_partition(inputs: list[PhysicalInput]) -> dict[str, dict[str, int]]:
    """:func:`physical_totals` of each partition's files (files without a key are left out)."""
    grouped: dict[str, list[PhysicalInput]] = defaultdict(list)
    for item in inputs:
        if item.partition is not None:
            grouped[item.partition].append(item)
    return {key: physical_totals(items) for key, items in grouped.items()}


def evaluate_physical(inputs: list[PhysicalInput], frame_rows: int) -> PhysicalVerdict:
    """The ``physical_conservation`` verdict for a frame of ``frame_rows`` rows read from ``inputs``."""
    if not inputs:
        return PhysicalVerdict(
            applicable=False,
            passed=True,
            description="not applicable: this source's reader reports no physical input count",
            metadata={"applicable": False},
        )
    totals = physical_totals(inputs)
    lost = [item for item in inputs if not item.conserved]
    combined_ok = totals["physical_emitted_rows"] == frame_rows
    shown = sorted(inputs, key=lambda item: item.conserved)[:MAX_FILES_IN_METADATA]
    metadata: dict[str, object] = {
        "applicable": True,
        **totals,
        "frame_rows": frame_rows,
        "files_not_conserved": len(lost),
        "files": [item.as_metadata() for item in shown],
    }
    if not lost and combined_ok:
        return PhysicalVerdict(
            True,
            True,
            f"{totals['physical_expected_rows']} rows expected from {totals['physical_bytes']} bytes "
            f"in {len(inputs)} file(s) = {frame_rows} rows read",
            metadata,
        )
    problems = [
        f"{item.file}: {item.units} {item.unit} imply {item.expected_rows} rows but "
        f"{item.emitted_rows} were read"
        for item in lost[:5]
    ]
    if not combined_ok:
        problems.append(
            f"the files gave {totals['physical_emitted_rows']} rows but the combined frame has "
            f"{frame_rows}"
        )
    more = f" (and {len(lost) - 5} more files)" if len(lost) > 5 else ""
    return PhysicalVerdict(
        True,
        False,
        "rows could have been lost or invented: " + "; ".join(problems) + more,
        metadata,
    )
