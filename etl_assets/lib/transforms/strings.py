"""Text normalisation, vectorized on Arrow strings (no Python loop per value).

Trimming applies before parsing any type (``" 12"`` is the int 12 unless ``trim: false``); the
other options (``unicode_form``, ``collapse_whitespace``, ``case``) only change string and
category values. A value that is empty after trimming is null: a blank cell carries no value.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from etl_assets.lib.spec import ColumnSpec
from etl_assets.lib.transforms.arrays import all_ascii, replace_empty_with_null

#: Runs of whitespace, including Unicode spaces such as the no-break space.
_WHITESPACE_RUN = r"(?:\s|\p{Z})+"


def trim(array: pa.Array, spec: ColumnSpec) -> pa.Array:
    """Trimmed (when the column asks for it), blanks as nulls."""
    if spec.trim:
        array = pc.ascii_trim_whitespace(array) if all_ascii(array) else pc.utf8_trim_whitespace(array)
    return replace_empty_with_null(array)


def normalise(array: pa.Array, spec: ColumnSpec) -> pa.Array:
    """Trim, then the declared unicode form, whitespace collapsing and case, in that order.

    The unicode form comes first so that case mapping and whitespace rules see composed
    characters (NFKC also turns e.g. a no-break space into a plain space). Collapsing runs after
    trimming, so it never leaves a leading or trailing space behind.
    """
    array = trim(array, spec)
    ascii_only = all_ascii(array)
    if spec.unicode_form is not None and not ascii_only:
        array = pc.utf8_normalize(array, form=spec.unicode_form)
        if spec.trim:
            array = pc.utf8_trim_whitespace(array)
    if spec.collapse_whitespace:
        array = pc.replace_substring_regex(array, _WHITESPACE_RUN, " ")
    if spec.case == "lower":
        array = pc.ascii_lower(array) if ascii_only else pc.utf8_lower(array)
    elif spec.case == "upper":
        array = pc.ascii_upper(array) if ascii_only else pc.utf8_upper(array)
    elif spec.case == "title":
        array = pc.ascii_title(array) if ascii_only else pc.utf8_title(array)
    return replace_empty_with_null(array)
