"""Schema drift: classify every difference between two schemas as compatible or breaking.

Compatible (a reader of the old schema still works): an added nullable column, a widening type
change (int32 -> int64, int -> float64, float32 -> float64, date -> timestamp, a coarser to a
finer timestamp unit, a wider decimal, category -> string, string -> large_string, null -> any),
and required -> nullable (relaxing a constraint, as BigQuery and Delta allow); each is described
in the check's metadata.

Breaking: a removed column, an added required column (older rows have no value), a narrowing
type change (the reverse of a widening), any other type change (int -> string, a timezone
change), and nullable -> required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from etl_assets.lib.quality.registry import TableSchemaRecord

ChangeKind = Literal[
    "added_nullable", "added_required", "removed", "widened", "narrowed", "retyped",
    "nullable_to_required", "required_to_nullable",
]  # fmt: skip
BREAKING: frozenset[str] = frozenset({"added_required", "removed", "narrowed", "retyped", "nullable_to_required"})

_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}
_UNIT_RANK = {"s": 0, "ms": 1, "us": 2, "ns": 3}
_TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]$")
_DECIMAL = re.compile(r"^decimal(?:128|256)?\((\d+), ?(-?\d+)\)$")
_STRINGS = {"string", "large_string", "string_view"}


@dataclass(frozen=True)
class SchemaChange:
    kind: ChangeKind
    column: str
    old: str | None = None
    new: str | None = None

    @property
    def breaking(self) -> bool:
        return self.kind in BREAKING

    def __str__(self) -> str:
        text = {
            "added_nullable": f"added nullable column {self.column!r} ({self.new})",
            "added_required": f"added required column {self.column!r} ({self.new}): older rows have no value",
            "removed": f"removed column {self.column!r} ({self.old})",
            "widened": f"widened {self.column!r} from {self.old} to {self.new}",
            "narrowed": f"narrowed {self.column!r} from {self.old} to {self.new}",
            "retyped": f"changed the type of {self.column!r} from {self.old} to {self.new}",
            "nullable_to_required": f"{self.column!r} went from nullable to required",
            "required_to_nullable": f"{self.column!r} went from required to nullable",
        }
        return text[self.kind]


@dataclass(frozen=True)
class DriftReport:
    changes: tuple[SchemaChange, ...]

    @property
    def breaking(self) -> list[SchemaChange]:
        return [c for c in self.changes if c.breaking]

    @property
    def compatible(self) -> list[SchemaChange]:
        return [c for c in self.changes if not c.breaking]

    @property
    def ok(self) -> bool:
        return not self.breaking


def _int_bits(t: str) -> tuple[bool, int] | None:
    if t in _INT_BITS:
        return True, _INT_BITS[t]
    if t in _UINT_BITS:
        return False, _UINT_BITS[t]
    return None


def is_widening(old: str, new: str) -> bool:
    """Whether every value of type ``old`` is exactly representable in ``new`` (and readers cope)."""
    if old == new or old == "null":
        return old != new
    old_int, new_int = _int_bits(old), _int_bits(new)
    if old_int and new_int:
        (old_signed, old_bits), (new_signed, new_bits) = old_int, new_int
        if old_signed == new_signed:
            return new_bits > old_bits
        return (not old_signed) and new_signed and new_bits > old_bits
    if old_int and new in ("float64", "double"):
        return True
    if old_int and new in ("float32", "float"):
        return old_int[1] <= 16
    if old == "float32" and new == "float64":
        return True
    if old in ("date32", "date64") and _TIMESTAMP.match(new):
        return True
    old_ts, new_ts = _TIMESTAMP.match(old), _TIMESTAMP.match(new)
    if old_ts and new_ts:
        return old_ts.group(2) == new_ts.group(2) and _UNIT_RANK[new_ts.group(1)] > _UNIT_RANK[old_ts.group(1)]
    old_dec, new_dec = _DECIMAL.match(old), _DECIMAL.match(new)
    if new_dec:
        precision, scale = int(new_dec.group(1)), int(new_dec.group(2))
        if old_dec:
            old_p, old_s = int(old_dec.group(1)), int(old_dec.group(2))
            return scale >= old_s and precision - scale >= old_p - old_s and (old_p, old_s) != (precision, scale)
        if old_int:
            return precision - scale >= _INT_DIGITS[old_int[1]]
    if old == "category" and new in _STRINGS:
        return True
    return old in _STRINGS and new in _STRINGS and old != new


def compare_schemas(old: TableSchemaRecord, new: TableSchemaRecord) -> DriftReport:
    """Every change from ``old`` to ``new``, in the new schema's column order then removals."""
    before, after = old.by_name, new.by_name
    changes: list[SchemaChange] = []
    for column in new.columns:
        prior = before.get(column.name)
        if prior is None:
            kind: ChangeKind = "added_nullable" if column.nullable else "added_required"
            changes.append(SchemaChange(kind, column.name, None, column.type))
            continue
        if prior.type != column.type:
            if is_widening(prior.type, column.type):
                kind = "widened"
            elif is_widening(column.type, prior.type):
                kind = "narrowed"
            else:
                kind = "retyped"
            changes.append(SchemaChange(kind, column.name, prior.type, column.type))
        if prior.nullable and not column.nullable:
            changes.append(SchemaChange("nullable_to_required", column.name, "nullable", "required"))
        elif not prior.nullable and column.nullable:
            changes.append(SchemaChange("required_to_nullable", column.name, "required", "nullable"))
    for column in old.columns:
        if column.name not in after:
            changes.append(SchemaChange("removed", column.name, column.type, None))
    return DriftReport(tuple(changes))
