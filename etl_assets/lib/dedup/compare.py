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

from etl_assets.lib.dedup.compare_index import (
    DateIndex,
    TextIndex,
    date_index,
    differing_digits,
    text_index,
    with_sorted_tokens,
)
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


def _string_similarity(left: list[str], right: list[str], scorers: tuple[Callable[..., float], ...]) -> np.ndarray:
    """Element-wise similarity of two lists of texts (rapidfuzz ``cpdist``); the best of several scorers."""
    best = None
    for scorer in scorers:
        values = process.cpdist(left, right, scorer=scorer, workers=-1, dtype=np.float32)
        if scorer in _PERCENT:
            values = values / 100.0
        best = values if best is None else np.maximum(best, values)
    return np.asarray(best)


def _text_similarity(
    index: TextIndex, left: np.ndarray, right: np.ndarray, similarity: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Similarity of the texts of rows ``left[k]`` and ``right[k]``: NaN where either is missing,
    1 where both are the same text (every scorer gives 1 there), else ``similarity`` of the two
    texts' ids, computed once per distinct pair of texts when the field has few distinct values
    (city, company: a handful of comparisons, not one per pair)."""
    li, ri = index.codes[left], index.codes[right]
    present = (li >= 0) & (ri >= 0)
    sim = np.full(len(left), np.nan)
    sim[present & (li == ri)] = 1.0
    todo = np.flatnonzero(present & (li != ri))
    if not len(todo):
        return sim
    lt, rt = li[todo], ri[todo]
    if index.many_distinct:
        sim[todo] = similarity(lt, rt)
        return sim
    width = np.int64(len(index.uniques))
    inverse, distinct = pd.factorize(lt.astype(np.int64) * width + rt)  # hashing: no sort of millions of pairs
    sim[todo] = similarity(distinct // width, distinct % width)[inverse]
    return sim


def _scorer_similarity(index: TextIndex, scorers: tuple[Callable[..., float], ...]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def similarity(lt: np.ndarray, rt: np.ndarray) -> np.ndarray:
        return _string_similarity(index.uniques[lt].tolist(), index.uniques[rt].tolist(), scorers)

    return similarity


def _name_similarity(index: TextIndex) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The ``name`` comparator: best of Jaro-Winkler and token-sort ratio, the latter as an Indel
    ratio of texts whose tokens were sorted once per distinct text (not per pair, as
    ``fuzz.token_sort_ratio`` does): equal to it bit for bit (in percent as float32, then / 100)."""
    index = with_sorted_tokens(index)
    sorted_uniques = index.sorted_uniques
    assert sorted_uniques is not None

    def similarity(lt: np.ndarray, rt: np.ndarray) -> np.ndarray:
        jw = process.cpdist(index.uniques[lt].tolist(), index.uniques[rt].tolist(),
                            scorer=JaroWinkler.normalized_similarity, workers=-1, dtype=np.float32)
        indel = process.cpdist(sorted_uniques[lt].tolist(), sorted_uniques[rt].tolist(),
                               scorer=Indel.normalized_similarity, workers=-1, dtype=np.float64)
        return np.maximum(jw, (indel * 100).astype(np.float32) / np.float32(100.0))

    return similarity


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


def _date_similarity(dates: DateIndex, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 same day; 0.9 one digit wrong in the YYYYMMDD text or day/month swapped; 0.5 within 31
    days; else 0. On the rows' date parts indexed once per run (no per-pair pandas datetime
    accessors: at 1M records those cost more than the strings)."""
    ok = dates.present[left] & dates.present[right]
    sim = np.full(len(left), np.nan)
    if not ok.any():
        return sim
    li, ri = left[ok], right[ok]
    wrong_digits = differing_digits(dates.digits[li], dates.digits[ri])
    swapped = (dates.year[li] == dates.year[ri]) & (dates.month[li] == dates.day[ri]) & (dates.day[li] == dates.month[ri])
    days = np.abs((dates.stamp[li] - dates.stamp[ri]) / 86_400e9)
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
#: several, the best counts. ``name`` (Jaro-Winkler, or token-sort ratio for swapped name
#: parts) is :func:`_name_similarity`.
_SCORERS: dict[str, tuple[Callable[..., float], ...]] = {
    "jaro_winkler": (JaroWinkler.normalized_similarity,),
    "levenshtein": (Levenshtein.normalized_similarity,),
    "token_set": (fuzz.token_set_ratio,),
    "email": (Levenshtein.normalized_similarity,),
    "phone": (Levenshtein.normalized_similarity,),
}
_PERCENT = {fuzz.token_set_ratio}

_NORMALISATION = {"email": "email", "phone": "phone"}


def prepare(values: pd.Series, compare: str) -> np.ndarray | TextIndex | DateIndex:
    """Per-row values ready for :func:`compare_pairs`: numbers, a :class:`DateIndex`, or a
    :class:`TextIndex` of the normalised texts (with sorted tokens for ``name``)."""
    if compare == "numeric":
        return _numbers(values)
    if compare == "date":
        return date_index(_dates(values))
    if compare == "embedding":
        raise ValueError("embedding fields are prepared by the embedding model, not here")
    text = normalize_series(values, _NORMALISATION.get(compare, "text")).to_numpy(dtype=object)
    return with_sorted_tokens(text_index(text)) if compare == "name" else text_index(text)


def compare_pairs(prepared: object, compare: str, left: np.ndarray, right: np.ndarray) -> FieldComparison:
    """Compare rows ``left[k]`` and ``right[k]`` of one prepared field (see :func:`prepare`;
    a plain array of texts or dates is indexed here) with comparator ``compare``."""
    if compare == "numeric":
        values = np.asarray(prepared)
        sim = _numeric_similarity(values[left], values[right])
    elif compare == "date":
        dates = prepared if isinstance(prepared, DateIndex) else date_index(_dates(pd.Series(prepared)))
        sim = _date_similarity(dates, left, right)
    elif compare == "embedding":
        vectors = np.asarray(prepared, dtype=np.float32)  # L2-normalised, NaN rows for missing
        sim = np.einsum("ij,ij->i", vectors[left], vectors[right]).astype(float)
    else:
        index = prepared if isinstance(prepared, TextIndex) else text_index(np.asarray(prepared, dtype=object))
        if compare == "exact":
            li, ri = index.codes[left], index.codes[right]
            sim = np.where((li < 0) | (ri < 0), np.nan, (li == ri).astype(float))
        elif compare == "name":
            sim = _text_similarity(index, left, right, _name_similarity(index))
        else:
            sim = _text_similarity(index, left, right, _scorer_similarity(index, _SCORERS[compare]))
    thresholds = THRESHOLDS[compare]
    return FieldComparison(sim.astype(float), similarity_levels(sim.astype(float), thresholds), len(thresholds) + 1)
