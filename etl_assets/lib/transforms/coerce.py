"""Typed parsing of one column, vectorized on Arrow arrays.

Every parser returns the typed Arrow array and, separately, the values that were present but
could not be parsed (those rows are rejected with a reason; they are never confused with nulls).

Text input takes a fast path first: one strict Arrow cast of the whole column, which succeeds for
clean data. Only when it raises does the parser trim, null out what does not match the type's
pattern and locate any remaining bad values (see
:func:`~etl_assets.lib.transforms.arrays.cast_or_null`). Native input (JSON numbers, Parquet
types) is converted by type with the same acceptance rules as text: ``"12.0"`` and ``12.0`` are
both the int 12; ``"12.5"`` and ``12.5`` both fail.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.arrays import (
    TEXT,
    all_ascii,
    as_text,
    cast_or_null,
    has_any_byte,
    is_text,
    null_where,
    to_arrow,
    to_mask,
    valid_mask,
)
from etl_assets.lib.transforms.canonical import (
    canonical_date,
    canonical_datetime,
    canonical_float,
    canonical_int,
)
from etl_assets.lib.transforms.parsed import Coerced, Failure, failed_where, matching, try_cast
from etl_assets.lib.transforms.strings import normalise, trim
from etl_assets.lib.transforms.temporal import cast_datetime, parse_date, parse_datetime

_INT_TEXT = r"^[+-]?\d+(?:\.0*)?$"
_FLOAT_TEXT = r"(?i)^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)$"
_DECIMAL_EXPONENT = r"(?i)^[+-]?(?:\d+\.?\d*|\.\d+)e[+-]?\d+$"
_INT64_LIMIT = 2.0**63


def _is_number(array: pa.Array) -> bool:
    return pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type)


# --------------------------------------------------------------------------- numbers


def parse_int(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Ints: ``12``, ``+12``, ``12.0`` (integral float text); not ``12.5``, ``1e3`` or beyond int64."""
    message = "is not an int"
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return failed_where(cast_or_null(array, pa.int64()), valid_mask(array), message)
    if pa.types.is_floating(array.type):
        integral = pc.and_(pc.equal(pc.floor(array), array), pc.less(pc.abs(array), _INT64_LIMIT))
        candidate = pc.if_else(integral, array, pa.nulls(1, array.type)[0])
        return failed_where(candidate.cast(pa.int64(), safe=False), valid_mask(array), message)
    text = as_text(array)
    fast = _int_cast(text)
    if fast is not None:
        return Coerced(fast)
    text = trim(text, spec)
    present = valid_mask(text)
    candidate = pc.utf8_ltrim(matching(text, _INT_TEXT), characters="+")
    point = to_mask(pc.greater_equal(pc.find_substring(candidate, "."), 0))
    if point.any():  # "12.0": drop the zero fraction (only where there is one: regex replace is slow)
        whole = pc.replace_substring_regex(candidate.filter(pa.array(point)), r"\.0*$", "")
        candidate = pc.replace_with_mask(candidate, pa.array(point), whole)
    return failed_where(cast_or_null(candidate, pa.int64()), present, message)


def _int_cast(text: pa.Array) -> pa.Array | None:
    """One strict Arrow cast of the whole column to int64, or None. Arrow also reads hex
    (``0x1F`` is 31), which the per-value rules reject: a column with an ``x`` anywhere goes to
    them, so a value's result never depends on the values beside it."""
    if has_any_byte(text, b"xX"):
        return None
    return try_cast(text, pa.int64())


