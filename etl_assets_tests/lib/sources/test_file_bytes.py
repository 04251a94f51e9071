"""How a reader gets a file's bytes: large local plain files mapped, the rest copied, and a
file that changes while it is read is an error, not a mix of two versions."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest
from upath import UPath

from etl_assets.lib.sources import SourceReadError, files, read_source
from etl_assets.lib.sources.files import SourceFile
from etl_assets_tests.lib.sources.conftest import Writer, make_spec


def _source_file(path: Path, compression: files.Compression = "none") -> SourceFile:
    return SourceFile(UPath(path), path.name, compression)


def _csv(rows: int) -> str:
    return "id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, rows + 1))


def test_a_large_local_file_is_mapped_and_reads_the_same(write: Writer, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write("big.csv", _csv(2000))
    monkeypatch.setattr(files, "MAP_AT_BYTES", path.stat().st_size)
    with _source_file(path).mapped() as view:
        assert isinstance(view, mmap.mmap)
        assert view[:] == path.read_bytes()
    mapped = read_source(make_spec(format="csv", path="big.csv"), root, name="src")
    monkeypatch.setattr(files, "MAP_AT_BYTES", path.stat().st_size + 1)
    with _source_file(path).mapped() as view:
        assert isinstance(view, bytes)
    copied = read_source(make_spec(format="csv", path="big.csv"), root, name="src")
    assert mapped.equals(copied)
    assert mapped["id"].tolist()[-1] == "2000"


def test_compressed_and_empty_files_are_copied(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAP_AT_BYTES", 0)
    packed = write("big.csv.gz", _csv(10))
    with _source_file(packed, "gzip").mapped() as view:
        assert view == _csv(10).encode()
    empty = write("empty.csv", "")
    with _source_file(empty).mapped() as view:
        assert view == b""


def test_a_file_changed_while_it_is_read_is_an_error(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAP_AT_BYTES", 1)
    path = write("landing.csv", _csv(100))
    with pytest.raises(SourceReadError, match=r"landing.csv: the file changed while it was read"), _source_file(path).mapped() as view:
        assert view[:2] == b"id"
        with path.open("ab") as more:  # an upstream job still appending
            more.write(b"101,name 101\n")


def test_a_rewrite_of_the_same_size_is_an_error_too(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAP_AT_BYTES", 1)
    path = write("landing.csv", _csv(100))
    stat = path.stat()
    with pytest.raises(SourceReadError, match="changed while it was read"), _source_file(path).mapped():
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_an_error_inside_the_read_is_not_masked(write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAP_AT_BYTES", 1)
    path = write("landing.csv", _csv(10))
    with pytest.raises(KeyError), _source_file(path).mapped():
        raise KeyError("from the reader")


def test_a_file_renamed_over_the_path_during_the_read_is_not_a_change(write: Writer, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Landing by rename replaces the path's file; the one being read is unchanged."""
    monkeypatch.setattr(files, "MAP_AT_BYTES", 1)
    path = write("landing.csv", _csv(100))
    with _source_file(path).mapped() as view:
        fresh = write(".landing.csv.tmp", _csv(200))
        os.replace(fresh, path)
        assert view[:] == _csv(100).encode()
