"""What a parser returns: typed values plus the present values it had to reject, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.transforms.arrays import null_where, to_mask, valid_mask


@dataclass(frozen=True)
class Failure:
    """Values that were present but rejected, and what to say about them (after the value)."""

    mask: np.ndarray
    message: str


@dataclass(frozen=True)
class Coerced:
    """A parsed column: typed values (null where missing or failed) and the failures."""

    values: pa.Array
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> np.ndarray:
        if not self.failures:
            return np.zeros(len(self.values), dtype=bool)
        mask = self.failures[0].mask.copy()
        for failure in self.failures[1:]:
            mask |= failure.mask
        return mask


def failed_where(values: pa.Array, present: np.ndarray, message: str) -> Coerced:
    """Present inputs that came out null are failures."""
    bad = present & ~valid_mask(values)
    return Coerced(values, [Failure(bad, message)] if bad.any() else [])


def try_cast(array: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The whole column in one strict cast, or None if any value does not convert."""
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def matching(text: pa.Array, pattern: str) -> pa.Array:
    """``text`` with the values that do not match ``pattern`` set to null."""
    return null_where(text, ~to_mask(pc.match_substring_regex(text, pattern)))
