"""Blocking key functions: ``soundex(last_name)``, ``metaphone(name)``, ``first3(city)``, ``year(dob)``.

A blocking rule is a list of such terms; two records become candidates when every term of one
rule agrees. Phonetic keys (jellyfish) let ``Smith``/``Smyth`` meet; prefixes and years keep
blocks small enough to compare all pairs inside.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jellyfish
import numpy as np
import pandas as pd

from etl_assets.lib.dedup.normalize import normalize_series

_TERM = re.compile(r"^\s*(?:(?P<fn>[a-z]+[0-9]*)\s*\(\s*(?P<arg>\w+)\s*\)|(?P<bare>\w+))\s*$")


def _first_n(n: int) -> Callable[[str], str]:
    return lambda text: text.replace(" ", "")[:n]


def _phonetic(fn: Callable[[str], str]) -> Callable[[str], str]:
    # phonetic codes per token, so "van der berg" and "berg" still share a leading token code
    return lambda text: " ".join(fn(token) for token in sorted(text.split()) if token)


_TEXT_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "exact": lambda text: text,
    "soundex": _phonetic(jellyfish.soundex),
    "metaphone": _phonetic(jellyfish.metaphone),
    "nysiis": _phonetic(jellyfish.nysiis),
    "sorted": lambda text: " ".join(sorted(text.split())),
    "digits": lambda text: re.sub(r"\D", "", text),
    "phone": lambda text: re.sub(r"\D", "", text)[-10:],
    "last4": lambda text: re.sub(r"\D", "", text)[-4:],
}


def parse_term(term: str) -> tuple[str, str]:
    """``"soundex(last_name)"`` -> ``("soundex", "last_name")``; ``"email"`` -> ``("exact", "email")``."""
    match = _TERM.match(term)
    if not match:
        raise ValueError(f"blocking term {term!r}: expected 'column' or 'function(column)'")
    if match["bare"]:
        return "exact", match["bare"]
    fn = match["fn"]
    if fn not in _TEXT_FUNCTIONS and fn != "year" and not re.fullmatch(r"first[1-9][0-9]*", fn):
        known = ", ".join([*_TEXT_FUNCTIONS, "year", "firstN"])
        raise ValueError(f"blocking term {term!r}: unknown function {fn!r}; expected one of {known}")
    return fn, match["arg"]


def term_values(frame: pd.DataFrame, term: str) -> pd.Series:
    """The blocking key of every row for one term (object dtype, None where the value is missing)."""
    fn, column = parse_term(term)
    values = frame[column]
    if fn == "year":
        years = pd.to_datetime(values, errors="coerce").dt.year
        text = years.astype("Int64").astype("string")
        return pd.Series(np.where(years.isna(), None, text.fillna("")), index=frame.index, dtype=object)
    normalised = normalize_series(values)
    function = _first_n(int(fn[5:])) if fn.startswith("first") else _TEXT_FUNCTIONS[fn]
    codes, uniques = pd.factorize(normalised, use_na_sentinel=True)
    mapped = np.array([*(function(u) or None for u in uniques), None], dtype=object)
    return pd.Series(mapped[np.asarray(codes)], index=frame.index, dtype=object)


def rule_codes(frame: pd.DataFrame, rule: list[str]) -> np.ndarray:
    """A dense int64 block id per row for one rule; -1 where any term is missing."""
    codes = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for term in rule:
        values = term_values(frame, term)
        term_codes, uniques = pd.factorize(values, use_na_sentinel=True)
        term_codes = np.asarray(term_codes, dtype=np.int64)
        missing |= term_codes < 0
        codes = codes * (len(uniques) + 1) + term_codes + 1
        codes = np.asarray(pd.factorize(codes)[0], dtype=np.int64)
    codes[missing] = -1
    return codes
