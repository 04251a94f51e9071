"""Schema mapping: propose, apply and record source -> target column mappings.

Names are imported on first use (PEP 562): the spec loader reads ``mapping.sidecar`` when
definitions load, and importing a submodule runs this file; proposing (scipy's assignment
solver, rapidfuzz) loads only when a step or ``etl-assets mapping accept`` maps columns.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_assets.lib.mapping.apply import MappingOutcome, expected_columns, map_columns
    from etl_assets.lib.mapping.names import canonical, name_similarity, tokens
    from etl_assets.lib.mapping.propose import Proposal, propose_mapping
    from etl_assets.lib.mapping.sidecar import read_sidecar, sidecar_path, write_sidecar

_EXPORTS = {
    "MappingOutcome": "apply",
    "expected_columns": "apply",
    "map_columns": "apply",
    "canonical": "names",
    "name_similarity": "names",
    "tokens": "names",
    "Proposal": "propose",
    "propose_mapping": "propose",
    "read_sidecar": "sidecar",
    "sidecar_path": "sidecar",
    "write_sidecar": "sidecar",
}

__all__ = [
    "MappingOutcome",
    "Proposal",
    "canonical",
    "expected_columns",
    "map_columns",
    "name_similarity",
    "propose_mapping",
    "read_sidecar",
    "sidecar_path",
    "tokens",
    "write_sidecar",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
