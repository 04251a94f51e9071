"""Vectorized text normalisation on Arrow-backed strings (no Python loop per value)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec


def as_arrow_text(values: pd.Series) -> pa.Array:
    """The column as an Arrow string array; non-text input (JSON numbers, ...) is stringified."""
    array = pa.array(values, from_pandas=True) if not isinstance(values.dtype, pd.ArrowDtype) else values.array._pa_array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if isinstance(array.type, pa.DictionaryType):
        array = array.dictionary_decode()
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pa.array([None if v is None else str(v) for v in array.to_pylist()], type=pa.large_string())
    return array.cast(pa.large_string())


def prepare_text(array: pa.Array, spec: ColumnSpec, *, normalise: bool) -> pa.Array:
    """Trim (always for parsing), and for string/category columns apply the declared normalisation.

    An empty string after trimming is a null: a blank cell carries no value.
    """
    if spec.trim:
        array = pc.utf8_trim_whitespace(array)
    if normalise:
        if spec.unicode_form is not None:
            array = pc.utf8_normalize(array, form=spec.unicode_form)
        if spec.collapse_whitespace:
            array = pc.replace_substring_regex(array, r"\s+", " ")
        if spec.case == "lower":
            array = pc.utf8_lower(array)
        elif spec.case == "upper":
            array = pc.utf8_upper(array)
        elif spec.case == "title":
            array = pc.utf8_title(array)
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
