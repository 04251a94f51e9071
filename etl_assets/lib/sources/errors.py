"""Errors raised while reading sources.

Every error derives from :class:`SourceError` (a ``ValueError``) so callers can catch "this source
cannot be read" in one place. Errors about one file are :class:`SourceReadError`: the message
starts with the file (relative to the data root) and the row or line when known, so the first
words of a failed run tell the user which file to open and where.
"""

from __future__ import annotations

from etl_assets.lib.paths import PathOutsideRootError, SourceFileNotFoundError


class SourceError(ValueError):
    """A source cannot be read as declared."""


class SourceReadError(SourceError):
    """One file cannot be read.

    Attributes:
        file: the file relative to the data root (``archive.zip!member.csv`` for a zip member).
        row: the record (CSV: data record, 1 = first after the header; JSON: element of the
            list; JSON Lines and text: line) when known.
        line: the physical line, when known and not already given as ``row``.
        column: the data column concerned, when known.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.line = line
        self.column = column
        self.detail = message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        elif line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class SourceNotFoundError(SourceError, SourceFileNotFoundError):
    """No file matches the source's path (also a ``FileNotFoundError``)."""


class PartitionFileNotFoundError(SourceNotFoundError):
    """The file of one partition key is missing."""

    def __init__(self, message: str, *, partition_key: str, path: str) -> None:
        self.partition_key = partition_key
        self.path = path
        super().__init__(message)


class SourcePathError(SourceError, PathOutsideRootError):
    """The source's path is absolute or leaves the data root (also a ``PathOutsideRootError``)."""
