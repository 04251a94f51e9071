"""``etl_assets.PipelineComponent`` loaded by Dagster's component tree, in process.

A throwaway dg project (pyproject ``[tool.dg]`` + a package with ``defs/``) holds two
components: one pointing at a spec file, one with its spec inline. Both must load into one
code location (they share resources by key), and a bad ``defs.yaml`` must say what is wrong.
"""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from dagster import AssetKey, ComponentTree, DagsterInstance

from etl_assets_tests.conftest import SHOP_SPEC

PYPROJECT = """
[project]
name = "{package}"
version = "0.0.0"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{package}"
"""

INLINE = """
type: etl_assets.PipelineComponent
attributes:
  data_root: landing_root
  pipeline:
    pipeline: notes
    sources:
      notes: {format: csv, path: notes.csv}
    clean:
      notes:
        from: notes
        columns:
          id: {type: int, required: true}
          text: {type: string}
"""


def make_project(
    root: Path, components: dict[str, str], files: dict[str, str] | None = None
) -> Path:
    """A dg project under ``root`` whose defs/<name>/defs.yaml are ``components``."""
    package = f"proj_{uuid.uuid4().hex[:8]}"  # fresh module name: no import cache between tests
    (root / "pyproject.toml").write_text(PYPROJECT.format(package=package))
    defs = root / package / "defs"
    defs.mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (defs / "__init__.py").write_text("")
    for name, text in components.items():
        (defs / name).mkdir()
        (defs / name / "defs.yaml").write_text(textwrap.dedent(text))
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / package


@pytest.fixture
def project_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [k for k in os.environ if k.startswith("ETL_ASSETS_")]:
        monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("proj_")]:
        del sys.modules[name]


def test_spec_file_and_inline_spec_load_into_one_location(project_path: Path) -> None:
    package = make_project(
        project_path,
        {
            "shop": "type: etl_assets.PipelineComponent\nattributes:\n  spec: shop.yaml\n",
            "notes": INLINE,
        },
    )
    (package / "defs" / "shop" / "shop.yaml").write_text(SHOP_SPEC)
    # the inline component stores under its own data root: both must agree, so give shop the same
    (package / "defs" / "shop" / "defs.yaml").write_text(
        "type: etl_assets.PipelineComponent\nattributes:\n  spec: shop.yaml\n  data_root: landing_root\n"
    )
    defs = ComponentTree.for_project(path_within_project=package).build_defs()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "shop/raw/orders",
        "shop/clean/orders",
        "shop/agg/all_time",
        "notes/raw/notes",
        "notes/clean/notes",
    } <= keys
    assert {job.name for job in defs.jobs or []} >= {"shop_job", "notes_job"}
    assert [s.name for s in defs.schedules or []] == ["shop_schedule"]
    assert defs.resources is not None
    assert str(defs.resources["source_files"].root) == str(project_path / "landing_root")

    (project_path / "landing_root").mkdir()
    (project_path / "landing_root" / "notes.csv").write_text("id,text\n1,a\nx,b\n")
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("notes_job").execute_in_process(instance=instance)
        assert result.success
        clean = defs.load_asset_value(AssetKey(["notes", "clean", "notes"]), instance=instance)
        rejected = defs.load_asset_value(
            AssetKey(["notes", "rejected", "notes"]), instance=instance
        )
    assert clean["id"].tolist() == [1]
    assert rejected["_source_row"].tolist() == [2]
    assert (
        project_path / "landing_root" / "warehouse" / "notes" / "clean" / "notes.parquet"
    ).exists()


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("{}", "give either 'spec' (a file) or 'pipeline' (inline), not both"),
        ("{spec: missing.yaml}", "missing.yaml: (top level): file not found"),
        (
            "{pipeline: {pipeline: p, sources: {a: {format: xls, path: a.xls}}}}",
            "attributes.pipeline.sources.a.format: expected one of",
        ),
    ],
    ids=["neither", "missing-file", "bad-inline"],
)
def test_bad_defs_yaml_names_the_problem(
    project_path: Path, attributes: str, expected: str
) -> None:
    package = make_project(
        project_path, {"p": f"type: etl_assets.PipelineComponent\nattributes: {attributes}\n"}
    )
    with pytest.raises(Exception) as raised:
        ComponentTree.for_project(path_within_project=package).build_defs()
    chain, error = [], raised.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__
    assert any(expected in text for text in chain), chain


def test_post_processing_changes_generated_assets_without_code(project_path: Path) -> None:
    """Dagster's own ``post_processing`` block (the README's example) applies to our assets."""
    component = (
        INLINE
        + "post_processing:\n  assets:\n    - target: '*'\n      attributes: {group_name: sales, tags: {team: finance}}\n"
    )
    package = make_project(project_path, {"notes": component})
    defs = ComponentTree.for_project(path_within_project=package).build_defs()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == {"notes/raw/notes", "notes/clean/notes", "notes/rejected/notes"}
    assert {spec.group_name for spec in specs.values()} == {"sales"}
    assert all(spec.tags.get("team") == "finance" for spec in specs.values())
