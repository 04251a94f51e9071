"""Which text values are in a plain, canonical form, judged off the string buffers with numpy.

A dirty column makes the one-cast fast path of a parser fail, and the slow path (trim, patterns,
calendar checks, each over the whole column) cost 5-10x the cast. Most values of a dirty column
are still plain (``12345``, ``-0.25``, ``2024-03-01``, ``2024-03-01T10:00:00Z``): this module
finds those in one pass over the bytes, so :func:`etl_assets.lib.transforms.coerce.coerce_array`
can cast them in one strict cast and give only the others to the full parser.

The forms are deliberately narrow (a canonical value is accepted by Arrow's strict cast and
parsed the same by the full parser); anything unusual (spaces, ``+``, exponents, ``12.0`` for
an int, lower-case ``t``, offsets) is simply not canonical and goes the full way. Being wrong
in the narrow direction costs time, never a different result; if the strict cast of the
canonical values fails anyway, the caller falls back to the full parser for the whole column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Rows judged at a time (see :func:`_blockwise`).
_BLOCK_ROWS = 1 << 16
#: Longest canonical int (18 digits always fits int64).
_INT_DIGITS = 18
#: Longest canonical float text.
_FLOAT_CHARS = 24
_MINUS, _POINT = ord("-"), ord(".")
_DAYS_IN_MONTH = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int16)


def _buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(data bytes from the first value on, value starts relative to it, lengths), or None for
    a type without an offsets buffer."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return None
    _, offsets_buffer, data_buffer = text.buffers()[:3]
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[text.offset : text.offset + len(text) + 1].astype(np.int64)
    first = int(offsets[0])
    size = int(offsets[-1]) - first
    data = np.frombuffer(data_buffer, dtype=np.uint8)[first : first + size] if size else np.zeros(0, np.uint8)
    return data, offsets[:-1] - first, np.diff(offsets)


def _has_other(data: np.ndarray, begin: np.ndarray, length: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Whether each value has a byte outside ``allowed`` (per byte), a leading minus excepted.

    Such bytes are rare in a mostly clean column, so they are located one by one
    (``flatnonzero``) and mapped to their values by a binary search over the value ends."""
    other = np.zeros(len(begin), dtype=bool)
    at = np.flatnonzero(~allowed)
    if not len(at):
        return other
    owner = np.searchsorted(begin + length, at, side="right")
    leading_minus = (data[at] == _MINUS) & (at == begin[owner])
    other[owner[~leading_minus]] = True
    return other


def _first_byte(data: np.ndarray, begin: np.ndarray, length: np.ndarray, back: bool = False) -> np.ndarray:
    """The first (or last) byte of each value, 0 for an empty one."""
    if not len(data):
        return np.zeros(len(begin), dtype=np.uint8)
    at = begin + length - 1 if back else begin
    return np.where(length > 0, data.take(np.clip(at, 0, len(data) - 1)), 0).astype(np.uint8)


def _is_digit(values: np.ndarray) -> np.ndarray:
    return (values - np.uint8(48)) < 10  # uint8 wraps: below '0' becomes large


def _canonical_int(text: pa.Array) -> np.ndarray | None:
    """``-?\\d{1,18}``: plain decimal ints that fit int64."""
    found = _buffers(text)
    if found is None:
        return None
    data, begin, length = found
    minus = _first_byte(data, begin, length) == _MINUS
    digits = length - minus
    return (digits >= 1) & (digits <= _INT_DIGITS) & ~_has_other(data, begin, length, _is_digit(data))


def _canonical_float(text: pa.Array) -> np.ndarray | None:
    """``-?\\d+(\\.\\d+)?``: plain decimal numbers, digits on both sides of the point."""
    found = _buffers(text)
    if found is None:
        return None
    data, begin, length = found
    minus = _first_byte(data, begin, length) == _MINUS
    # The first byte after the sign and the last byte are digits; with at most one point and no
    # other byte than digits, the point then has digits on both sides.
    lead = _first_byte(data, begin + minus, length - minus)
    points = np.asarray(pc.count_substring(text, ".").to_numpy(zero_copy_only=False))
    return (
        (length >= 1) & (length <= _FLOAT_CHARS) & (points <= 1) & _is_digit(lead)
        & _is_digit(_first_byte(data, begin, length, back=True))
        & ~_has_other(data, begin, length, _is_digit(data) | (data == _POINT))
    )


