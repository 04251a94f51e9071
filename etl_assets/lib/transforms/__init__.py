"""Transforms: clean (types, null policies, rejects, dedup) and aggregate (group-by, windows, joins)."""

from etl_assets.lib.transforms.aggregate import AggregateError, aggregate
from etl_assets.lib.transforms.clean import CleanError, clean_table
from etl_assets.lib.transforms.dedup import DedupResult, exact_dedup
from etl_assets.lib.transforms.results import (
    AggregateResult,
    AggregateStats,
    CleanResult,
    CleanStats,
)

__all__ = [
    "AggregateError",
    "AggregateResult",
    "AggregateStats",
    "CleanError",
    "CleanResult",
    "CleanStats",
    "DedupResult",
    "aggregate",
    "clean_table",
    "exact_dedup",
]
