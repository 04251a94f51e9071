"""The two tiny expression forms a spec may contain: metrics and ``having`` conditions.

They are parsed here (not evaluated with ``eval`` or ``DataFrame.query``) so that a spec can
never run code, and so that a typo is reported at load time with the field that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MetricFunction = Literal[
    "count",
    "sum",
    "mean",
    "min",
    "max",
    "median",
    "std",
    "nunique",
    "first",
    "last",
    "null_count",
]
METRIC_FUNCTIONS: tuple[str, ...] = MetricFunction.__args__  # type: ignore[attr-defined]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_METRIC_RE = re.compile(rf"^\s*({_IDENT})\s*\(\s*(\*|{_IDENT})?\s*\)\s*$")
_HAVING_RE = re.compile(rf"^\s*({_IDENT})\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
IDENTIFIER_RE = re.compile(rf"^{_IDENT}$")
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_RULE_RE = re.compile(rf"^\s*({_IDENT})\s*(>=|<=|==|!=|>|<)\s*({_NUMBER}|{_IDENT})\s*$")


@dataclass(frozen=True)
class Metric:
    """``fn(column)``; ``column`` is None for ``count()`` / ``count(*)`` (rows in the group)."""

    function: str
    column: str | None


@dataclass(frozen=True)
class Condition:
    """``name op number``, e.g. ``flights >= 10``."""

    name: str
    op: str
    value: float


def parse_metric(text: str) -> Metric:
    match = _METRIC_RE.match(text)
    if not match:
        raise ValueError(
            f"expected a metric such as 'mean(dep_delay)' or 'count()', got {text!r}"
        )
    function, column = match.group(1), match.group(2)
    if function not in METRIC_FUNCTIONS:
        raise ValueError(
            f"unknown metric function {function!r}; expected one of {', '.join(METRIC_FUNCTIONS)}"
        )
    if column == "*":
        column = None
    if column is None and function != "count":
        raise ValueError(f"{function}() needs a column, e.g. '{function}(dep_delay)'")
    return Metric(function=function, column=column)


def parse_condition(text: str) -> Condition:
    match = _HAVING_RE.match(text)
    if not match:
        raise ValueError(
            "expected a condition '<metric or column> <op> <number>' with op one of "
            f">=, <=, ==, !=, >, <; got {text!r}"
        )
    return Condition(name=match.group(1), op=match.group(2), value=float(match.group(3)))


@dataclass(frozen=True)
class Rule:
    """A cross-field row rule ``column op (column | number)``, e.g. ``arr_time >= 0``."""

    left: str
    op: str
    #: A column name, or a number when ``right_is_column`` is False.
    right: str | float
    right_is_column: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.left, str(self.right)) if self.right_is_column else (self.left,)


def parse_rule(text: str) -> Rule:
    match = _RULE_RE.match(text)
    if not match:
        raise ValueError(
            "expected a rule '<column> <op> <column or number>' with op one of "
            f">=, <=, ==, !=, >, <; got {text!r}"
        )
    left, op, right = match.groups()
    if IDENTIFIER_RE.match(right):
        return Rule(left=left, op=op, right=right, right_is_column=True)
    return Rule(left=left, op=op, right=float(right), right_is_column=False)
