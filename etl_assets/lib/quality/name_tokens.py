"""Column names as whole-word tokens, so name hints never match inside another word.

``Miles_per_Gallon`` is ``miles per gallon``: it does not contain the hint ``lon``. Names are
split on anything that is not a letter or digit (snake_case, spaces, dots, dashes), on camelCase
and acronym boundaries (``startDate``, ``HTTPStatus``) and between letters and digits
(``sal87``, ``name1``).
"""

from __future__ import annotations

import re
from functools import cache

_CAMEL = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"
)


@cache
def name_tokens(name: str) -> tuple[str, ...]:
    """The lower-case word tokens of a column name."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    return tuple(t.lower() for w in words if w for t in _CAMEL.split(w) if t)


def hint_matches(name: str, hint: str) -> bool:
    """Whether ``hint`` (itself tokenised: ``first_name`` is ``first name``) appears as whole
    consecutive tokens of ``name``, or the hint's tokens written together are one token of the
    name (``firstname`` matches the hint ``first_name``)."""
    tokens = name_tokens(name)
    wanted = name_tokens(hint)
    if not wanted:
        return False
    size = len(wanted)
    if any(tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1)):
        return True
    return size > 1 and "".join(wanted) in tokens


def any_hint(name: str, hints: tuple[str, ...]) -> bool:
    return any(hint_matches(name, hint) for hint in hints)
