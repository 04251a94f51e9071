"""Transforms: clean (types, null policies, rejects, dedup) and aggregate (group-by, windows, joins).

Public API: :func:`clean_table` -> :class:`CleanResult` (clean frame, rejected frame,
:class:`CleanStats`); :func:`aggregate` -> :class:`AggregateResult`; :func:`exact_dedup` /
:func:`find_duplicates` for deduplication outside a clean table.
"""

from etl_assets.lib.transforms.aggregate import WINDOW_END, WINDOW_START, aggregate
from etl_assets.lib.transforms.clean import clean_table
from etl_assets.lib.transforms.dedup import DedupResult, Duplicates, exact_dedup, find_duplicates
from etl_assets.lib.transforms.errors import AggregateError, CleanError
from etl_assets.lib.transforms.rejects import REASON, REASON_KIND
from etl_assets.lib.transforms.results import (
    AggregateResult,
    AggregateStats,
    CleanResult,
    CleanStats,
)

__all__ = [
    "REASON",
    "REASON_KIND",
    "WINDOW_END",
    "WINDOW_START",
    "AggregateError",
    "AggregateResult",
    "AggregateStats",
    "CleanError",
    "CleanResult",
    "CleanStats",
    "DedupResult",
    "Duplicates",
    "aggregate",
    "clean_table",
    "exact_dedup",
    "find_duplicates",
]
