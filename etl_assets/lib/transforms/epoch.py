"""Unix epoch numbers as points in time: ``format: epoch_s``, ``epoch_ms`` or ``epoch_us``.

Logs, APIs and event exports write time as seconds or milliseconds since 1970-01-01 UTC. Such a
value names an instant, so it parses to an aware UTC timestamp; a naive datetime column then keeps
its UTC wall time and a column with ``timezone`` shows it in that zone, exactly as text with an
offset does. Numbers and digit text are both accepted (a CSV reader gives text, JSON gives
numbers); fractions are kept to the microsecond. Values outside years 0001-9999 are rejected
rather than wrapped, like any value that is not a date.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.transforms.arrays import (
    as_text,
    cast_or_null,
    is_text,
    null_where,
    to_mask,
    valid_mask,
)

#: Microseconds per unit of each epoch format.
EPOCH_FORMATS: dict[str, int] = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"
# 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999, in microseconds since 1970.
_LOWEST_US = -62_135_596_800_000_000
_HIGHEST_US = 253_402_300_799_999_999


def is_epoch_format(fmt: str | None) -> bool:
    return fmt in EPOCH_FORMATS


def _as_float(array: pa.Array) -> pa.Array:
    """Numbers as float64; text that is not a plain decimal number becomes null."""
    if (
        pa.types.is_floating(array.type)
        or pa.types.is_integer(array.type)
        or pa.types.is_decimal(array.type)
    ):
        return array.cast(pa.float64())
    text = pc.utf8_trim_whitespace(as_text(array)) if is_text(array) else as_text(array)
    shaped = to_mask(pc.match_substring_regex(text, _NUMBER))
    return cast_or_null(null_where(text, ~shaped), pa.float64())


def _as_int(array: pa.Array, present: np.ndarray) -> pa.Array | None:
    """Whole numbers exactly as int64 (a float64 would round the microseconds of large values),
    or None when some present value is not a whole number."""
    if pa.types.is_integer(array.type):
        return array.cast(pa.int64())
    if is_text(array):
        text = pc.utf8_trim_whitespace(as_text(array))
        whole = to_mask(pc.match_substring_regex(text, r"^[+-]?\d{1,18}$"))
        if (whole | ~present).all():
            return text.cast(pa.int64())
    return None


def parse_epoch(array: pa.Array, fmt: str) -> tuple[pa.Array, np.ndarray]:
    """The instants (``timestamp[us, UTC]``) and the mask of present values that are not epoch
    numbers in range."""
    scale = EPOCH_FORMATS[fmt]
    present = valid_mask(array)
    whole = _as_int(array, present)
    if whole is not None:
        ints = whole.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        parsed = present.copy()
        in_range = np.abs(ints) <= np.iinfo(np.int64).max // scale
        micros = np.where(in_range, ints, 0) * scale
    else:
        values = _as_float(array).to_numpy(zero_copy_only=False).astype("float64")
        parsed = present & ~np.isnan(values)
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = np.round(values * scale)
        in_range = np.isfinite(scaled) & (np.abs(scaled) <= 2.0**62)
        micros = np.where(in_range, scaled, 0).astype(np.int64)
    ok = parsed & in_range & (micros >= _LOWEST_US) & (micros <= _HIGHEST_US)
    stamps = pa.array(micros, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return null_where(stamps, ~ok), present & ~ok
