"""Column names as comparable tokens: split, lower-cased, abbreviations and synonyms expanded.

``cust_no``, ``CustomerNumber`` and ``customer number`` all become ``customer number``;
``fname`` / ``GivenName`` become ``first name``; ``tel`` becomes ``phone``.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")

#: Abbreviations and synonyms, each mapped to the canonical words.
EXPANSIONS: dict[str, str] = {
    "fname": "first name", "lname": "last name", "fn": "first name", "ln": "last name",
    "firstname": "first name", "lastname": "last name", "given": "first", "forename": "first name",
    "family": "last", "surname": "last name", "sname": "last name",
    "tel": "phone", "telephone": "phone", "mobile": "phone", "cell": "phone", "ph": "phone", "phonenumber": "phone",
    "email": "email", "mail": "email", "emailaddress": "email", "e": "e",
    "dob": "birth date", "birthdate": "birth date", "birthday": "birth date", "born": "birth date",
    "bdate": "birth date", "dateofbirth": "birth date",
    "cust": "customer", "client": "customer", "no": "id", "num": "id", "nbr": "id", "number": "id", "key": "id",
    "employer": "company", "organisation": "company", "organization": "company", "org": "company",
    "firm": "company", "companyname": "company", "corp": "company",
    "town": "city", "municipality": "city", "addr": "address", "zip": "postal code", "zipcode": "postal code",
    "postcode": "postal code", "qty": "quantity", "amt": "amount", "dt": "date", "ts": "timestamp",
    "desc": "description", "cat": "category", "nm": "name",
}
_DROP = {"of", "the", "a", "an"}


def tokens(name: str) -> list[str]:
    """Canonical tokens of a column name."""
    parts = [p for p in _SPLIT.split(_CAMEL.sub(" ", name)) if p]
    words: list[str] = []
    lowered = [p.lower() for p in parts]
    joined = "".join(lowered)
    if joined in EXPANSIONS and len(lowered) > 1:  # "e_mail", "Date_Of_Birth"
        lowered = [joined]
    for part in lowered:
        expanded = EXPANSIONS.get(part, part)
        words.extend(w for w in expanded.split() if w not in _DROP)
    if words[:1] == ["e"] and "email" not in words and len(words) > 1 and words[1] == "email":
        words = words[1:]
    return words


def canonical(name: str) -> str:
    return " ".join(tokens(name))


def name_similarity(source: str, target: str, target_description: str | None = None) -> float:
    """Token-set similarity of canonical names (0..1); a description's words count too."""
    a, b = canonical(source), canonical(target)
    if not a or not b:
        return 0.0
    score = fuzz.token_set_ratio(a, b) / 100.0
    sorted_score = fuzz.token_sort_ratio(a, b) / 100.0
    best = 0.5 * score + 0.5 * sorted_score
    if target_description:
        best = max(best, 0.9 * fuzz.token_set_ratio(a, canonical(target_description)) / 100.0)
    return float(best)
