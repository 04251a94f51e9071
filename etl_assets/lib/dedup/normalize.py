"""Normalisation of field values before they are compared or hashed.

Two values that differ only in case, accents, unicode form, punctuation or spacing are the same
value for deduplication; everything here maps them to one text so exact keys, blocking keys and
comparators agree on what "the same" means.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\D+")


def normalize_text(value: object) -> str | None:
    """NFKC, accents stripped, case-folded, punctuation as space, whitespace collapsed.

    ``None``/NaN and values that normalise to nothing are ``None`` (missing, never "equal").
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value)
    if text.isascii():  # the common case: no accents or compatibility forms to fold
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = unicodedata.normalize("NFKC", text).casefold()
    text = _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()
    return text or None


def normalize_series(values: pd.Series, kind: str = "text") -> pd.Series:
    """Normalise a column for comparison; ``kind`` ``digits`` keeps only digits (ids), ``phone`` the last 10 digits,
    ``email`` lower-cases and trims (punctuation is meaningful there). Object dtype, None for missing.

    Works on the unique values only, so repeated values cost one normalisation.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object).tolist()  # plain str: iterating an Arrow-backed Index is slow
    if kind == "digits":
        normalised = [(_DIGITS.sub("", str(u)) or None) for u in uniques]
    elif kind == "phone":
        # digits; of a longer number, the last 10 (a leading country code or trunk 0 is optional)
        normalised = [(_DIGITS.sub("", str(u))[-10:] or None) for u in uniques]
    elif kind == "email":
        normalised = [(str(u).strip().casefold() or None) for u in uniques]
    elif kind == "raw":
        normalised = [str(u) for u in uniques]
    else:
        normalised = _normalize_texts(uniques)
    table = np.array([*normalised, None], dtype=object)
    return pd.Series(table[np.asarray(codes)], index=values.index, dtype=object)


# normalize_text's regular expressions for ASCII text, in RE2 (Arrow): Python's ``\w`` and
# ``\s`` spelt out, since RE2's ``\s`` lacks \v and the \x1c-\x1f separators str.isspace() has
_ASCII_SPACE = r"\t\n\x0b\x0c\r \x1c-\x1f"
_ASCII_PUNCTUATION = rf"[^0-9A-Za-z_{_ASCII_SPACE}]+"


def _normalize_texts(values: object) -> list[str | None]:
    """:func:`normalize_text` of many values: ASCII strings vectorised in Arrow (one pass per
    step instead of a Python call per value: 5M calls cost a minute at 1M records), the rest
    one by one."""
    items = np.asarray(values, dtype=object).tolist()  # not list(): an Arrow-backed Index iterates slowly
    ascii_at = [k for k, v in enumerate(items) if isinstance(v, str) and v.isascii()]
    out: list[str | None] = [None] * len(items)
    if len(ascii_at) < 1000:
        return [normalize_text(v) for v in items]
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array([items[k] for k in ascii_at], type=pa.string())
    text = pc.ascii_lower(text)
    text = pc.replace_substring_regex(text, pattern=_ASCII_PUNCTUATION, replacement=" ")
    text = pc.replace_substring_regex(text, pattern=f"[{_ASCII_SPACE}]+", replacement=" ")
    text = pc.utf8_trim(text, characters=" ")
    for k, v in zip(ascii_at, text.to_pylist(), strict=True):
        out[k] = v or None
    is_ascii = np.zeros(len(items), dtype=bool)
    is_ascii[ascii_at] = True
    for k in np.flatnonzero(~is_ascii).tolist():
        out[k] = normalize_text(items[k])
    return out


def key_hash(frame: pd.DataFrame, fields: Sequence[str]) -> np.ndarray:
    """A stable 64-bit hash per row of the normalised values of ``fields`` (exact normalised key).

    Rows with any missing key field get a distinct negative value each: a missing value never
    makes two rows "the same".
    """
    parts = [normalize_series(frame[f]).to_numpy(dtype=object) for f in fields]
    joined = [None if any(v is None for v in values) else "\x1f".join(values) for values in zip(*parts, strict=True)]
    out = np.empty(len(frame), dtype=np.int64)
    cache: dict[str, int] = {}
    for i, value in enumerate(joined):
        if value is None:
            out[i] = -(i + 1)  # unique negative: missing keys never collide
            continue
        cached = cache.get(value)
        if cached is None:
            digest = hashlib.blake2b(value.encode(), digest_size=8).digest()
            cached = int.from_bytes(digest, "little", signed=True) & 0x7FFFFFFFFFFFFFFF
            cache[value] = cached
        out[i] = cached
    return out
