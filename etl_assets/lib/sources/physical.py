"""What a reader saw of a file in units a parser cannot hide: bytes, physical lines, records.

Row conservation counted after parsing cannot see rows a parser swallowed (an unclosed quote
that eats the rest of a CSV is "one row"). So every file reader also reports the physical
input it consumed, counted independently of the parser, and states how many rows that input
must produce. The raw layer's ``physical_conservation`` check and the clean step's
``row_conservation`` compare those figures with the rows that actually came out.

Readers attach one :class:`PhysicalInput` per file to the frame they return with
:func:`attach_physical`; :func:`read_source` collects them (before concatenation, which drops
``DataFrame.attrs``) with :func:`physical_of`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

__all__ = ["PHYSICAL_ATTR", "PhysicalInput", "attach_physical", "physical_of", "total_expected_rows"]

#: Key in ``DataFrame.attrs`` under which a reader leaves its :class:`PhysicalInput`.
PHYSICAL_ATTR = "etl_assets.physical_input"

#: The unit in which ``units`` counts: CSV/text/JSON Lines count physical lines, a JSON document
#: counts the elements of its record list, Parquet counts rows (from the footer, per row group).
PhysicalUnit = Literal["lines", "records", "rows"]


@dataclass(frozen=True)
class PhysicalInput:
    """One file's physical input and the rows it must produce.

    ``expected_rows`` is what the physical count implies the reader must emit, good and
    rejected rows together: CSV data records found by the byte-level scan (a broken record is
    one rejected row), non-blank JSON Lines, JSON list elements, Parquet footer rows.
    ``emitted_rows`` is what the reader actually returned for the file. Equal means nothing was
    swallowed; the checks fail otherwise.
    """

    file: str
    bytes: int
    unit: PhysicalUnit
    units: int
    expected_rows: int
    emitted_rows: int
    #: Extra counts that explain ``units`` (header lines, empty lines, row groups, ...).
    detail: tuple[tuple[str, int], ...] = ()
    #: The partition key of the file (set by ``read_source`` for partitioned sources).
    partition: str | None = None

    @property
    def conserved(self) -> bool:
        return self.expected_rows == self.emitted_rows

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata (JSON)."""
        values = asdict(self)
        values["detail"] = dict(self.detail)
        return values


def attach_physical(frame: pd.DataFrame, physical: PhysicalInput) -> pd.DataFrame:
    """Leave ``physical`` on ``frame`` for :func:`read_source` to collect."""
    frame.attrs[PHYSICAL_ATTR] = physical
    return frame


def physical_of(frame: pd.DataFrame) -> PhysicalInput | None:
    """The reader's count for this one-file frame, or None for a reader that reports none."""
    found = frame.attrs.get(PHYSICAL_ATTR)
    return found if isinstance(found, PhysicalInput) else None


def total_expected_rows(inputs: list[PhysicalInput]) -> int:
    return sum(item.expected_rows for item in inputs)
