"""Loading the code location stays cheap and quiet: every command, run worker and step process
imports ``etl_assets.definitions``, so what it imports and prints is paid and seen every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl_assets_tests.conftest import PROJECT_ROOT

#: Libraries only some steps need; they load when a step uses them (see README "Performance").
STEP_ONLY = (
    "sklearn",
    "torch",
    "sentence_transformers",
    "scipy",
    "pandera",
    "psycopg",
    "rapidfuzz",
    "boto3",
    "dagster_aws",
)

PROBE = """
import json, sys
import etl_assets.definitions
print(json.dumps(sorted(name for name in {modules!r} if name in sys.modules)))
"""


def _python(args: list[str], tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_")}
    env.update({"ETL_ASSETS_DATA_ROOT": str(tmp_path), "DAGSTER_HOME": str(tmp_path), **extra_env})
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_definitions_import_leaves_step_libraries_unloaded(tmp_path: Path) -> None:
    result = _python(["-c", PROBE.format(modules=STEP_ONLY)], tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], (
        f"importing etl_assets.definitions loaded {loaded}: import them in the step that uses them"
    )


@pytest.mark.parametrize("alerts", [False, True], ids=["plain", "with-alert-sensors"])
def test_definitions_import_prints_no_warning(tmp_path: Path, alerts: bool) -> None:
    extra = {"ETL_ASSETS_ALERT_WEBHOOK": "http://127.0.0.1:9/hook"} if alerts else {}
    result = _python(["-W", "error", "-c", "import etl_assets.definitions"], tmp_path, **extra)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""


def test_relative_pipelines_folder_means_the_current_directory(tmp_path: Path) -> None:
    """defs.yaml would read a relative folder from its own directory; the setting means cwd."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "customers.yaml").write_text(
        (PROJECT_ROOT / "pipelines" / "customers.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    probe = (
        "import os, etl_assets.definitions as d; "
        "print(os.environ['ETL_ASSETS_PIPELINES']); "
        "print(sorted({k.path[0] for k in d.defs.resolve_all_asset_keys()}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_")}
    env.update(
        ETL_ASSETS_DATA_ROOT=str(tmp_path), DAGSTER_HOME=str(tmp_path), ETL_ASSETS_PIPELINES="specs",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    folder, pipelines = result.stdout.strip().splitlines()[-2:]
    assert folder == str((tmp_path / "specs").resolve()) and pipelines == "['customers']"
