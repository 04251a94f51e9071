"""Date and datetime parsing, vectorized and calendar-strict.

Arrow's ISO 8601 cast is strict (``2013-02-30`` fails) and fast, so ISO text is cast directly.
A custom ``format`` is not handed to Arrow's ``strptime``, which silently rolls ``30/02`` over to
``02/03``: the common numeric directives (``%Y %y %m %d %H %M %S %f %z %F %T %%``) are
translated into a pattern whose captured fields are reassembled as ISO text and then cast with
the same strict cast. A format using anything else (month names, 12-hour clock, ...) falls back
to ``pandas.to_datetime(format=..., errors="coerce")`` (vectorized C, but ~25x slower).
``format: epoch_s`` / ``epoch_ms`` / ``epoch_us`` read Unix epoch numbers (``epoch.py``).

Datetime columns are ``timestamp[us]``: tz-aware in the column's ``timezone`` when it has one
(naive text is wall time there; text with an offset is converted), else naive. A naive column
keeps offset-bearing values as their UTC wall time (what SQL engines do when casting such text to
a plain TIMESTAMP), so the dtype depends on the spec only, never on the data. A local time that
does not exist (skipped by a daylight-saving change) is rejected; an ambiguous one (repeated
when clocks go back) is taken as its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.arrays import (
    TEXT,
    as_text,
    cast_or_null,
    is_text,
    null_where,
    to_mask,
    valid_mask,
)
from etl_assets.lib.transforms.epoch import is_epoch_format, parse_epoch
from etl_assets.lib.transforms.parsed import Coerced, Failure, try_cast
from etl_assets.lib.transforms.strings import trim

NAIVE = pa.timestamp("us")
UTC = pa.timestamp("us", tz="UTC")

_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
_ZONE_SUFFIX = r"[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int16)
_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,6})",
    "z": r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)",
}


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, TEXT)


@dataclass
class Stamps:
    """Parsed values, split by whether the input said which zone it was in."""

    naive: pa.Array | None = None  # timestamp[us]: wall time, zone unknown
    aware: pa.Array | None = None  # timestamp[us, UTC]: instants
    failures: list[Failure] = field(default_factory=list)


def format_pattern(fmt: str) -> tuple[str, set[str]] | None:
    """The strftime format as an anchored RE2 pattern with one named group per field, or None
    when it uses a directive the fast path does not cover (or repeats one)."""
    fmt = fmt.replace("%F", "%Y-%m-%d").replace("%T", "%H:%M:%S")
    parts, fields, literal = ["^"], set(), []
    i = 0
    while i < len(fmt):
        if fmt.startswith("%%", i):
            literal.append("%")
            i += 2
            continue
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive not in _DIRECTIVES or directive in fields:
                return None
            if literal:
                parts.append(r"\Q" + "".join(literal) + r"\E")
                literal = []
            parts.append(_DIRECTIVES[directive])
            fields.add(directive)
            i += 2
            continue
        literal.append(fmt[i])
        i += 1
    if literal:
        parts.append(r"\Q" + "".join(literal) + r"\E")
    if not ({"Y", "y"} & fields and {"m", "d"} <= fields):
        return None
    return "".join(parts) + "$", fields


def _with_format(text: pa.Array, fmt: str) -> Stamps:
    plan = format_pattern(fmt)
    if plan is None:
        return _with_pandas(text, fmt)
    pattern, fields = plan
    parts = pc.extract_regex(text, pattern)
    matched = valid_mask(parts)

    def part(name: str, default: str) -> pa.Array | pa.Scalar:
        if name not in fields:
            return _text(default)
        return pc.utf8_lpad(pc.struct_field(parts, name), width=2, padding="0")

    if "Y" in fields:
        year = pc.struct_field(parts, "Y")
    else:  # POSIX: 69-99 are 1969-1999, 00-68 are 2000-2068
        short = pc.struct_field(parts, "y")
        century = pc.if_else(pc.less(short, _text("69")), _text("20"), _text("19"))
        year = pc.binary_join_element_wise(century, short, _text(""))
    fraction = pc.utf8_rpad(pc.struct_field(parts, "f"), width=6, padding="0") if "f" in fields else _text("000000")
    zone = pc.struct_field(parts, "z") if "z" in fields else _text("")
    iso = pc.binary_join_element_wise(
        year, _text("-"), part("m", "01"), _text("-"), part("d", "01"), _text("T"), part("H", "00"), _text(":"),
        part("M", "00"), _text(":"), part("S", "00"), _text("."), fraction, zone, _text(""),
    )
    iso = null_where(iso, ~matched)
    if "z" in fields:
        return Stamps(aware=_strict_cast(iso, UTC))
    return Stamps(naive=_strict_cast(iso, NAIVE))


def _with_pandas(text: pa.Array, fmt: str) -> Stamps:
    strings = pd.Series(text.to_pandas(), dtype="str")
    aware = "%z" in fmt or "%Z" in fmt
    parsed = pd.to_datetime(strings, format=fmt, errors="coerce", utc=aware)
    array = pa.array(parsed.array, from_pandas=True)
    if aware:
        return Stamps(aware=array.cast(UTC, safe=False))
    return Stamps(naive=array.cast(NAIVE, safe=False))


def _buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data bytes, value starts, value lengths) of a string array, as numpy views."""
    text = text if pa.types.is_large_string(text.type) else text.cast(TEXT)
    _, offsets_buffer, data_buffer = text.buffers()[:3]
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None and data_buffer.size else np.zeros(1, np.uint8)
    return data, offsets[:-1], np.diff(offsets)


