"""Plain text: one row per line, in the column ``text.column`` (default ``line``).

``_source_row`` is the line number (1-based, counting blank lines even when they are skipped),
so a row can be found in the file with any editor. Lines end at ``\\n``; a trailing ``\\r`` is
dropped (Windows line ends). ``strip`` removes surrounding whitespace; ``skip_blank`` drops
lines that are empty or whitespace only.
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
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = ["read_text_file"]

_RESERVED = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARTITION_COLUMN)


def read_text_file(file: SourceFile, spec: SourceSpec) -> pd.DataFrame:
    options = spec.text_options
    check_reserved(file, [options.column], _RESERVED)
    lines = decode_text(file, file.read_bytes(), spec.encoding).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    values = [line.removesuffix("\r") for line in lines]
    if options.strip:
        values = [value.strip() for value in values]
    numbers = np.arange(1, len(values) + 1, dtype=np.int64)
    if options.skip_blank:
        keep = np.fromiter((bool(value.strip()) for value in values), dtype=bool, count=len(values))
        values = [value for value, kept in zip(values, keep, strict=True) if kept]
        numbers = numbers[keep]
    frame = pd.DataFrame({options.column: pd.Series(values, dtype="str")})
    return add_lineage(frame, file.label, numbers)
