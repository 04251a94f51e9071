"""Typed parsing of one column, vectorized.

Each parser returns the typed values and a boolean mask of values that were present but could
not be parsed (those rows are rejected; the mask is never confused with genuine nulls).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.strings import as_arrow_text, prepare_text

_INT_RE = r"^[+-]?\d+(\.0*)?$"


@dataclass(frozen=True)
class Coerced:
    values: pd.Series
    failed: np.ndarray
    #: What a failed value was expected to be, for the rejection reason ("an int", ...).
    expected: str


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _present(array: pa.Array) -> np.ndarray:
    return _mask(pc.is_valid(array))


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def parse_int(values: pd.Series, spec: ColumnSpec) -> Coerced:
    if _numeric(values):
        as_float = pd.to_numeric(values, errors="coerce").astype("Float64")
        integral = (as_float.round() == as_float).fillna(True).to_numpy(dtype=bool)
        in_range = (as_float.abs() < 2**63).fillna(True).to_numpy(dtype=bool)
        ok = integral & in_range
        result = as_float.where(ok).astype("Int64")
        return Coerced(result, ~ok & values.notna().to_numpy(), "an int")
    text = prepare_text(as_arrow_text(values), spec, normalise=False)
    fast = _try_cast(text, pa.int64())
    if fast is not None:  # every value is a plain integer: the common case, one kernel
        result = pd.Series(fast.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), index=values.index, dtype="Int64")
        return Coerced(result, np.zeros(len(values), dtype=bool), "an int")
    matches = _mask(pc.match_substring_regex(text, _INT_RE))
    digits = pc.replace_substring_regex(text, r"\.0*$", "")
    candidate = pc.if_else(pa.array(matches), digits, pa.scalar(None, digits.type))
    try:
        parsed = candidate.cast(pa.int64())
    except pa.ArrowInvalid:  # out of int64 range somewhere: fall back value by value
        parsed = pa.array([_int_or_none(v) for v in candidate.to_pylist()], type=pa.int64())
    result = pd.Series(parsed.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), index=values.index, dtype="Int64")
    failed = _present(text) & result.isna().to_numpy()
    return Coerced(result, failed, "an int")


def _try_cast(text: pa.Array, target: pa.DataType) -> pa.Array | None:
    """Arrow's cast when every value parses; None when any does not (then the slow path finds which)."""
    try:
        return text.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def parse_float(values: pd.Series, spec: ColumnSpec) -> Coerced:
    if _numeric(values):
        result = pd.to_numeric(values, errors="coerce").astype("float64")
        return Coerced(result, np.zeros(len(values), dtype=bool), "a number")
    text = prepare_text(as_arrow_text(values), spec, normalise=False)
    fast = _try_cast(text, pa.float64())
    if fast is not None:
        parsed = pd.Series(fast.to_numpy(zero_copy_only=False), index=values.index, dtype="float64")
        return Coerced(parsed, np.zeros(len(values), dtype=bool), "a number")
    present = _present(text)
    parsed = pd.to_numeric(pd.Series(text.to_pandas(), index=values.index), errors="coerce").astype("float64")
    failed = present & parsed.isna().to_numpy()
    return Coerced(parsed, failed, "a number")


def parse_decimal(values: pd.Series, spec: ColumnSpec) -> Coerced:
    """Exact decimals; a value with more digits after the point than ``scale`` is rejected, not rounded."""
    assert spec.precision is not None and spec.scale is not None
    quantum = decimal.Decimal(1).scaleb(-spec.scale)
    limit = decimal.Decimal(10) ** (spec.precision - spec.scale)

    def convert(raw: object) -> decimal.Decimal | None:
        try:
            number = decimal.Decimal(str(raw).strip())
        except decimal.InvalidOperation:
            return None
        if not number.is_finite() or number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN) != number or abs(number) >= limit:
            return None
        return number.quantize(quantum)

    present = values.notna().to_numpy()
    text = values.astype("str").where(present) if not _numeric(values) else values
    uniques = pd.unique(text[present])
    lookup = {u: convert(u) for u in uniques}
    converted = [lookup[v] if p else None for v, p in zip(text.tolist(), present, strict=True)]
    blank = np.array([p and isinstance(v, str) and not v.strip() for v, p in zip(text.tolist(), present, strict=True)], dtype=bool)
    array = pa.array(converted, type=pa.decimal128(spec.precision, spec.scale))
    result = pd.Series(array, index=values.index, dtype=pd.ArrowDtype(array.type))
    failed = present & ~blank & result.isna().to_numpy()
    return Coerced(result, failed, f"a decimal with at most {spec.precision - spec.scale} digits before and {spec.scale} after the point")