def _two_digits(data: np.ndarray, begin: np.ndarray, length: np.ndarray, start: int) -> np.ndarray:
    """The two-digit field at ``start`` of each value (0 where the value is shorter)."""
    last = len(data) - 1
    tens = data.take(np.minimum(begin + start, last)).astype(np.int16) - 48
    ones = data.take(np.minimum(begin + start + 1, last)).astype(np.int16) - 48
    return np.where(length >= start + 2, tens * 10 + ones, 0)


def has_zone(text: pa.Array) -> np.ndarray:
    """For ISO-shaped text: whether the value ends in a zone designator (``Z``, ``+HH:MM``,
    ``+HHMM``, ``+HH``). Past the date (position 10) a sign can only start a zone."""
    data, begin, length = _buffers(text)
    end = begin + length
    last = len(data) - 1
    zone = (length > 10) & (data.take(np.clip(end - 1, 0, last)) == ord("Z"))
    for back in (6, 5, 3):
        at = end - back
        byte = data.take(np.clip(at, 0, last))
        zone |= (length - back > 10) & ((byte == ord("+")) | (byte == ord("-")))
    return zone


def calendar_valid(text: pa.Array) -> np.ndarray:
    """For text already shaped like ISO 8601 (checked by a pattern), whether its fields exist on
    the calendar and clock (no 2013-02-30, no 24:00). Arrow's cast would refuse those too, but
    only by failing the whole column; checking the fields here keeps a dirty column vectorized.
    Fields are read as bytes off the data buffer (positions are fixed in ISO text)."""
    data, begin, length = _buffers(text)
    month, day = _two_digits(data, begin, length, 5), _two_digits(data, begin, length, 8)
    hour, minute, second = (_two_digits(data, begin, length, start) for start in (11, 14, 17))
    days = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1]
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (hour <= 23) & (minute <= 59) & (second <= 59)
    leap_day = valid & (month == 2) & (day == 29)
    valid &= (day <= days) | leap_day
    if leap_day.any():  # only these need the year
        rows = np.flatnonzero(leap_day)
        year = (_two_digits(data, begin[rows], length[rows], 0) * 100 + _two_digits(data, begin[rows], length[rows], 2)).astype(np.int64)
        valid[rows] = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return valid


