"""Duplicate keys in JSON objects, found while parsing instead of silently resolved.

``json.loads`` keeps the last value of a repeated key (``{"id": 1, "id": 2}`` is ``{"id": 2}``)
and says nothing. :class:`DuplicateKeyHook` is an ``object_pairs_hook`` that builds the same
dicts, but marks every object that repeated a key with what was repeated. The hook only
counts in the common case (no duplicates), so a clean document costs one ``len`` per object;
the records are searched for marks only when the count says there are some.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etl_assets.lib.json_text import json_text

__all__ = ["Duplicate", "DuplicateKeyHook", "describe", "duplicates_in"]


@dataclass(frozen=True)
class Duplicate:
    """A key an object repeated, with every value it was given (in document order)."""

    key: str
    values: tuple[Any, ...]

    def describe(self) -> str:
        shown = ", ".join(json_text(value)[:60] for value in self.values)
        return f"duplicate key {self.key!r} (values {shown})"


class _MarkedDict(dict):  # type: ignore[type-arg]
    """A parsed object that repeated a key; ``duplicates`` says which and with what values."""

    duplicates: tuple[Duplicate, ...] = ()


class DuplicateKeyHook:
    """``object_pairs_hook`` that marks objects with repeated keys and counts them."""

    def __init__(self) -> None:
        self.marked: list[_MarkedDict] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) == len(pairs):
            return built
        values: dict[str, list[Any]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        marked = _MarkedDict(built)
        marked.duplicates = tuple(
            Duplicate(key, tuple(found)) for key, found in values.items() if len(found) > 1
        )
        self.marked.append(marked)
        return marked

    @property
    def found(self) -> int:
        return len(self.marked)

    def reset(self) -> None:
        self.marked.clear()


def duplicates_in(value: Any) -> list[tuple[int, Duplicate]]:
    """Every repeated key inside ``value`` (at any depth), with the ``id`` of its object."""
    found: list[tuple[int, Duplicate]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item, _MarkedDict):
                found.extend((id(item), duplicate) for duplicate in item.duplicates)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


def describe(duplicates: list[tuple[int, Duplicate]]) -> str:
    return "; ".join(duplicate.describe() for _, duplicate in duplicates)
