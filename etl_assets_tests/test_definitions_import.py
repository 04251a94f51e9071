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
