"""One readable unit of a source: a file, or one member of a zip archive, decompressed.

Format readers never open paths themselves: they get a :class:`SourceFile` whose ``label`` is
what lineage columns and error messages show and whose ``open*`` methods hide where the bytes
come from (local disk, S3 through fsspec, gzip, zip). Local plain and gzip files are opened by
Arrow itself, so the CSV hot path reads them natively, without Python file objects.
"""

from __future__ import annotations

import codecs
import gzip
import mmap
import os
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from upath import UPath

from etl_assets.lib.paths import is_local
from etl_assets.lib.sources.errors import SourceReadError

Compression = Literal["none", "gzip", "zip"]

#: Lineage columns every source frame carries (and CSV's parse-error column).
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"
PARSE_ERROR_COLUMN = "_parse_error"

_CHUNK = 1 << 20

#: Local plain files at least this large are mapped into memory rather than copied (see
#: :meth:`SourceFile.mapped`); below it a copy costs less than setting up the mapping.
MAP_AT_BYTES = 4 << 20

#: A file's bytes as readers get them: a copy, or the page cache mapped read-only. Both slice
#: to ``bytes``, support ``len``, ``find``/``rfind``, indexing, ``re`` and the buffer protocol
#: (numpy, ``pa.py_buffer``); ``count``, ``startswith`` and ``endswith`` are ``bytes`` only.
FileBytes = bytes | mmap.mmap


def infer_compression(path: UPath, declared: str) -> Compression:
    """``declared`` unless it is ``infer``; then ``.gz``/``.gzip`` mean gzip and ``.zip`` zip."""
    if declared == "gzip" or declared == "zip":
        return declared
    if declared == "none":
        return "none"
    name = path.name.lower()
    if name.endswith((".gz", ".gzip")):
        return "gzip"
    if name.endswith(".zip"):
        return "zip"
    return "none"


def _zip_members(archive: zipfile.ZipFile) -> list[str]:
    """Data members in archive order: no folders, no hidden files, no macOS resource forks."""
    members = []
    for info in archive.infolist():
        name = info.filename
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if info.is_dir() or base.startswith(".") or name.startswith("__MACOSX/"):
            continue
        members.append(name)
    return members


