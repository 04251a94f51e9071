"""Schema mapping: propose, apply and record source -> target column mappings."""

from etl_assets.lib.mapping.apply import MappingOutcome, expected_columns, map_columns
from etl_assets.lib.mapping.names import canonical, name_similarity, tokens
from etl_assets.lib.mapping.propose import Proposal, propose_mapping
from etl_assets.lib.mapping.sidecar import read_sidecar, sidecar_path, write_sidecar

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
