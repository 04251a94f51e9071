"""The repo's code location through Dagster's own commands, as CI runs them: valid and quiet.

``dagster definitions validate`` and ``dg check defs`` load ``etl_assets.definitions`` (the
pipelines through ``etl_assets.PipelineComponent``). Nothing may print a warning: a warning on
every command trains users to ignore them. The one line allowed is Dagster's own notice that the
``dagster definitions validate`` command itself is superseded by ``dg check defs``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
#: Dagster's notice about the command itself (not about anything it loads).
COMMAND_SUPERSEDED = re.compile(
    r"SupersessionWarning: Function `definitions_validate_command` is superseded"
)


def warning_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    flagged = []
    for i, line in enumerate(lines):
        # Python warnings (``BetaWarning: ...``) and Dagster's logged ``WARNING`` lines alike
        if re.search(
            r"(?i)\bwarning\b|Warning:|warnings\.warn", line
        ) and not COMMAND_SUPERSEDED.search(line):
            flagged.append(line)
        elif COMMAND_SUPERSEDED.search(line) and i + 1 < len(lines):
            lines[i + 1] = ""  # the source line Python prints under a warning
    return flagged


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "dagster.yaml").write_text(
        "telemetry: {enabled: false}\n"
    )  # an instance, not a fallback
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_")}
    env.update(
        {
            "ETL_ASSETS_DATA_ROOT": str(tmp_path),
            "DAGSTER_HOME": str(tmp_path),
            "PYTHONPATH": str(PROJECT_ROOT),
            # the commands run from this venv, as after `source .venv/bin/activate` (else dg
            # rightly warns that the project's .venv is not the activated one)
            "VIRTUAL_ENV": sys.prefix,
        }
    )
    return subprocess.run(
        args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize(
    ("command", "success"),
    [
        (
            ["dagster", "definitions", "validate", "-w", "workspace.yaml"],
            "All code locations passed validation.",
        ),
        (["dg", "check", "defs"], "All definitions loaded successfully."),
    ],
    ids=["dagster-definitions-validate", "dg-check-defs"],
)
def test_code_location_validates_without_warnings(
    tmp_path: Path, command: list[str], success: str
) -> None:
    result = run([str(BIN / command[0]), *command[1:]], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert success in result.stdout + result.stderr
    assert warning_lines(result.stderr) == []


def test_dg_list_defs_shows_the_pipelines_loaded_through_the_component(tmp_path: Path) -> None:
    result = run([str(BIN / "dg"), "list", "defs", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"flights/clean/flights"' in result.stdout and '"customers/raw/crm"' in result.stdout
    assert warning_lines(result.stderr) == []


def test_warning_lines_catches_a_warning() -> None:
    text = "/x/etl_assets/a.py:3: BetaWarning: Parameter `x` is in beta\n  warnings.warn(...)\n"
    assert warning_lines(text) != []
    assert (
        warning_lines("2026-12-04 18:13:02 +0000 - dagster - WARNING - The code location name")
        != []
    )
    superseded = "core.py:911: SupersessionWarning: Function `definitions_validate_command` is superseded\n  return callback()\n"
    assert warning_lines(superseded) == []