def parse_float(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Floats: decimal or exponent notation, ``inf``/``nan`` as Arrow reads them (NaN is null)."""
    message = "is not a number"
    if _is_number(array):
        return failed_where(cast_or_null(array, pa.float64()), valid_mask(array), message)
    text = as_text(array)
    fast = try_cast(text, pa.float64())
    if fast is not None:
        return Coerced(fast)
    text = trim(text, spec)
    present = valid_mask(text)
    return failed_where(cast_or_null(matching(text, _FLOAT_TEXT), pa.float64()), present, message)


def parse_decimal(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Exact decimals. A value with more digits after the point than ``scale`` is rejected, not
    rounded: silently changing an amount is worse than asking for a wider scale. Trailing zeros
    beyond the scale are fine (``1.2500`` is ``1.25``)."""
    assert spec.precision is not None and spec.scale is not None
    target = pa.decimal128(spec.precision, spec.scale)
    whole = spec.precision - spec.scale
    message = f"is not a decimal with at most {whole} digits before and {spec.scale} after the point"
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return failed_where(cast_or_null(array, target), valid_mask(array), message)
    # Floats go through their shortest text ("0.1", not 0.1000000000000000055...).
    text = as_text(array)
    fast = try_cast(text, target)
    if fast is not None:
        return Coerced(fast)
    text = trim(text, spec)
    present = valid_mask(text)
    plain = pc.and_(
        pc.match_substring_regex(text, rf"^[+-]?0*\d{{0,{whole}}}(?:\.\d{{0,{spec.scale}}}0*)?$"),
        pc.match_substring_regex(text, r"\d"),
    )
    candidates = pc.or_(plain, pc.match_substring_regex(text, _DECIMAL_EXPONENT))
    return failed_where(cast_or_null(null_where(text, ~to_mask(candidates)), target), present, message)


# --------------------------------------------------------------------------- bool and text


def parse_bool(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """``true_values`` / ``false_values``, case-insensitively; numbers by their text (1, 0).

    Parsed once per distinct value (a bool column has a handful): trimming and lower-casing
    every row cost three copies of the column (~35 ms at 1M rows), one dictionary encoding
    is the only pass over it."""
    if pa.types.is_boolean(array.type):
        return Coerced(array)
    text = as_text(array)
    if _arrow_words_agree(spec):
        fast = try_cast(text, pa.bool_())
        if fast is not None:
            return Coerced(fast)
    return _by_distinct(text, spec, _bool_values)


#: What Arrow's text-to-bool cast accepts, any case, and what each means.
_ARROW_TRUE, _ARROW_FALSE = ("true", "1"), ("false", "0")


def _arrow_words_agree(spec: ColumnSpec) -> bool:
    """Whether Arrow's cast means what the spec means for every value it accepts, so a cast
    that succeeds on the whole column (clean data: half the time of one dictionary encoding)
    gives what the per-value parse gives. Not so when ``true_values`` leave out ``1``, say."""
    truthy = {value.lower() for value in spec.true_values}
    falsy = {value.lower() for value in spec.false_values}
    # a word in both lists is true (the true list is looked up first)
    return truthy.issuperset(_ARROW_TRUE) and falsy.issuperset(_ARROW_FALSE) and truthy.isdisjoint(_ARROW_FALSE)


def _bool_values(text: pa.Array, spec: ColumnSpec) -> Coerced:
    text = trim(text, spec)
    truthy = [v.lower() for v in spec.true_values]
    falsy = [v.lower() for v in spec.false_values]
    lowered = pc.ascii_lower(text) if all_ascii(text) else pc.utf8_lower(text)
    position = pc.index_in(lowered, value_set=pa.array([*truthy, *falsy], type=TEXT))
    message = f"is not a boolean ({'/'.join(spec.true_values)} or {'/'.join(spec.false_values)})"
    return failed_where(pc.less(position, len(truthy)), valid_mask(text), message)


def parse_string(array: pa.Array, spec: ColumnSpec) -> Coerced:
    return Coerced(normalise(as_text(array), spec))


def sorted_dictionary(text: pa.Array) -> pa.DictionaryArray:
    """Dictionary-encode with the categories in sorted order, so the same values give the same
    categories (and codes) whatever order the rows came in, e.g. in every daily partition."""
    encoded = pc.dictionary_encode(text)
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    if (order == np.arange(len(order))).all():
        return encoded
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    indices = pc.take(pa.array(rank), encoded.indices)
    return pa.DictionaryArray.from_arrays(indices, encoded.dictionary.take(pa.array(order)))


def _category_values(text: pa.Array, spec: ColumnSpec) -> Coerced:
    text = normalise(text, spec)
    if spec.categories is None:
        return Coerced(sorted_dictionary(text))
    categories = pa.array(spec.categories, type=TEXT)
    position = pc.index_in(text, value_set=categories).cast(pa.int32())
    values = pa.DictionaryArray.from_arrays(position, categories)
    return failed_where(values, valid_mask(text), f"is not one of {', '.join(spec.categories)}")


def parse_category(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Normalised text as categories; with declared ``categories`` anything else is rejected.

    The column is dictionary-encoded first, so normalisation runs once per distinct value."""
    return _by_distinct(as_text(array), spec, _category_values)


# --------------------------------------------------------------------------- dispatch

PARSERS: dict[str, Callable[[pa.Array, ColumnSpec], Coerced]] = {
    "int": parse_int,
    "float": parse_float,
    "decimal": parse_decimal,
    "bool": parse_bool,
    "string": parse_string,
    "category": parse_category,
    "date": parse_date,
    "datetime": parse_datetime,
}


def _expand(inner: Coerced, indices: pa.Array) -> Coerced:
    """Results parsed per distinct value, expanded to every row through dictionary indices."""
    positions = np.asarray(pc.fill_null(indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    present = valid_mask(indices)
    failures = [Failure(f.mask[positions] & present, f.message) for f in inner.failures]
    return Coerced(inner.values.take(indices), [f for f in failures if f.mask.any()])


def _by_distinct(text: pa.Array, spec: ColumnSpec, parse: Callable[[pa.Array, ColumnSpec], Coerced]) -> Coerced:
    encoded = pc.dictionary_encode(text)
    return _expand(parse(encoded.dictionary, spec), encoded.indices)


#: Types whose plain text form is recognised off the buffers (see :mod:`.canonical`).
CANONICAL: dict[str, Callable[[pa.Array], np.ndarray | None]] = {
    "int": canonical_int,
    "float": canonical_float,
    "date": canonical_date,
    "datetime": canonical_datetime,
}
#: Above this share of odd values, parsing the column in two parts saves nothing.
_MAX_ODD_SHARE = 0.5
#: Leading values judged to choose between a whole-column cast and the screen.
_SAMPLE = 2048
_CAST_TO = {"int": pa.int64(), "float": pa.float64(), "date": pa.date32()}


def _with_nulls(text: pa.Array, nulls: np.ndarray) -> pa.Array:
    """``text`` with ``nulls`` set to null, sharing its offsets and data (only a new validity
    bitmap is built; the values under a null are never read)."""
    if text.offset:
        return null_where(text, nulls)
    valid = valid_mask(text) & ~nulls
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    _, offsets, data = text.buffers()[:3]
    return pa.Array.from_buffers(text.type, len(text), [bitmap, offsets, data], null_count=int(len(valid) - valid.sum()))


def _merge(plain: Coerced, odd: Coerced, positions: np.ndarray, odd_mask: np.ndarray) -> Coerced:
    """The plain part's values with the odd part's at ``positions``; failures by message, in
    the order the full parser reports them (the odd part has every parse failure)."""
    values = pc.replace_with_mask(plain.values, pa.array(odd_mask), odd.values)
    masks: dict[str, np.ndarray] = {}
    for failure in odd.failures:
        mask = masks.setdefault(failure.message, np.zeros(len(odd_mask), dtype=bool))
        mask[positions] |= failure.mask
    for failure in plain.failures:
        masks.setdefault(failure.message, np.zeros(len(odd_mask), dtype=bool))
        masks[failure.message] |= failure.mask
    return Coerced(values, [Failure(mask, message) for message, mask in masks.items()])


def _whole_cast(array: pa.Array, spec: ColumnSpec) -> Coerced | None:
    """The parser's fast path for text: one strict cast of the whole column, or None."""
    if spec.type == "datetime":
        return cast_datetime(array, spec)
    if spec.type == "int":
        fast = _int_cast(as_text(array))
        return None if fast is None else Coerced(fast)
    fast = try_cast(as_text(array), _CAST_TO[spec.type])
    return None if fast is None else Coerced(fast)


def _split_parse(array: pa.Array, spec: ColumnSpec) -> Coerced | None:
    """Parse a text column with a whole-column cast if it has no odd value, else in two parts:
    its canonical values with one strict cast, the others with the full parser. None when that
    is not worth it (mostly odd values, a custom format, not text): the caller then runs the
    full parser on the column.

    A sample decides which comes first: the whole-column cast (cheap on clean data) or the
    screen (a failing cast of a dirty column is as dear as a good one, for nothing). Each
    value's result depends on that value alone (the full parser's fast and slow paths agree on
    every value Arrow's cast accepts), so the parts give what the whole would."""
    judge = CANONICAL.get(spec.type)
    if judge is None or spec.format is not None or not is_text(array) or len(array) < 2:
        return None
    sample = array.slice(0, _SAMPLE)
    sample_plain = judge(sample)
    if sample_plain is None:
        return None
    if not (valid_mask(sample) & ~sample_plain).any():
        fast = _whole_cast(array, spec)
        if fast is not None:
            return fast
    plain_mask = judge(array)
    assert plain_mask is not None
    odd_mask = valid_mask(array) & ~plain_mask
    odd_count = int(odd_mask.sum())
    if odd_count == 0 or odd_count > _MAX_ODD_SHARE * len(array):
        return None
    parse = PARSERS[spec.type]
    positions = np.flatnonzero(odd_mask)
    plain = parse(_with_nulls(array, odd_mask), spec)
    odd_values = array.take(pa.array(positions))
    odd = parse_datetime(odd_values, spec, cast_first=False) if spec.type == "datetime" else parse(odd_values, spec)
    if plain.values.type != odd.values.type:
        return None
    return _merge(plain, odd, positions, odd_mask)


def coerce_array(array: pa.Array, spec: ColumnSpec) -> Coerced:
    """Parse an Arrow array. Dictionary input (a Parquet or pandas category) is parsed once per
    distinct value and expanded through its indices; dirty text is parsed in two parts."""
    if isinstance(array.type, pa.DictionaryType):
        return _expand(coerce_array(array.dictionary, spec), array.indices)
    split = _split_parse(array, spec)
    if split is not None:
        return split
    return PARSERS[spec.type](array, spec)


def coerce_column(values: pd.Series, spec: ColumnSpec) -> Coerced:
    return coerce_array(to_arrow(values), spec)


def coerce_default(value: object, spec: ColumnSpec) -> pa.Scalar:
    """The declared default, parsed with the column's own rules (so 'U' must be one of the
    declared categories and '0' a valid int). Raises ValueError when it is not."""
    coerced = coerce_column(pd.Series([value], dtype=object), spec)
    if coerced.failed[0] or coerced.values.null_count:
        raise ValueError(f"default {value!r} is not a valid {spec.type} value for this column")
    return coerced.values[0]