def parse_bool(values: pd.Series, spec: ColumnSpec) -> Coerced:
    if pd.api.types.is_bool_dtype(values.dtype):
        return Coerced(values.astype("boolean"), np.zeros(len(values), dtype=bool), "a boolean")
    text = pc.utf8_lower(prepare_text(as_arrow_text(values), spec, normalise=False))
    truthy = pc.is_in(text, value_set=pa.array([v.lower() for v in spec.true_values], type=text.type))
    falsy = pc.is_in(text, value_set=pa.array([v.lower() for v in spec.false_values], type=text.type))
    known = pc.or_(truthy, falsy)
    array = pc.if_else(known, truthy, pa.scalar(None, pa.bool_()))
    result = pd.Series(array.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), index=values.index, dtype="boolean")
    failed = _present(text) & ~_mask(known)
    return Coerced(result, failed, f"a boolean ({'/'.join(spec.true_values)} or {'/'.join(spec.false_values)})")


def parse_string(values: pd.Series, spec: ColumnSpec) -> Coerced:
    text = prepare_text(as_arrow_text(values), spec, normalise=True)
    result = pd.Series(text.to_pandas(), index=values.index).astype("str")
    result = result.where(_present(text), None)
    return Coerced(result, np.zeros(len(values), dtype=bool), "text")


def parse_category(values: pd.Series, spec: ColumnSpec) -> Coerced:
    text = prepare_text(as_arrow_text(values), spec, normalise=True)
    strings = pd.Series(text.to_pandas(), index=values.index).astype("str").where(_present(text), None)
    if spec.categories is None:
        return Coerced(strings.astype("category"), np.zeros(len(values), dtype=bool), "a category")
    allowed = strings.isin(spec.categories).to_numpy()
    failed = strings.notna().to_numpy() & ~allowed
    result = strings.where(allowed, None).astype(pd.CategoricalDtype(spec.categories))
    return Coerced(result, failed, f"one of {', '.join(spec.categories)}")


def _datetimes(values: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values, np.zeros(len(values), dtype=bool)
    text = prepare_text(as_arrow_text(values), spec, normalise=False)
    if spec.format is None:
        # ISO 8601 with a zone designator on every value ("...Z", "+01:00"): one Arrow cast.
        fast = _try_cast(text, pa.timestamp("us", tz="UTC"))
        if fast is not None:
            stamps = pd.Series(fast.to_pandas(), index=values.index)
            return stamps, np.zeros(len(values), dtype=bool)
    present = _present(text)
    strings = pd.Series(text.to_pandas(), index=values.index).astype("str").where(present, None)
    fmt = spec.format or "ISO8601"
    try:
        parsed = pd.to_datetime(strings, format=fmt, errors="coerce")
    except (ValueError, TypeError):  # mixed offsets / mixed naive and aware: take instants in UTC
        parsed = pd.to_datetime(strings, format=fmt, errors="coerce", utc=True)
    return parsed, present & parsed.isna().to_numpy()


def parse_datetime(values: pd.Series, spec: ColumnSpec) -> Coerced:
    """Naive input is taken as wall time in ``timezone``; aware input is converted to it."""
    parsed, failed = _datetimes(values, spec)
    if spec.timezone is not None:
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(spec.timezone, ambiguous="NaT", nonexistent="NaT")
            failed = failed | (values.notna().to_numpy() & parsed.isna().to_numpy() & ~failed)
        else:
            parsed = parsed.dt.tz_convert(spec.timezone)
    return Coerced(parsed.dt.as_unit("us"), failed, f"a datetime ({spec.format or 'ISO 8601'})")


def parse_date(values: pd.Series, spec: ColumnSpec) -> Coerced:
    if spec.format is None and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        fast = _try_cast(prepare_text(as_arrow_text(values), spec, normalise=False), pa.date32())
        if fast is not None:
            result = pd.Series(fast, index=values.index, dtype=pd.ArrowDtype(pa.date32()))
            return Coerced(result, np.zeros(len(values), dtype=bool), "a date (ISO 8601)")
    parsed, failed = _datetimes(values, spec)
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    days = pa.array(parsed.dt.normalize().to_numpy(dtype="datetime64[D]"), type=pa.date32(), from_pandas=True)
    result = pd.Series(days, index=values.index, dtype=pd.ArrowDtype(pa.date32()))
    return Coerced(result, failed, f"a date ({spec.format or 'ISO 8601'})")


PARSERS: dict[str, Callable[[pd.Series, ColumnSpec], Coerced]] = {
    "int": parse_int,
    "float": parse_float,
    "decimal": parse_decimal,
    "bool": parse_bool,
    "string": parse_string,
    "category": parse_category,
    "date": parse_date,
    "datetime": parse_datetime,
}


def coerce_column(values: pd.Series, spec: ColumnSpec) -> Coerced:
    return PARSERS[spec.type](values, spec)


def coerce_default(value: object, spec: ColumnSpec) -> object:
    """The declared default, parsed with the column's own rules (so 'U' is a valid category, etc.)."""
    coerced = coerce_column(pd.Series([value]), spec.model_copy(update={"categories": spec.categories}))
    if coerced.failed[0] or pd.isna(coerced.values.iloc[0]):
        raise ValueError(f"default {value!r} is not {coerced.expected}")
    return coerced.values.iloc[0]
