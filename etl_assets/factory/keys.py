"""Asset keys of generated assets: ``[pipeline, layer, table]``."""

from __future__ import annotations

from dagster import AssetKey

RAW, CLEAN, REJECTED, AGG = "raw", "clean", "rejected", "agg"


def raw_key(pipeline: str, name: str) -> AssetKey:
    return AssetKey([pipeline, RAW, name])


def clean_key(pipeline: str, name: str) -> AssetKey:
    return AssetKey([pipeline, CLEAN, name])


def rejected_key(pipeline: str, name: str) -> AssetKey:
    return AssetKey([pipeline, REJECTED, name])


def agg_key(pipeline: str, name: str) -> AssetKey:
    return AssetKey([pipeline, AGG, name])


EXPORT = "export"


def export_key(pipeline: str, name: str) -> AssetKey:
    return AssetKey([pipeline, EXPORT, name])


DUPLICATES = "duplicates"


def duplicates_key(pipeline: str, name: str) -> AssetKey:
    """Rows removed by normalised or fuzzy dedup of clean table ``name``."""
    return AssetKey([pipeline, DUPLICATES, name])
