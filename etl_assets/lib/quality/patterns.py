"""Pattern anomalies by semantic type, resolved through the semantic-type catalogue.

The catalogue (``etl_assets.lib.quality.semantic``: ``SEMANTIC_TYPES`` and
``valid_mask(values, kind)``) is looked up at call time, so anomaly tagging works without it
as long as no spec asks for pattern anomalies; when one does, the error says what is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from etl_assets.lib.quality.anomaly import PatternRule

SEMANTIC_MODULE = "etl_assets.lib.quality.semantic"


class SemanticCatalogueMissing(RuntimeError):
    """Pattern anomalies were asked for but the semantic-type catalogue is not installed."""


def _catalogue() -> ModuleType | None:
    try:
        return importlib.import_module(SEMANTIC_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != SEMANTIC_MODULE:
            raise
        return None


def known_semantic_kinds() -> list[str] | None:
    """The catalogue's semantic type names, or None when the catalogue is not installed."""
    module = _catalogue()
    return None if module is None else sorted(module.SEMANTIC_TYPES)


def semantic_rule(kind: str) -> PatternRule:
    """A :class:`PatternRule` checking values against semantic type ``kind``."""
    module = _catalogue()
    if module is None:
        raise SemanticCatalogueMissing(
            f"pattern anomalies for semantic type {kind!r} need {SEMANTIC_MODULE} (valid_mask), which is not installed"
        )
    if kind not in module.SEMANTIC_TYPES:
        raise KeyError(f"unknown semantic type {kind!r}; expected one of: {', '.join(sorted(module.SEMANTIC_TYPES))}")
    valid_mask = module.valid_mask
    return PatternRule(validator=lambda values: valid_mask(values, kind), label=kind, pii=bool(getattr(module.SEMANTIC_TYPES[kind], "pii", False)))


def semantic_rules(pattern_columns: Mapping[str, str]) -> dict[str, PatternRule]:
    return {column: semantic_rule(kind) for column, kind in pattern_columns.items()}
