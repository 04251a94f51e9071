"""The data root is a trust boundary: the spec check, the run and the landing sensor refuse
the same paths, and symbolic links out of the root are refused before anything is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_assets.factory.file_versions import landed_files
from etl_assets.lib.paths import (
    PathOutsideRootError,
    check_source_path,
    expand_source_paths,
    resolve_under,
)
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.sources import read_source
from etl_assets.lib.sources.errors import SourcePathError
from etl_assets.lib.spec import SpecError, parse_spec
from etl_assets_tests.lib.sources.conftest import make_spec

SECRET = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file and a folder next to (not under) the data root, like /etc/passwd and /etc."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "passwd.csv").write_text(SECRET + "\ndaemon:x:1:1\n")
    return folder


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "good.csv").write_text("id\n1\n")
    return root


def _refused(root: Path, path: str) -> str:
    with pytest.raises(SourcePathError) as caught:
        read_source(make_spec(format="csv", path=path), root, name="s")
    message = str(caught.value)
    assert "SECRET" not in message and "daemon" not in message  # the target is never read
    return message


def test_file_link_out_of_the_root_is_refused_by_name(data_root: Path, outside: Path) -> None:
    (data_root / "landing" / "users.csv").symlink_to(outside / "passwd.csv")
    for path in ("landing/users.csv", "landing/*.csv", "landing", "**/*.csv"):
        message = _refused(data_root, path)
        assert str(data_root / "landing" / "users.csv") in message, message
        assert "outside the data root" in message
        assert str(outside) not in message  # nor where the link leads


def test_linked_folder_out_of_the_root_is_refused(data_root: Path, outside: Path) -> None:
    (data_root / "etc").symlink_to(outside, target_is_directory=True)
    for path in ("etc/passwd.csv", "etc/*.csv", "etc"):
        assert str(data_root / "etc" / "passwd.csv") in _refused(data_root, path)


def test_links_that_stay_inside_the_root_are_followed(data_root: Path, tmp_path: Path) -> None:
    (data_root / "landing" / "alias.csv").symlink_to(data_root / "landing" / "good.csv")
    frame = read_source(make_spec(format="csv", path="landing/*.csv"), data_root, name="s")
    assert frame["id"].tolist() == ["1", "1"]  # raw: text kept as text
    # a root that is itself a link (a mounted volume, /tmp on macOS) is fine too
    (tmp_path / "root-link").symlink_to(data_root, target_is_directory=True)
    frame = read_source(
        make_spec(format="csv", path="landing/good.csv"), tmp_path / "root-link", name="s"
    )
    assert frame["id"].tolist() == ["1"]


def test_landing_sensor_listing_refuses_links_out_of_the_root(
    data_root: Path, outside: Path
) -> None:
    source = make_spec(format="csv", path="landing/*.csv")
    files = SourceFiles(root=str(data_root))
    assert [f.path for f in landed_files(source, files, None)] == ["landing/good.csv"]
    (data_root / "landing" / "users.csv").symlink_to(outside / "passwd.csv")
    with pytest.raises(PathOutsideRootError, match=r"users\.csv") as caught:
        landed_files(source, files, None)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "~/.ssh/id_rsa",
        "landing/../../x.csv",
        "s3://bucket/../other/x.csv",
        "C:/data/x.csv",
        "landing/{partition}/../../../x.csv",
    ],
)
def test_spec_refuses_what_a_run_refuses_at_the_path_line(path: str) -> None:
    partitioned = "{partition}" in path
    text = (
        "pipeline: shop\n"
        + ("partitions: {type: daily, start: '2024-01-01'}\n" if partitioned else "")
        + "sources:\n"
        "  orders:\n"
        "    format: csv\n"
        f"    path: '{path}'\n" + ("    partitioned: true\n" if partitioned else "")
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    (issue,) = caught.value.issues
    assert issue.field == "sources.orders.path"
    assert issue.line == text.splitlines().index(f"    path: '{path}'") + 1
    assert repr(path) in issue.message and "a run would refuse it" in issue.message


_segment = st.sampled_from(["a", "b.csv", "..", ".", "", "*.csv", "{partition}", "~", "/"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_segment, min_size=1, max_size=6).map("/".join))
def test_spec_check_and_run_agree(path: str) -> None:
    """check_source_path (validate) refuses exactly what resolve_under (the run) refuses."""
    key = "2024-01-01"
    try:
        resolve_under("/data", path.replace("{partition}", key))
        run_refuses = False
    except PathOutsideRootError:
        run_refuses = True
    try:
        check_source_path(path)
        spec_refuses = False
    except PathOutsideRootError:
        spec_refuses = True
    assert spec_refuses == run_refuses, path


def test_expand_refuses_before_listing_outside(data_root: Path) -> None:
    with pytest.raises(PathOutsideRootError, match="climbs out"):
        expand_source_paths(data_root, "../outside/*.csv")
    assert os.path.isdir(data_root)
