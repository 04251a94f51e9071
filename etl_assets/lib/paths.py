"""Source paths: resolved under one configured root, never outside it.

A pipeline spec names files relative to a data root (a local folder in development,
``s3://bucket/prefix`` in production). Everything here goes through universal-pathlib and the
root's fsspec filesystem, so the same code lists a local folder and an S3 prefix.

The root is a trust boundary: a spec (or a partition key pasted into a path) must not read
``/etc/passwd`` or ``../other-team/``. Escapes are refused lexically, before any filesystem call;
symbolic links inside the root are followed as the filesystem does (the root's owner controls them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from upath import UPath

__all__ = [
    "PathOutsideRootError",
    "SourceFileNotFoundError",
    "expand_source_paths",
    "is_local",
    "relative_to_root",
    "resolve_root",
    "resolve_under",
    "split_url",
]

_LOCAL_PROTOCOLS = ("", "file", "local")
_GLOB_CHARS = re.compile(r"[*?\[]")
# "C:" or "C:\..." (a Windows drive) and "s3://..." (another filesystem) are absolute too.
_DRIVE_OR_URL = re.compile(r"^(?:[A-Za-z]:|[A-Za-z][A-Za-z0-9+.-]*://)")


class PathOutsideRootError(ValueError):
    """A path is absolute or climbs out of the data root with ``..``."""


class SourceFileNotFoundError(FileNotFoundError):
    """Nothing matches a source path (file, glob or folder) under the data root."""


def is_local(path: UPath) -> bool:
    """Whether ``path`` is on the local filesystem (then ``path.path`` is an OS path)."""
    return path.protocol in _LOCAL_PROTOCOLS


def resolve_root(root: str | os.PathLike[str] | UPath) -> UPath:
    """The root as a UPath; local roots are made absolute so listings compare as strings."""
    path = root if isinstance(root, UPath) else UPath(root)
    if is_local(path):
        path = UPath(os.path.abspath(path.path))
    return path


def _normalized_parts(relative: str, root: UPath) -> list[str]:
    """``relative`` split into components with ``.`` and ``..`` applied, refusing escapes."""
    if relative.startswith(("/", "\\", "~")) or _DRIVE_OR_URL.match(relative):
        raise PathOutsideRootError(
            f"path {relative!r} is absolute; source paths must be relative to the data root {str(root)!r}"
        )
    parts: list[str] = []
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathOutsideRootError(
                    f"path {relative!r} climbs out of the data root {str(root)!r} with '..'"
                )
            parts.pop()
            continue
        parts.append(part)
    return parts


def resolve_under(root: str | os.PathLike[str] | UPath, relative: str) -> UPath:
    """``root / relative``, refusing absolute paths and ``..`` that leaves the root.

    ``relative`` may be empty (the root itself) and may contain glob characters, which are
    kept as they are (see :func:`expand_source_paths`).
    """
    base = resolve_root(root)
    parts = _normalized_parts(os.fspath(relative), base)
    return base.joinpath(*parts) if parts else base


def relative_to_root(root: str | os.PathLike[str] | UPath, path: UPath) -> str:
    """``path`` relative to ``root`` with ``/`` separators (as written in lineage columns)."""
    base = resolve_root(root).path.rstrip("/")
    text = path.path
    if base and text.startswith(base + "/"):
        return text[len(base) + 1 :]
    if text == base:
        return ""
    return text


def _files_only(listing: dict[str, dict[str, object]] | Iterable[dict[str, object]]) -> list[str]:
    entries = listing.values() if isinstance(listing, dict) else listing
    return [str(info["name"]) for info in entries if info.get("type") == "file"]


def _is_hidden(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith(".")


def _rebuild(base: UPath, base_path: str, found: str) -> UPath:
    """An fsspec listing entry (a bare path without protocol) as a UPath with base's options."""
    found = found.rstrip("/")
    if found == base_path:
        return base
    prefix = base_path.rstrip("/") + "/"
    if not found.startswith(prefix):  # should not happen; keep the filesystem's answer
        return base.joinpath(found)
    return base.joinpath(*found[len(prefix) :].split("/"))


def expand_source_paths(root: str | os.PathLike[str] | UPath, pattern: str) -> list[UPath]:
    """Files a source path names, sorted by path.

    ``pattern`` is a single file, a glob (``*``, ``?``, ``[...]``, ``**`` for any depth) or a
    folder (every file directly in it). Hidden files (a name starting with ``.``) are skipped in
    folders and globs, unless the pattern's last component itself starts with ``.``: editors and
    sync tools drop such files next to real data.

    Raises :class:`PathOutsideRootError` for a path outside the root and
    :class:`SourceFileNotFoundError` when nothing matches.
    """
    base = resolve_root(root)
    target = resolve_under(base, pattern)
    fs = target.fs
    target_path = target.path
    keep_hidden = pattern.rstrip("/").rsplit("/", 1)[-1].startswith(".")

    if _GLOB_CHARS.search(pattern):
        names = _files_only(fs.glob(target_path, detail=True))
        names = [name for name in names if keep_hidden or not _is_hidden(name)]
        if not names:
            raise SourceFileNotFoundError(
                f"no file matches {pattern!r} (looked for {str(target)!r} under the data root {str(base)!r})"
            )
        return sorted((_rebuild(base, base.path, name) for name in names), key=lambda p: p.path)

    if fs.isfile(target_path):
        return [target]
    if fs.isdir(target_path):
        names = _files_only(fs.ls(target_path, detail=True))
        names = [name for name in names if not _is_hidden(name)]
        if not names:
            raise SourceFileNotFoundError(
                f"folder {str(target)!r} (source path {pattern!r} under the data root {str(base)!r}) has no files"
            )
        return sorted((_rebuild(base, base.path, name) for name in names), key=lambda p: p.path)
    raise SourceFileNotFoundError(
        f"source file {str(target)!r} does not exist (path {pattern!r} under the data root {str(base)!r})"
    )


_URL = re.compile(r"^(?P<root>[A-Za-z][A-Za-z0-9+.-]*://[^/]+)/?(?P<rest>.*)$")


def split_url(path: str) -> tuple[str, str] | None:
    """``("s3://bucket", "prefix/*.csv")`` for a URL source path, None for a relative one.

    A source may name an object store location directly (``s3://bucket/prefix/...``) instead of
    a path under the data root. The bucket then acts as the root: the rest is resolved under
    it with the same rules (no ``..`` out of it), and listed through the same fsspec code.
    """
    match = _URL.match(path)
    if match is None:
        return None
    return match["root"], match["rest"]
