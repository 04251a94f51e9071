"""Source paths: resolved under one configured root, never outside it.

A pipeline spec names files relative to a data root (a local folder in development,
``s3://bucket/prefix`` in production). Everything here goes through universal-pathlib and the
root's fsspec filesystem, so the same code lists a local folder and an S3 prefix.

The root is a trust boundary: a spec (or a partition key pasted into a path) must not read
``/etc/passwd`` or ``../other-team/``. Escapes are refused in two steps, both before any file is
opened:

- lexically (:func:`check_source_path`, :func:`resolve_under`): absolute paths, ``~``, another
  URL scheme, and ``..`` that climbs out of the root. ``etl-assets validate`` runs the very same
  check on every source path, so validation and a run can never disagree;
- physically, on local roots (:func:`expand_source_paths`): every file a path, glob or folder
  expands to must resolve (symbolic links followed) to a place inside the root's own resolved
  location. A link in a landing folder pointing at ``/etc/passwd`` is refused by its name;
  its target is never opened, so no byte of it can reach a table or a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from upath import UPath

__all__ = [
    "PathOutsideRootError",
    "SourceFileNotFoundError",
    "check_source_path",
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


def _normalized_parts(relative: str, where: str, shown: str | None = None) -> list[str]:
    """``relative`` split into components with ``.`` and ``..`` applied, refusing escapes.

    ``where`` names the root in messages (``the data root '/data'``); ``shown`` is the path as
    the user wrote it, when ``relative`` is a rewritten form of it (a template's sample key).
    """
    shown = relative if shown is None else shown
    if relative.startswith(("/", "\\", "~")) or _DRIVE_OR_URL.match(relative):
        raise PathOutsideRootError(
            f"path {shown!r} is absolute; source paths must be relative to {where}"
        )
    parts: list[str] = []
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathOutsideRootError(f"path {shown!r} climbs out of {where} with '..'")
            parts.pop()
            continue
        parts.append(part)
    return parts


#: Stands in for a partition key when a ``{partition}`` template is checked without a key.
_SAMPLE_KEY = "partition-key"


def check_source_path(path: str, root_label: str = "the data root") -> None:
    """Refuse a spec's source path (or ``{partition}`` template) that a run would refuse.

    The same lexical rules as :func:`resolve_under`: a relative path must stay under the root,
    a URL path (``s3://bucket/...``) under its bucket. ``{partition}`` is checked with a sample
    key in its place (keys themselves never hold ``/`` or ``..``, see ``read_source``).
    Raises :class:`PathOutsideRootError`.
    """
    template = path.replace("{partition}", _SAMPLE_KEY)
    url = split_url(template)
    if url is not None:
        _normalized_parts(url[1], f"its bucket {url[0]!r}", shown=path)
        return
    _normalized_parts(template, root_label, shown=path)


def resolve_under(root: str | os.PathLike[str] | UPath, relative: str) -> UPath:
    """``root / relative``, refusing absolute paths and ``..`` that leaves the root.

    ``relative`` may be empty (the root itself) and may contain glob characters, which are
    kept as they are (see :func:`expand_source_paths`).
    """
    base = resolve_root(root)
    parts = _normalized_parts(os.fspath(relative), f"the data root {str(base)!r}")
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
    """Names of the files in an fsspec listing, symbolic links to files included.

    fsspec's local listing types a link as ``other``; a link to a file is kept so that
    :func:`_refuse_links_out_of_root` can refuse it by name when it leads out of the root
    (skipping it silently would hide the problem, and a link inside the root is legitimate).
    """
    entries = listing.values() if isinstance(listing, dict) else listing
    return [
        str(info["name"])
        for info in entries
        if info.get("type") == "file" or (info.get("islink") and os.path.isfile(str(info["name"])))
    ]


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


def _refuse_links_out_of_root(base: UPath, pattern: str, paths: list[UPath]) -> list[UPath]:
    """``paths`` unchanged when each resolves (links followed) inside the local root.

    Object stores have no links; their keys were already checked lexically. The error names
    the file as found under the root and the pattern, never the link's target nor its content.
    """
    if not is_local(base):
        return paths
    real_root = os.path.realpath(base.path)
    for path in paths:
        real = os.path.realpath(path.path)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise PathOutsideRootError(
                f"source file {path.path!r} (matched by path {pattern!r}) is a symbolic link, or lies "
                f"in a linked folder, that leads outside the data root {str(base)!r}; refused "
                "without reading it"
            )
    return paths


def expand_source_paths(root: str | os.PathLike[str] | UPath, pattern: str) -> list[UPath]:
    """Files a source path names, sorted by path.

    ``pattern`` is a single file, a glob (``*``, ``?``, ``[...]``, ``**`` for any depth) or a
    folder (every file directly in it). Hidden files (a name starting with ``.``) are skipped in
    folders and globs, unless the pattern's last component itself starts with ``.``: editors and
    sync tools drop such files next to real data.

    Raises :class:`PathOutsideRootError` for a path outside the root (also one that gets there
    through a symbolic link, see the module docstring) and :class:`SourceFileNotFoundError`
    when nothing matches.
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
        found = sorted((_rebuild(base, base.path, name) for name in names), key=lambda p: p.path)
        return _refuse_links_out_of_root(base, pattern, found)

    if fs.isfile(target_path):
        return _refuse_links_out_of_root(base, pattern, [target])
    if fs.isdir(target_path):
        names = _files_only(fs.ls(target_path, detail=True))
        names = [name for name in names if not _is_hidden(name)]
        if not names:
            raise SourceFileNotFoundError(
                f"folder {str(target)!r} (source path {pattern!r} under the data root {str(base)!r}) has no files"
            )
        found = sorted((_rebuild(base, base.path, name) for name in names), key=lambda p: p.path)
        return _refuse_links_out_of_root(base, pattern, found)
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