def _has_lowercase_designators(text: pa.Array) -> bool:
    """Whether any byte is ``t`` or ``z`` (ISO allows them lower-case; Arrow's cast does not)."""
    data, _, _ = _buffers(text)
    return bool(((data == ord("t")) | (data == ord("z"))).any())


def _iso(text: pa.Array) -> Stamps:
    """ISO 8601 (``2013-01-01``, ``2013-01-01 10:00``, ``...T10:00:00.5Z``, ``...+01:00``), each
    value naive or aware on its own; digits beyond microseconds are truncated."""
    if _has_lowercase_designators(text):
        text = pc.ascii_upper(text)
    shaped = to_mask(pc.match_substring_regex(text, _ISO_DATETIME))
    longest = pc.max(pc.binary_length(text)).as_py() or 0
    if longest > len("2000-01-01T00:00:00.000000") and to_mask(pc.match_substring_regex(text, r"\.\d{7}")).any():
        text = pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")
    zoned = has_zone(text)
    naive = _strict_cast(null_where(text, ~(shaped & ~zoned)), NAIVE)
    aware = _strict_cast(null_where(text, ~(shaped & zoned)), UTC)
    return Stamps(naive=naive, aware=aware)


def _strict_cast(shaped: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast ISO-shaped text, values off the calendar nulled first (so the value-by-value
    fallback in cast_or_null stays for the truly unexpected).

    The calendar is checked before casting, not after a failed cast: Arrow refuses each of
    those values anyway, but slowly (~5 us per refused value, even when the first one already
    fails the cast), so a failed try cost as much as the parse."""
    off_calendar = ~calendar_valid(shaped) & valid_mask(shaped)
    if off_calendar.any():
        return cast_or_null(null_where(shaped, off_calendar), target)
    fast = try_cast(shaped, target)
    if fast is not None:
        return fast
    return cast_or_null(shaped, target)


def _whole_cast(text: pa.Array) -> Stamps | None:
    """One strict cast of the whole column, aware or naive as its first values suggest (a cast
    that fails on every value is slow, so the other kind is not tried on a hunch); None if any
    value does not cast."""
    sample = text.slice(0, 64).drop_null()
    zoned = len(sample) > 0 and re.search(_ZONE_SUFFIX, str(sample[0]).upper()) is not None
    fast = try_cast(text, UTC if zoned or len(sample) == 0 else NAIVE)
    if fast is None:
        return None
    return Stamps(aware=fast) if pa.types.is_timestamp(fast.type) and fast.type.tz else Stamps(naive=fast)


def _stamps(array: pa.Array, spec: ColumnSpec, message: str, *, cast_first: bool = True) -> Stamps:
    """Any input as naive and/or aware microsecond timestamps, plus what failed."""
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            return Stamps(naive=array.cast(NAIVE, safe=False))
        return Stamps(aware=array.cast(pa.timestamp("us", array.type.tz), safe=False).cast(UTC))
    if pa.types.is_date(array.type):
        return Stamps(naive=array.cast(pa.date32()).cast(NAIVE))
    if is_epoch_format(spec.format):
        instants, bad = parse_epoch(array, spec.format)  # type: ignore[arg-type]
        return Stamps(aware=instants, failures=[Failure(bad, message)] if bad.any() else [])
    if not is_text(array) and not pa.types.is_null(array.type):
        present = valid_mask(array)  # numbers, booleans: not a point in time
        return Stamps(naive=pa.nulls(len(array), NAIVE), failures=[Failure(present, message)] if present.any() else [])
    text = as_text(array)
    if spec.format is None and cast_first:
        fast = _whole_cast(text)
        if fast is not None:
            return fast
    text = trim(text, spec)
    present = valid_mask(text)
    stamps = _iso(text) if spec.format is None else _with_format(text, spec.format)
    parsed = np.zeros(len(text), dtype=bool)
    for part in (stamps.naive, stamps.aware):
        if part is not None:
            parsed |= valid_mask(part)
    bad = present & ~parsed
    stamps.failures = [Failure(bad, message)] if bad.any() else []
    return stamps


def _localize(naive: pa.Array, timezone: str) -> tuple[pa.Array, np.ndarray]:
    """Wall times in ``timezone`` as instants, and the mask of wall times that do not exist there."""
    target = pa.timestamp("us", tz=timezone)
    if timezone == "UTC":
        return naive.cast(target), np.zeros(len(naive), dtype=bool)
    wall = pd.DatetimeIndex(naive.to_numpy(zero_copy_only=False))
    local = wall.tz_localize(timezone, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="NaT")
    gap = ~wall.isna() & local.isna()
    return pa.array(local.as_unit("us"), type=target, from_pandas=True), np.asarray(gap)


def _combine(first: pa.Array | None, second: pa.Array | None, length: int, target: pa.DataType) -> pa.Array:
    if first is None and second is None:
        return pa.nulls(length, target)
    if first is None or second is None:
        return first if second is None else second  # type: ignore[return-value]
    return pc.if_else(pc.is_valid(first), first, second)


def _in_zone(stamps: Stamps, spec: ColumnSpec, length: int) -> Coerced:
    """Parsed stamps as the column's type (naive, or in its ``timezone``)."""
    failures = list(stamps.failures)
    if spec.timezone is None:
        aware = stamps.aware.cast(NAIVE) if stamps.aware is not None else None
        return Coerced(_combine(stamps.naive, aware, length, NAIVE), failures)
    target = pa.timestamp("us", tz=spec.timezone)
    aware = stamps.aware.cast(target) if stamps.aware is not None else None
    local = None
    if stamps.naive is not None:
        local, gap = _localize(stamps.naive, spec.timezone)
        if gap.any():
            failures.append(Failure(gap, f"does not exist in {spec.timezone} (skipped by a daylight-saving change)"))
    return Coerced(_combine(local, aware, length, target), failures)


def parse_datetime(array: pa.Array, spec: ColumnSpec, *, cast_first: bool = True) -> Coerced:
    """``cast_first=False`` skips the whole-column cast, for values known to hold odd ones (a
    refused value costs the cast ~5 us; the full parse gives the same values)."""
    message = f"is not a datetime ({spec.format or 'ISO 8601'})"
    return _in_zone(_stamps(array, spec, message, cast_first=cast_first), spec, len(array))


def cast_datetime(text: pa.Array, spec: ColumnSpec) -> Coerced | None:
    """What :func:`parse_datetime` gives text without a ``format`` when one strict cast of the
    whole column works (its fast path), else None."""
    fast = _whole_cast(as_text(text))
    return None if fast is None else _in_zone(fast, spec, len(text))


def parse_date(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Dates: ``YYYY-MM-DD`` (or ``format``). Timestamps give their date in their own zone."""
    message = f"is not a date ({spec.format or 'YYYY-MM-DD'})"
    if pa.types.is_date(array.type):
        return Coerced(array.cast(pa.date32()))
    if pa.types.is_timestamp(array.type):
        return Coerced(array.cast(pa.date32(), safe=False))
    if is_text(array) and spec.format is None:
        fast = try_cast(array, pa.date32())
        if fast is not None:
            return Coerced(fast)
        text = trim(array, spec)
        present = valid_mask(text)
        shaped = to_mask(pc.match_substring_regex(text, _ISO_DATE))
        values = _strict_cast(null_where(text, ~shaped), pa.date32())
        bad = present & ~valid_mask(values)
        return Coerced(values, [Failure(bad, message)] if bad.any() else [])
    stamps = _stamps(array, spec, message)
    aware = stamps.aware.cast(NAIVE) if stamps.aware is not None else None
    values = _combine(stamps.naive, aware, len(array), NAIVE)
    return Coerced(values.cast(pa.date32(), safe=False), stamps.failures)
