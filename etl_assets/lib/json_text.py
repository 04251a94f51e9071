"""The one JSON text of a nested value (a list, an object, a Parquet struct or map).

Nested values that have to become text (a JSON field mixing lists and strings, a JSON list in
the raw layer, a Parquet ``list<string>`` declared ``type: string``) are written as JSON, never
as a Python ``repr`` (``['a', 'b']``, ``{'city': 'Y'}``), so any JSON parser downstream reads
them back. The formatting is fixed so that equal values give equal text (dedup, drift and
joins compare text): keys sorted, ``", "``/``": "`` separators, non-ASCII kept as is.

Values JSON has no type for are written as text: dates and times in ISO 8601, decimals in
full, bytes as UTF-8 (undecodable bytes as ``\\xNN``). Non-finite floats inside a nested value
(rare: Parquet ``list<double>`` with NaN) are written as Python's ``NaN``/``Infinity`` tokens,
which Python's and pandas' JSON readers accept.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import numpy as np

__all__ = ["is_nested", "json_text", "scalar_text"]


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta | Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, np.ndarray):  # Arrow list columns converted by pandas
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: One encoder for every call (``json.dumps`` with options builds a new one each time: 2x slower).
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_default)


def json_text(value: Any) -> str:
    """``value`` as JSON with the fixed formatting (see the module docstring)."""
    return _ENCODER.encode(value)


def is_nested(value: Any) -> bool:
    return isinstance(value, dict | list | tuple | np.ndarray)


def scalar_text(value: Any) -> str:
    """A JSON value as the text a mixed-type column keeps: strings as they are, the rest as JSON
    (``1``, ``2.5``, ``true``, ``["a"]``)."""
    return value if isinstance(value, str) else json_text(value)
