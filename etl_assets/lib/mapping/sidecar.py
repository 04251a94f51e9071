"""Accepted mappings live in a sidecar file next to the pipeline spec:
``pipelines/mappings/<spec file stem>.yaml`` = ``{table: {source: {source column: target column}}}``.

Kept apart from the spec so ``etl-assets mapping accept`` can write it without rewriting the
hand-written spec (and its comments); the loader merges it into each clean table's
``mapping.accepted`` so the next run uses it.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def sidecar_path(spec_file: str | Path) -> Path:
    spec_file = Path(spec_file)
    return spec_file.parent / "mappings" / f"{spec_file.stem}.yaml"


def read_sidecar(spec_file: str | Path) -> dict[str, dict[str, dict[str, str]]]:
    path = sidecar_path(spec_file)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(
        isinstance(sources, dict) and all(isinstance(cols, dict) for cols in sources.values()) for sources in data.values()
    ):
        raise ValueError(f"{path}: expected {{table: {{source: {{source column: target column}}}}}}")
    return {str(t): {str(s): {str(k): str(v) for k, v in cols.items()} for s, cols in srcs.items()} for t, srcs in data.items()}


def write_sidecar(spec_file: str | Path, table: str, source: str, mapping: dict[str, str]) -> Path:
    """Merge ``mapping`` (source column -> target) for ``table``/``source`` into the sidecar."""
    data = read_sidecar(spec_file)
    data.setdefault(table, {}).setdefault(source, {}).update(mapping)
    path = sidecar_path(spec_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Accepted column mappings (etl-assets mapping accept). {table: {source: {source column: target}}}\n"
    path.write_text(header + yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    return path
