"""Where a table lives, and which path segments are allowed there.

Asset key parts become folder and file names under the manager's ``base_path``, so a part like
``..`` or ``a/b`` could escape the root or collide with another asset. They are refused (not
escaped) so the problem is visible where the asset is defined. Partition keys are more varied
(static partitions may hold spaces; multi-partition keys are joined with ``/`` by Dagster), so
they are refused only when a segment could climb out of the asset's folder or is unprintable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from upath import UPath

SAFE_KEY_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")
_UNSAFE_PARTITION_CHARS = re.compile(r"[\x00-\x1f\\]")

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
# Object stores where one PUT either fully replaces an object or does nothing: no temp + rename.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})


class UnsafePathError(ValueError):
    """An asset key part or partition key that cannot safely become a path segment."""


def check_asset_key_parts(parts: Iterable[str], shown_as: str) -> list[str]:
    """Return ``parts`` when each is a safe file name: letters, digits, ``_``, ``-``, ``.``.

    ``shown_as`` is the asset key as the user wrote it, for the error message.
    """
    checked = list(parts)
    for part in checked:
        if not SAFE_KEY_PART.match(part) or ".." in part or part == ".":
            raise UnsafePathError(
                f"asset key part {part!r} of {shown_as} is not safe as a path segment: use letters, "
                "digits, '_', '-' and '.' (but not '..')"
            )
    return checked


def check_partition_key(key: str) -> str:
    """Return ``key`` when each ``/``-separated segment is a plain, non-empty file name."""
    segments = key.split("/")
    if any(s in ("", ".", "..") for s in segments) or _UNSAFE_PARTITION_CHARS.search(key):
        raise UnsafePathError(
            f"partition key {key!r} is not safe as a file name (empty, '.' or '..' segment, "
            "backslash or control character)"
        )
    return key


def is_local(path: UPath) -> bool:
    return path.protocol in LOCAL_PROTOCOLS


def local_name(path: UPath) -> str | None:
    """A plain OS file name for local paths (Arrow's native file IO beats a Python file object)."""
    return path.path if is_local(path) else None


def has_atomic_put(path: UPath) -> bool:
    return path.protocol in ATOMIC_PUT_PROTOCOLS
