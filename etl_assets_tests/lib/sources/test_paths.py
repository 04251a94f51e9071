"""Source paths resolve under the data root and expand to files in path order."""

from __future__ import annotations

import uuid

import pytest
from upath import UPath

from etl_assets.lib.paths import (
    PathOutsideRootError,
    SourceFileNotFoundError,
    expand_source_paths,
    relative_to_root,
    resolve_under,
)
from etl_assets.lib.sources import read_source
from etl_assets_tests.lib.sources.conftest import make_spec


def test_resolve_under_joins_and_normalises(tmp_path):
    assert resolve_under(tmp_path, "") == UPath(tmp_path)
    assert resolve_under(tmp_path, "a/./b/../c.csv") == UPath(tmp_path / "a" / "c.csv")


@pytest.mark.parametrize(
    "relative", ["../x.csv", "a/../../x.csv", "/etc/passwd", "s3://other/x.csv"]
)
def test_resolve_under_refuses_escapes_naming_path_and_root(tmp_path, relative):
    with pytest.raises(PathOutsideRootError) as caught:
        resolve_under(tmp_path, relative)
    assert repr(relative) in str(caught.value)
    assert str(tmp_path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_expand_single_file_glob_and_folder(tmp_path):
    for name in ["l/b.csv", "l/a.csv", "l/.hidden.csv", "l/sub/c.csv", "l/a.json"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    def names(pattern: str) -> list[str]:
        return [relative_to_root(tmp_path, path) for path in expand_source_paths(tmp_path, pattern)]

    assert names("l/a.csv") == ["l/a.csv"]
    assert names("l/*.csv") == ["l/a.csv", "l/b.csv"]
    assert names("l/?.csv") == ["l/a.csv", "l/b.csv"]
    assert names("l/**/*.csv") == ["l/a.csv", "l/b.csv", "l/sub/c.csv"]
    assert names("l") == ["l/a.csv", "l/a.json", "l/b.csv"]
    assert names("l/.hidden.csv") == ["l/.hidden.csv"]


def test_expand_nothing_matches_names_resolved_path_and_root(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceFileNotFoundError, match=r"no file matches 'x/\*\.csv'") as caught:
        expand_source_paths(tmp_path, "x/*.csv")
    assert str(tmp_path / "x") in str(caught.value)
    with pytest.raises(SourceFileNotFoundError, match="has no files"):
        expand_source_paths(tmp_path, "empty")
    with pytest.raises(SourceFileNotFoundError, match="does not exist"):
        expand_source_paths(tmp_path, "missing.csv")


def test_relative_local_root_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id\n1\n")
    monkeypatch.chdir(tmp_path)
    assert [relative_to_root("data", path) for path in expand_source_paths("data", "*.csv")] == [
        "a.csv"
    ]


@pytest.fixture
def memory_root():
    """An fsspec in-memory root: the non-local code path that S3 roots take."""
    root = UPath(f"memory:///sources-{uuid.uuid4().hex}")
    root.mkdir(parents=True)
    yield root
    root.fs.rm(root.path, recursive=True)


def test_sources_read_through_fsspec(memory_root):
    (memory_root / "l").mkdir()
    (memory_root / "l" / "a.csv").write_bytes(b"id,zip\n1,01234\n2\n")
    (memory_root / "l" / "b.csv").write_bytes(b"id,zip\n3,x\n")
    (memory_root / "l" / "c.jsonl").write_bytes(b'{"id": 4}\n')
    frame = read_source(make_spec(format="csv", path="l/*.csv"), str(memory_root), name="m")
    assert frame["zip"].tolist()[0] == "01234"
    assert frame["_source_file"].tolist() == ["l/a.csv", "l/a.csv", "l/b.csv"]
    assert frame["_parse_error"].tolist()[1] == "expected 2 fields, found 1: 2"
    jsonl = read_source(make_spec(format="jsonl", path="l/c.jsonl"), str(memory_root), name="m")
    assert jsonl["id"].tolist() == [4]
