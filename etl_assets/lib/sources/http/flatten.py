"""JSON records -> one table: records found at a dotted path, nested objects flattened.

The raw layer keeps what the API sent; the clean layer declares the types. So that any reply
can be stored (Parquet needs one type per column), each column is normalised here:

- nested objects become ``parent.child`` columns (``flatten: true``, the default);
- lists, and objects when not flattened, become their JSON text;
- a column whose values have one JSON type keeps it (int and float together are float);
  a column mixing types (``1`` on one page, ``"1"`` on the next) becomes text, ``str(value)``
  for strings and JSON text for the rest, so nothing is lost and nothing guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from etl_assets.lib.sources.http.errors import MalformedResponseError
from etl_assets.lib.sources.json import flatten_record


def records_at(document: Any, record_path: str | None, shown: str) -> list[dict[str, Any]]:
    """The list of record objects at ``record_path`` (dotted) in a reply."""
    value = document
    if record_path:
        for part in record_path.split("."):
            if not isinstance(value, dict) or part not in value:
                keys = sorted(value)[:10] if isinstance(value, dict) else type(value).__name__
                raise MalformedResponseError(
                    f"{shown}: no {part!r} on the way to record_path {record_path!r} (found {keys})",
                    url=shown,
                )
            value = value[part]
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponseError(
            f"{shown}: expected a list of records at {record_path or 'the top level'}, got {type(value).__name__}",
            url=shown,
        )
    for position, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            raise MalformedResponseError(
                f"{shown}: record {position} at {record_path or 'the top level'} is {type(record).__name__}, not an object",
                url=shown,
            )
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return "json"


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _column(values: list[Any]) -> pd.Series:
    kinds = {_kind(v) for v in values if v is not None}
    if not kinds:
        return pd.Series(values, dtype="str")
    if kinds == {"bool"}:
        return pd.Series(values, dtype="boolean")
    if kinds == {"number"}:
        if all(isinstance(v, int) for v in values if v is not None) and all(
            abs(v) < 2**63 for v in values if v is not None
        ):
            return pd.Series(values, dtype="Int64")
        return pd.Series(values, dtype="Float64")
    return pd.Series([_as_text(v) for v in values], dtype="str")


def records_to_table(records: Iterable[dict[str, Any]], *, flatten: bool = True) -> pd.DataFrame:
    """Rows in order; columns in order of first appearance; missing keys are null."""
    rows = [flatten_record(r) if flatten else r for r in records]
    columns: dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, None)
    return pd.DataFrame(
        {name: _column([row.get(name) for row in rows]) for name in columns},
        index=pd.RangeIndex(len(rows)),
    )
