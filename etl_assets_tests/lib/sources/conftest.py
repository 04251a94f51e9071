"""Helpers for source tests: write real files under a temporary data root, build specs."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl_assets.lib.sources import csv as csv_reader
from etl_assets.lib.sources import files
from etl_assets.lib.spec import SourceSpec

Writer = Callable[[str, bytes | str], Path]


def make_spec(**fields: Any) -> SourceSpec:
    """A SourceSpec from YAML-like fields (``json`` for JSON options, as in a pipeline file)."""
    return SourceSpec.model_validate(fields)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return data


@pytest.fixture
def write(root: Path) -> Writer:
    """Write ``content`` at ``relative`` under the data root (text is written as UTF-8)."""

    def _write(relative: str, content: bytes | str) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        if relative.endswith(".gz"):
            data = gzip.compress(data)
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def write_zip(root: Path) -> Callable[[str, dict[str, str]], Path]:
    """A zip archive at ``relative`` with the given members, in the given order."""

    def _write(relative: str, members: dict[str, str]) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as archive:
            for name, text in members.items():
                archive.writestr(name, text)
        return path

    return _write


@pytest.fixture(params=["copied", "mapped", "pieces"])
def file_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a CSV test three times: files copied into memory; every local plain file mapped (the
    threshold lowered to one byte, so small test files take the large files' path); and mapped
    with every body of two bytes or more parsed in pieces on two threads (as bodies of 128 MiB
    or more are)."""
    if request.param in ("mapped", "pieces"):
        monkeypatch.setattr(files, "MAP_AT_BYTES", 1)
    if request.param == "pieces":
        monkeypatch.setattr(csv_reader, "_CUT_FROM", 2)
        monkeypatch.setattr(csv_reader, "_workers", lambda: 2)
    return str(request.param)