def _rows_of_length(data: np.ndarray, begin: np.ndarray, length: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the values ``size`` bytes long, their bytes as a (k, size) matrix)."""
    rows = np.flatnonzero(length == size)
    if not len(rows):
        return rows, np.zeros((0, size), dtype=np.uint8)
    starts = begin[rows]
    if len(rows) * size == len(data) and (starts == np.arange(len(rows)) * size).all():
        return rows, data.reshape(len(rows), size)  # every value has this length: a view
    return rows, data[starts[:, None] + np.arange(size)]


def _two(matrix: np.ndarray, at: int) -> np.ndarray:
    return (matrix[:, at].astype(np.int16) - 48) * 10 + (matrix[:, at + 1].astype(np.int16) - 48)


def _template(form: str) -> tuple[np.ndarray, np.ndarray]:
    """(bytes to xor with, largest xor allowed) per position: a digit ``9`` in ``form`` allows
    0-9, any other byte only itself."""
    raw = np.frombuffer(form.encode(), dtype=np.uint8)
    digit = raw == ord("9")
    return np.where(digit, ord("0"), raw).astype(np.uint8), np.where(digit, 9, 0).astype(np.uint8)


_DATE = _template("9999-99-99")
_DATETIME = {19: _template("9999-99-99T99:99:99"), 20: _template("9999-99-99T99:99:99Z")}


def _shaped(matrix: np.ndarray, template: tuple[np.ndarray, np.ndarray], free: int | None = None) -> np.ndarray:
    """Rows whose bytes fit ``template`` (position ``free`` not checked)."""
    base, limit = template
    if free is not None:
        limit = limit.copy()
        limit[free] = 255
    return ~((matrix ^ base) > limit).any(axis=1)


def _calendar(matrix: np.ndarray) -> np.ndarray:
    """Month 1-12 and a day that exists in it (29 February only in leap years), year not 0000."""
    month, day = _two(matrix, 5), _two(matrix, 8)
    ok = (month >= 1) & (month <= 12) & (day >= 1)
    ok &= day <= _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1]
    ok &= (matrix[:, 0] | matrix[:, 1] | matrix[:, 2] | matrix[:, 3]) != ord("0")
    leap_day = np.flatnonzero(ok & (month == 2) & (day == 29))
    if len(leap_day):
        year = _two(matrix[leap_day], 0).astype(np.int64) * 100 + _two(matrix[leap_day], 2)
        ok[leap_day] = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return ok


def _date_shape(matrix: np.ndarray) -> np.ndarray:
    return _shaped(matrix, _DATE) & _calendar(matrix)


def _canonical_date(text: pa.Array) -> np.ndarray | None:
    """``YYYY-MM-DD`` on the calendar."""
    found = _buffers(text)
    if found is None:
        return None
    data, begin, length = found
    good = np.zeros(len(begin), dtype=bool)
    rows, matrix = _rows_of_length(data, begin, length, 10)
    good[rows] = _date_shape(matrix)
    return good


def _canonical_datetime(text: pa.Array) -> np.ndarray | None:
    """``YYYY-MM-DDTHH:MM:SS`` (``T`` or a space) on the calendar and clock, optionally with ``Z``."""
    found = _buffers(text)
    if found is None:
        return None
    data, begin, length = found
    good = np.zeros(len(begin), dtype=bool)
    for size in (19, 20):
        rows, matrix = _rows_of_length(data, begin, length, size)
        if not len(rows):
            continue
        ok = _shaped(matrix, _DATETIME[size], free=10) & _calendar(matrix)
        ok &= (matrix[:, 10] == ord("T")) | (matrix[:, 10] == ord(" "))
        ok &= (_two(matrix, 11) <= 23) & (_two(matrix, 14) <= 59) & (_two(matrix, 17) <= 59)
        good[rows] = ok
    return good


def _blockwise(judge: Callable[[pa.Array], np.ndarray | None], text: pa.Array) -> np.ndarray | None:
    """``judge`` over blocks of rows, so its temporaries (a datetime column's bytes as a matrix,
    masks, fields) stay in the CPU caches: whole-column temporaries at 10M rows made the
    screens 2-3x slower per row than at 1M."""
    if len(text) <= _BLOCK_ROWS:
        return judge(text)
    parts = []
    for start in range(0, len(text), _BLOCK_ROWS):
        part = judge(text.slice(start, _BLOCK_ROWS))
        if part is None:
            return None
        parts.append(part)
    return np.concatenate(parts)


def canonical_int(text: pa.Array) -> np.ndarray | None:
    """``-?\\d{1,18}``: plain decimal ints that fit int64."""
    return _blockwise(_canonical_int, text)


def canonical_float(text: pa.Array) -> np.ndarray | None:
    """``-?\\d+(\\.\\d+)?``: plain decimal numbers, digits on both sides of the point."""
    return _blockwise(_canonical_float, text)


def canonical_date(text: pa.Array) -> np.ndarray | None:
    """``YYYY-MM-DD`` on the calendar."""
    return _blockwise(_canonical_date, text)


def canonical_datetime(text: pa.Array) -> np.ndarray | None:
    """``YYYY-MM-DDTHH:MM:SS`` (``T`` or a space) on the calendar and clock, optionally with ``Z``."""
    return _blockwise(_canonical_datetime, text)
