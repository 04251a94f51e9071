"""The role of a column, which decides what the draft spec may claim about it.

**Category**: a text column becomes ``type: category`` (with its categories) when its values
are labels drawn from a small set: at most ``MAX_CATEGORIES`` distinct values, each seen about
twice or more on average (distinct values at most ``MAX_DISTINCT_SHARE`` of the non-null rows),
and at least ``MIN_ROWS`` rows to judge from. Identifiers (a name like ``id``/``code``/``key``,
or values that are e-mails, URLs, UUIDs, person names...) and free text (several words per value
on average, or sentences) never become categories, however few their values.

**Key evidence**: ``unique`` on a column (and ``dedup`` keys) fail or drop rows on the next file
when the uniqueness was luck. The draft claims a key only with strong evidence: the column is
unique and complete over at least ``MIN_KEY_ROWS`` rows, it is not a measurement (floats,
dates and times, plain numbers without an identifier name), and its name or its values say
identifier (``id``/``code``/``key``... tokens, or code-like, country or region values). Every
other candidate becomes a comment for the user to review.
"""

from __future__ import annotations

import pandas as pd

from etl_assets.lib.quality.name_tokens import name_tokens

MAX_CATEGORIES = 100
MAX_DISTINCT_SHARE = 0.5
MIN_ROWS = 8
MIN_KEY_ROWS = 10
#: More words than this per distinct value on average: free text.
FREE_TEXT_WORDS = 3.0
#: Wordy values seen this many times each on average are labels, not free text.
LABEL_REPEATS = 5
#: Name tokens that say "identifier".
IDENTIFIER_TOKENS = frozenset(
    {
        "id",
        "ids",
        "key",
        "code",
        "pid",
        "uuid",
        "guid",
        "identifier",
        "tailnum",
        "sku",
        "iso",
        "iso3",
        "faa",
        "iata",
        "icao",
        "abbr",
        "abb",
        "ref",
        "serial",
    }
)
#: Tokens that say "identifier" only as the last word (``order_no``, ``sample_number``; not
#: ``smoking_no_cancer_yes``).
IDENTIFIER_LAST_TOKENS = frozenset({"no", "num", "nr", "number"})
#: Semantic types whose values are identifiers or personal free-form values: never categories.
NOT_CATEGORICAL = frozenset(
    {
        "email",
        "url",
        "uuid",
        "ip_address",
        "phone",
        "ssn",
        "credit_card",
        "person_name",
        "street_address",
    }
)
#: Semantic types whose values identify an entity: evidence for a key.
IDENTIFYING = frozenset(
    {
        "code",
        "uuid",
        "email",
        "country_alpha3",
        "country_code",
        "state_code",
        "state_name",
        "country_name",
        "ticker",
        "city",
    }
)


def identifier_name(name: str) -> bool:
    tokens = name_tokens(name)
    if not tokens:
        return False
    return any(t in IDENTIFIER_TOKENS for t in tokens) or tokens[-1] in IDENTIFIER_LAST_TOKENS


def free_text(distinct: pd.Series, present_rows: int) -> bool:
    """Sentences (a value ending in a full stop after two words or more), or several words per
    value on average when the values seldom repeat. A long label repeated on every row
    (``Fertility rate, total (births per woman)``) is still a label."""
    words = distinct.str.split().str.len().fillna(0)
    sentence = distinct.str.contains(r"\S+\s+\S+.*\.$", regex=True).fillna(False)
    wordy = (
        bool(words.mean() > FREE_TEXT_WORDS)
        and present_rows / max(len(distinct), 1) < LABEL_REPEATS
    )
    return wordy or bool(sentence.any())


def is_category(name: str, distinct: pd.Series, present_rows: int, semantic: str | None) -> bool:
    """Whether a text column with these ``distinct`` (stripped) values over ``present_rows``
    non-null rows is a category (see the module docstring)."""
    count = len(distinct)
    if count == 0 or present_rows < MIN_ROWS or count > MAX_CATEGORIES:
        return False
    if count / present_rows > MAX_DISTINCT_SHARE:
        return False
    if semantic in NOT_CATEGORICAL:
        return False
    if (
        identifier_name(name)
        and count > 1
        and semantic not in ("state_code", "country_code", "country_alpha3")
    ):
        return False
    return not free_text(distinct, present_rows)


def strong_key(name: str, storage: str, semantic: str | None, rows: int) -> bool:
    """Whether a unique, complete column of ``rows`` rows may be declared ``unique`` (and serve
    as a dedup key) in the draft."""
    if rows < MIN_KEY_ROWS or storage in ("float", "bool", "date", "datetime", "category"):
        return False
    if semantic == "person_name":
        return False
    if identifier_name(name):
        return True
    return storage == "string" and semantic in IDENTIFYING


def measurement(name: str, storage: str) -> bool:
    """A measured quantity, not a label: floats, and integers without an identifier name
    (``net_generation``, ``income``, counts). Never a key, not even a key to review."""
    return storage in ("float", "bool") or (storage == "int" and not identifier_name(name))
