"""Foreign-key consistency: values of a column that do not exist in the referenced column.

Orphans are reported, never removed: the flights demo has real ones (tail numbers missing
from the planes table), and whether they matter is the data owner's call. They feed the
consistency dimension of the quality score and the ``references`` check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OrphanReport:
    """Outcome of checking one column against the column it references."""

    column: str
    references: str
    #: Non-null values checked.
    checked: int
    #: Rows whose (non-null) value is missing from the referenced column.
    orphans: int
    #: Distinct orphan values.
    distinct_orphans: int
    #: The most frequent orphan values with their row counts (at most ``sample_size``).
    sample: dict[str, int]
    #: Bool mask of orphan rows, aligned with the checked frame.
    mask: np.ndarray = field(repr=False)

    @property
    def coverage(self) -> float:
        """Share of non-null values found in the referenced column (1.0 when nothing to check)."""
        return 1.0 if self.checked == 0 else 1.0 - self.orphans / self.checked

    def describe(self) -> str:
        if self.orphans == 0:
            return f"{self.column} -> {self.references}: all {self.checked} values found"
        return (
            f"{self.column} -> {self.references}: {self.orphans} of {self.checked} rows"
            f" ({self.distinct_orphans} distinct values) not found; coverage {self.coverage:.2%}"
        )


def _comparable(values: pd.Series, other: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Bring both sides to one dtype: numbers as float64, anything else as text."""
    numeric = pd.api.types.is_numeric_dtype
    if numeric(values.dtype) and numeric(other.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("float64"), other.astype("float64")
    return values.astype("string[pyarrow]"), other.astype("string[pyarrow]")


def find_orphans(
    values: pd.Series,
    referenced: pd.Series,
    *,
    column: str | None = None,
    references: str = "",
    sample_size: int = 10,
) -> OrphanReport:
    """Rows of ``values`` whose non-null value is not in ``referenced``."""
    left, right = _comparable(values, referenced)
    present = left.notna().to_numpy(dtype=bool)
    found = left.isin(pd.unique(right.dropna())).to_numpy(dtype=bool)
    mask = present & ~found
    orphan_values = values[mask]  # original dtype, so 7 reads as 7, not 7.0
    counts = orphan_values.value_counts()
    counts = counts[counts > 0].head(sample_size)  # a categorical counts its unused categories as 0
    return OrphanReport(
        column=column or str(values.name),
        references=references,
        checked=int(present.sum()),
        orphans=int(mask.sum()),
        distinct_orphans=int(left[mask].nunique()),
        sample={str(k): int(v) for k, v in counts.items()},
        mask=mask,
    )