@dataclass(frozen=True)
class SourceFile:
    """A file (or zip member) to read, with the label that lineage and errors show."""

    path: UPath
    label: str
    compression: Compression = "none"
    member: str | None = None

    @contextmanager
    def _open_raw(self) -> Iterator[BinaryIO]:
        with self.path.fs.open(self.path.path, "rb") as handle:
            yield handle

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The decompressed bytes as a Python binary stream."""
        with ExitStack() as stack:
            raw = stack.enter_context(self._open_raw())
            if self.compression == "gzip":
                yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            elif self.compression == "zip":
                archive = stack.enter_context(zipfile.ZipFile(raw))
                yield stack.enter_context(archive.open(self.member or _zip_members(archive)[0]))
            else:
                yield raw

    @contextmanager
    def open_arrow(self) -> Iterator[pa.NativeFile]:
        """The decompressed bytes as an Arrow input stream (native for local files)."""
        if is_local(self.path) and self.compression in ("none", "gzip"):
            compression = "gzip" if self.compression == "gzip" else None
            with pa.input_stream(self.path.path, compression=compression) as stream:
                yield stream
            return
        with self.open() as handle, pa.PythonFile(handle, mode="r") as stream:
            yield stream

    def read_head(self, size: int) -> tuple[bytes, bool]:
        """Up to ``size`` decompressed bytes from the start, and whether that is the whole file."""
        with self.open() as handle:
            head = handle.read(size + 1)
        return head[:size], len(head) <= size

    def read_bytes(self) -> bytes:
        with self.open() as handle:
            return handle.read()

    @contextmanager
    def mapped(self) -> Iterator[FileBytes]:
        """The decompressed bytes, read-only; a large local plain file is mapped, not copied.

        Copying a file into a fresh ``bytes`` makes the kernel fault in and zero every page of
        the copy: ~65 ms of a million-row (110 MB) CSV read, a sixth of it. A mapping shares the
        page cache instead (``MAP_POPULATE`` maps it in one call). The file must not change
        while it is read: a file written to in place (size or modification time changed by the
        end of the ``with`` block) is an error (read it again once it is complete), and one
        truncated in place during the read ends the process with ``SIGBUS`` (as with any
        memory-mapped reader: land files by writing them elsewhere and renaming them into
        place; a file renamed over the path during the read leaves the mapped one as it was).
        """
        if not is_local(self.path) or self.compression != "none":
            yield self.read_bytes()
            return
        with open(self.path.path, "rb") as handle:
            before = os.fstat(handle.fileno())
            if before.st_size < max(MAP_AT_BYTES, 1):  # an empty file cannot be mapped
                yield handle.read()
                return
            view = _map_read_only(handle.fileno())
            try:
                yield view
            finally:
                _close_quietly(view)
            # the file that was mapped (one renamed over its path meanwhile is another file)
            after = os.fstat(handle.fileno())
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise self.read_error(
                f"the file changed while it was read ({before.st_size} bytes before, "
                f"{after.st_size} after): read it again once it is complete"
            )

    def read_error(
        self,
        message: str,
        *,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> SourceReadError:
        """An error about this file (the message will start with its label)."""
        return SourceReadError(self.label, message, row=row, line=line, column=column)


def _map_read_only(descriptor: int) -> mmap.mmap:
    if hasattr(mmap, "MAP_POPULATE"):  # Linux: map every page now, not one fault at a time
        return mmap.mmap(descriptor, 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)


def _close_quietly(view: mmap.mmap) -> None:
    """Unmap now if nothing still points into the mapping, else when the last view goes."""
    with suppress(BufferError):
        view.close()


def expand_archives(path: UPath, label: str, compression: Compression) -> list[SourceFile]:
    """The readable units of one file: itself, or each data member of a zip archive.

    A single-member archive keeps the archive's own label; several members are labelled
    ``archive.zip!member.csv`` so a row can be traced to its member.
    """
    if compression != "zip":
        return [SourceFile(path, label, compression)]
    try:
        with path.fs.open(path.path, "rb") as raw, zipfile.ZipFile(raw) as archive:
            members = _zip_members(archive)
    except zipfile.BadZipFile as error:
        raise SourceReadError(
            label, f"not a valid zip archive ({error}); set compression if the suffix misleads"
        ) from None
    if not members:
        raise SourceReadError(label, "the zip archive contains no data files")
    if len(members) == 1:
        return [SourceFile(path, label, "zip", members[0])]
    return [SourceFile(path, f"{label}!{member}", "zip", member) for member in members]


# --------------------------------------------------------------------------- encoding errors


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _position(data: bytes, offset: int, newlines_before: int) -> tuple[int, str]:
    """1-based line of byte ``offset`` in ``data`` and that line's text (for the message)."""
    line = newlines_before + data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    text = data[start : end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    return line, text.rstrip("\r")


def encoding_error(file: SourceFile, encoding: str) -> SourceReadError | None:
    """Where the first byte that does not decode as ``encoding`` is, as a ready error.

    Arrow's "invalid UTF8 data" names no position; this decodes the file incrementally to find
    the line and byte offset. Only called after a read failed, so its cost does not matter.
    Returns None if the whole file decodes (the failure had another cause).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0  # bytes handed to the decoder before the current chunk
    newlines = 0  # newlines in those bytes
    pending = b""  # the decoder's buffered (incomplete) tail from earlier chunks
    with file.open() as handle:
        while True:
            chunk = handle.read(_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final)
            except UnicodeDecodeError as error:
                data = pending + chunk
                offset = consumed - len(pending) + error.start
                line, text = _position(data, error.start, newlines - pending.count(b"\n"))
                bad = data[error.start : error.end].hex(" ")
                hint = (
                    "set `encoding: latin-1` (or cp1252) on the source if that is what the file uses"
                    if is_utf8(encoding)
                    else "set `encoding:` on the source to the file's actual encoding"
                )
                return file.read_error(
                    f"not valid {encoding}: byte 0x{bad} at byte offset {offset} "
                    f"(0-based, in the decompressed file) cannot be decoded ({error.reason}); "
                    f"{hint}. The line reads: {text[:120]!r}",
                    line=line,
                )
            if final:
                return None
            state = decoder.getstate()[0]
            pending = state if isinstance(state, bytes) else b""
            consumed += len(chunk)
            newlines += chunk.count(b"\n")


def decode_text(file: SourceFile, data: bytes, encoding: str) -> str:
    """``data`` decoded (a UTF-8 byte-order mark dropped), or an error naming the first bad byte's line."""
    try:
        return data.decode("utf-8-sig" if is_utf8(encoding) else encoding)
    except UnicodeDecodeError:
        error = encoding_error(file, encoding)
        if error is None:  # pragma: no cover - decode and incremental decode disagree
            raise
        raise error from None


# --------------------------------------------------------------------------- lineage columns


def constant_strings(value: str, length: int) -> pa.Array:
    """``value`` repeated: ``large_string`` (the storage of pandas' ``str``) and fast to build.

    Built from its two buffers (evenly spaced offsets, the bytes repeated): about 4x faster
    than ``pa.repeat`` of a string scalar at a million rows.
    """
    raw = value.encode("utf-8")
    offsets = np.arange(length + 1, dtype=np.int64) * len(raw)
    return pa.LargeStringArray.from_buffers(length, pa.py_buffer(offsets), pa.py_buffer(raw * length))


def row_numbers(numbers: np.ndarray | int) -> pa.Array:
    """``1..n`` when given a length, else the given numbers, as int64."""
    if isinstance(numbers, int):
        return pa.array(np.arange(1, numbers + 1, dtype=np.int64))
    return pa.array(np.asarray(numbers, dtype=np.int64))


def with_lineage(table: pa.Table, label: str, rows: np.ndarray | None = None) -> pa.Table:
    """Append ``_source_file`` and ``_source_row`` (1..n unless ``rows`` are given) to an Arrow table."""
    numbers = row_numbers(table.num_rows if rows is None else rows)
    return table.append_column(
        SOURCE_FILE_COLUMN, constant_strings(label, table.num_rows)
    ).append_column(SOURCE_ROW_COLUMN, numbers)


def add_lineage(frame: pd.DataFrame, label: str, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Append ``_source_file`` and ``_source_row`` to a pandas frame (in place, returned)."""
    length = len(frame)
    frame[SOURCE_FILE_COLUMN] = pd.Series(
        constant_strings(label, length).to_pandas().array, index=frame.index
    )
    numbers = row_numbers(length if rows is None else rows)
    frame[SOURCE_ROW_COLUMN] = pd.Series(
        numbers.to_numpy(zero_copy_only=False), index=frame.index, dtype="int64"
    )
    return frame


def check_reserved(file: SourceFile, columns: list[str], reserved: tuple[str, ...]) -> None:
    """Refuse data columns named like lineage columns: one would silently overwrite the other."""
    clash = [name for name in columns if name in reserved]
    if clash:
        raise file.read_error(
            f"column name(s) {clash} are reserved for lineage ({', '.join(reserved)}); rename them in the file"
        )


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """One conversion for the whole table; strings become pandas' Arrow-backed ``str``."""
    return table.to_pandas()
