"""Plain text: one row per line, in the column ``text.column`` (default ``line``).

``_source_row`` is the line number (1-based, counting blank lines even when they are skipped),
so a row can be found in the file with any editor. Lines end at ``\\n``; a trailing ``\\r`` is
dropped (Windows line ends). ``strip`` removes surrounding whitespace; ``skip_blank`` drops
lines that are empty or whitespace only.

The frame carries the file's :class:`PhysicalInput`: its bytes and its lines counted from the
line-end bytes (not from the decoded split), and the rows they must give (every line, less the
blank ones when ``skip_blank``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl_assets.lib.sources.files import (
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    add_lineage,
    check_reserved,
    decode_text,
)
from etl_assets.lib.sources.physical import PhysicalInput, attach_physical
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = ["read_text_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARTITION_COLUMN)


def read_text_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    options = spec.text_options
    check_reserved(file, [options.column], _RESERVED)
    data = file.read_bytes()
    lines = decode_text(file, data, spec.encoding).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    values = [line.removesuffix("\r") for line in lines]
    if options.strip:
        values = [value.strip() for value in values]
    numbers = np.arange(1, len(values) + 1, dtype=np.int64)
    blank = 0
    if options.skip_blank:
        keep = np.fromiter((bool(value.strip()) for value in values), dtype=bool, count=len(values))
        values = [value for value, kept in zip(values, keep, strict=True) if kept]
        numbers = numbers[keep]
        blank = int((~keep).sum())
    frame = add_lineage(
        pd.DataFrame({options.column: pd.Series(values, dtype="str")}), file.label, numbers
    )
    physical_lines = _physical_lines(data, spec.encoding, len(lines))
    physical = PhysicalInput(
        file=file.label,
        bytes=len(data),
        unit="lines",
        units=physical_lines,
        expected_rows=physical_lines - blank,
        emitted_rows=len(frame),
        detail=(("blank_lines_skipped", blank),),
    )
    return attach_physical(frame, physical)


def _physical_lines(data: bytes, encoding: str, decoded_lines: int) -> int:
    """Lines counted on the bytes (newline bytes, plus an unterminated last line).

    Only where a newline is the byte ``\\n`` (ASCII-compatible encodings); for others (UTF-16,
    UTF-32) the count of the decoded lines is all there is.
    """
    if "\n\r".encode(encoding, errors="ignore") != b"\n\r":
        return decoded_lines
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
