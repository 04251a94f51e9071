"""Field comparators: how alike two records are on one field, as a similarity and a level.

Each comparator turns the pair's two values into a similarity in [0, 1] (rapidfuzz's string
metrics, numeric and date closeness, embedding cosine) and then into a discrete agreement level
(0 = disagree ... n = exact) by its thresholds. Fellegi-Sunter weights are fitted per level, so
the thresholds only need to separate "same", "nearly the same" and "different"; what a level is
worth is learnt from the data. A missing value on either side is its own state: it contributes
no evidence either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel, JaroWinkler, Levenshtein

from etl_assets.lib.dedup.normalize import normalize_series

#: Comparators a spec can name.
COMPARATORS = (
    "exact", "name", "jaro_winkler", "levenshtein", "token_set", "email", "phone", "numeric", "date", "embedding"
)


@dataclass(frozen=True)
class FieldComparison:
    """Per pair: similarity in [0, 1] (NaN where missing) and agreement level (-1 where missing)."""

    similarity: np.ndarray
    levels: np.ndarray
    n_levels: int


def similarity_levels(similarity: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    levels = np.zeros(len(similarity), dtype=np.int8)
    for threshold in thresholds:
        levels += similarity >= threshold - 1e-9
    levels[np.isnan(similarity)] = -1
    return levels


def _string_similarity(left: np.ndarray, right: np.ndarray, scorers: tuple[Callable[..., float], ...]) -> np.ndarray:
    """Element-wise similarity (rapidfuzz ``cpdist``, all cores); the best of several scorers."""
    ok = (left != None) & (right != None)  # noqa: E711 - element-wise on object arrays of str/None
    sim = np.full(len(left), np.nan)
    if ok.any():
        lv = left[ok].tolist()
        rv = right[ok].tolist()
        best = None
        for scorer in scorers:
            values = process.cpdist(lv, rv, scorer=scorer, workers=-1, dtype=np.float32)
            if scorer in _PERCENT:
                values = values / 100.0
            best = values if best is None else np.maximum(best, values)
        sim[ok] = best
    return sim


#: Above this share of distinct values per row, pairs are compared directly, not per distinct pair.
_MANY_DISTINCT = 0.5


def many_distinct(values: np.ndarray) -> bool:
    """Whether pairs of ``values`` are compared one by one (else once per distinct value pair)."""
    return len(pd.unique(values)) > _MANY_DISTINCT * len(values)


def _unique_pair_similarity(
    values: np.ndarray, left: np.ndarray, right: np.ndarray, scorers: tuple[Callable[..., float], ...]
) -> np.ndarray:
    """String similarity computed once per distinct (value, value) pair: a field with few
    distinct values (city, company) costs a handful of comparisons, not one per pair."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) > _MANY_DISTINCT * len(values):
        return _string_similarity(values[left], values[right], scorers)
    width = np.int64(len(uniques) + 1)
    packed = (codes[left].astype(np.int64) + 1) * width + (codes[right].astype(np.int64) + 1)
    inverse, distinct = pd.factorize(packed)  # hashing: no sort of millions of pairs
    table = np.array([*uniques.tolist(), None], dtype=object)  # code -1 -> None
    sim = _string_similarity(table[distinct // width - 1], table[distinct % width - 1], scorers)
    return sim[inverse]


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _dates(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.ArrowDtype) or pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values.astype("datetime64[us]") if isinstance(values.dtype, pd.ArrowDtype) else values)
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def _date_parts(dates: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: nanoseconds since the epoch, year, month, day, and whether the date is present."""
    stamps = np.asarray(dates.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")), dtype="datetime64[ns]")
    ok = ~np.isnat(stamps)
    days = stamps.astype("datetime64[D]")  # floors, also before 1970
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return stamps.astype(np.int64), year, month, day, ok


def _date_similarity(dates: pd.Series, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 same day; 0.9 one digit wrong in the YYYYMMDD text or day/month swapped; 0.5 within 31
    days; else 0. Vectorised on the rows' date parts, taken once per row, then indexed per pair
    (no per-pair pandas datetime accessors: at 1M records those cost more than the strings)."""
    stamp, year, month, day, present = _date_parts(dates)
    ok = present[left] & present[right]
    sim = np.full(len(left), np.nan)
    if not ok.any():
        return sim
    li, ri = left[ok], right[ok]
    ly, lm, ld = year[li], month[li], day[li]
    ry, rm, rd = year[ri], month[ri], day[ri]
    wrong_digits = (
        (ly // 1000 != ry // 1000).astype(np.int8) + (ly // 100 % 10 != ry // 100 % 10) + (ly // 10 % 10 != ry // 10 % 10)
        + (ly % 10 != ry % 10) + (lm // 10 != rm // 10) + (lm % 10 != rm % 10) + (ld // 10 != rd // 10) + (ld % 10 != rd % 10)
    )
    swapped = (ly == ry) & (lm == rd) & (ld == rm)
    days = np.abs((stamp[li] - stamp[ri]) / 86_400e9)
    sim[ok] = np.select([wrong_digits == 0, (wrong_digits == 1) | swapped, days <= 31], [1.0, 0.9, 0.5], 0.0)
    return sim


def _numeric_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.maximum(np.abs(left), np.abs(right)), 1e-12)
    with np.errstate(invalid="ignore"):
        return np.clip(1.0 - np.abs(left - right) / scale, 0.0, 1.0)


#: Level thresholds per comparator (similarity at or above each one adds a level).
THRESHOLDS: dict[str, tuple[float, ...]] = {
    "exact": (1.0,),
    "name": (0.85, 0.92, 1.0),
    "jaro_winkler": (0.85, 0.92, 1.0),
    "levenshtein": (0.75, 0.9, 1.0),
    "token_set": (0.75, 0.9, 1.0),
    "email": (0.8, 0.9, 1.0),
    "phone": (0.8, 0.9, 1.0),
    "numeric": (0.9, 0.99, 1.0),
    "date": (0.5, 0.9, 1.0),
    "embedding": (0.7, 0.85, 0.95),
}

#: rapidfuzz scorers per comparator (native, so ``cpdist`` runs without Python per pair); with
#: several, the best counts. ``name``: Jaro-Winkler, or token-sort ratio for swapped name parts.
_SCORERS: dict[str, tuple[Callable[..., float], ...]] = {
    "name": (JaroWinkler.normalized_similarity, fuzz.token_sort_ratio),
    "jaro_winkler": (JaroWinkler.normalized_similarity,),
    "levenshtein": (Levenshtein.normalized_similarity,),
    "token_set": (fuzz.token_set_ratio,),
    "email": (Levenshtein.normalized_similarity,),
    "phone": (Levenshtein.normalized_similarity,),
}
_PERCENT = {fuzz.token_sort_ratio, fuzz.token_set_ratio}

_NORMALISATION = {"email": "email", "phone": "phone"}


def prepare(values: pd.Series, compare: str) -> object:
    """Per-row values ready for :func:`compare_pairs` (normalised text, numbers or dates)."""
    if compare == "numeric":
        return _numbers(values)
    if compare == "date":
        return _dates(values)
    if compare == "embedding":
        raise ValueError("embedding fields are prepared by the embedding model, not here")
    return normalize_series(values, _NORMALISATION.get(compare, "text")).to_numpy(dtype=object)


def token_sorted(values: np.ndarray) -> np.ndarray:
    """Each text with its tokens sorted (``token_sort_ratio``'s preprocessing), once per distinct
    text: with it, ``name`` compares pairs by a plain Indel ratio instead of re-sorting both
    texts of every pair (at 1M records, 22.8M pairs)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([*(" ".join(sorted(u.split())) for u in uniques), None], dtype=object)
    return table[np.asarray(codes)]


def _name_similarity(values: np.ndarray, sorted_values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The ``name`` comparator (best of Jaro-Winkler and token-sort ratio) with the token-sort
    texts precomputed: equal to ``fuzz.token_sort_ratio`` (Indel ratio of the token-sorted
    texts, in percent as float32, then / 100), bit for bit."""
    ok = (values[left] != None) & (values[right] != None)  # noqa: E711 - element-wise on object arrays
    sim = np.full(len(left), np.nan)
    if ok.any():
        li, ri = left[ok], right[ok]
        jw = process.cpdist(values[li].tolist(), values[ri].tolist(), scorer=JaroWinkler.normalized_similarity,
                            workers=-1, dtype=np.float32)
        indel = process.cpdist(sorted_values[li].tolist(), sorted_values[ri].tolist(),
                               scorer=Indel.normalized_similarity, workers=-1, dtype=np.float64)
        token_sort = (indel * 100).astype(np.float32) / np.float32(100.0)
        sim[ok] = np.maximum(jw, token_sort)
    return sim


def compare_pairs(
    prepared: object, compare: str, left: np.ndarray, right: np.ndarray, *, sorted_tokens: np.ndarray | None = None
) -> FieldComparison:
    """Compare rows ``left[k]`` and ``right[k]`` of one prepared field with comparator ``compare``.

    ``sorted_tokens``: :func:`token_sorted` of the prepared values, for ``name`` (same result;
    faster when the values are mostly distinct, see :func:`many_distinct`)."""
    if compare == "name" and sorted_tokens is not None:
        sim = _name_similarity(np.asarray(prepared, dtype=object), sorted_tokens, left, right)
    elif compare == "numeric":
        values = np.asarray(prepared)
        sim = _numeric_similarity(values[left], values[right])
    elif compare == "date":
        sim = _date_similarity(prepared, left, right)  # type: ignore[arg-type]
    elif compare == "embedding":
        vectors = np.asarray(prepared, dtype=np.float32)  # L2-normalised, NaN rows for missing
        sim = np.einsum("ij,ij->i", vectors[left], vectors[right]).astype(float)
    elif compare == "exact":
        values = np.asarray(prepared, dtype=object)
        a, b = values[left], values[right]
        missing = pd.isna(a) | pd.isna(b)
        sim = np.where(missing, np.nan, (a == b).astype(float))
    else:
        sim = _unique_pair_similarity(np.asarray(prepared, dtype=object), left, right, _SCORERS[compare])
    thresholds = THRESHOLDS[compare]
    return FieldComparison(sim.astype(float), similarity_levels(sim.astype(float), thresholds), len(thresholds) + 1)
