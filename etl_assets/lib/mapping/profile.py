"""What a column's values look like: kind (int, float, date, email, phone, text), and how well a
source column's values agree with a target column's declared type and previous values."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SAMPLE = 500
_PATTERNS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "phone": re.compile(r"^\+?[\d\s().-]{7,20}$"),
    "date": re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T].*)?$|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$"),
    "int": re.compile(r"^[+-]?\d+$"),
    "float": re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$"),
    "bool": re.compile(r"^(true|false|t|f|yes|no|y|n)$", re.IGNORECASE),
}

#: Which value kinds fit a declared column type (and how well).
_TYPE_FIT: dict[str, dict[str, float]] = {
    "int": {"int": 1.0},
    "float": {"float": 1.0, "int": 0.9},
    "decimal": {"float": 1.0, "int": 0.9},
    "bool": {"bool": 1.0, "int": 0.3},
    "date": {"date": 1.0},
    "datetime": {"date": 1.0},
    "string": {"text": 1.0, "email": 1.0, "phone": 1.0, "int": 0.6, "float": 0.5, "date": 0.5, "bool": 0.5},
    "category": {"text": 1.0, "int": 0.6, "bool": 0.6},
}


def sample(values: pd.Series, size: int = _SAMPLE) -> list[str]:
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    return present.head(size).tolist()


def value_kinds(values: pd.Series) -> dict[str, float]:
    """Share of sampled values matching each kind (a value may match several)."""
    texts = sample(values)
    if not texts:
        return {}
    shares = {kind: float(np.mean([bool(p.match(t)) for t in texts])) for kind, p in _PATTERNS.items()}
    shares["text"] = float(np.mean([any(c.isalpha() for c in t) for t in texts]))
    return shares


def type_fit(values: pd.Series, declared: str) -> float:
    """How well a source column's values fit a declared type (0..1); 0.5 when it has no values."""
    kinds = value_kinds(values)
    if not kinds:
        return 0.5
    fits = _TYPE_FIT.get(declared, {})
    return float(max((share * fits.get(kind, 0.0) for kind, share in kinds.items()), default=0.0))


def signature(texts: list[str]) -> dict[str, float]:
    """Character-class shape of values (``Aa9@.``-style), as shares: pattern agreement between
    a source column and the target's previous values without needing the same values."""
    counts: dict[str, float] = {}
    for text in texts:
        shape = re.sub(r"[A-Z]+", "A", re.sub(r"[a-z]+", "a", re.sub(r"\d+", "9", text)))
        counts[shape] = counts.get(shape, 0) + 1
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in counts.items()}


def value_agreement(source: pd.Series, previous: pd.Series | None) -> float | None:
    """Agreement with the target's previous data: value overlap (Jaccard on normalised samples),
    or shape agreement when values do not repeat across tables. None without previous data."""
    if previous is None:
        return None
    a, b = sample(source), sample(previous)
    if not a or not b:
        return None
    sa, sb = {t.casefold() for t in a}, {t.casefold() for t in b}
    overlap = len(sa & sb) / max(1, min(len(sa), len(sb)))
    shape_a, shape_b = signature(a), signature(b)
    shape = sum(min(shape_a.get(k, 0.0), shape_b.get(k, 0.0)) for k in set(shape_a) | set(shape_b))
    return float(max(overlap, shape))
