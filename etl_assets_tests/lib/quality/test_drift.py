"""Schema drift classification of every change kind, and the registry's fingerprint."""

from __future__ import annotations

import pandas as pd
import pytest

from etl_assets.lib.quality.drift import compare_schemas, is_widening
from etl_assets.lib.quality.registry import ColumnSchema, TableSchemaRecord, schema_of

BASE = TableSchemaRecord(
    (
        ColumnSchema("id", "int64", nullable=False),
        ColumnSchema("count", "int32", nullable=True),
        ColumnSchema("price", "float32", nullable=True),
        ColumnSchema("day", "date32", nullable=True),
        ColumnSchema("kind", "category", nullable=True),
        ColumnSchema("amount", "decimal128(10, 2)", nullable=True),
        ColumnSchema("note", "string", nullable=True),
    )
)


def changed(**columns: ColumnSchema | None) -> TableSchemaRecord:
    """BASE with columns replaced (None removes one); new names are appended."""
    by_name = dict(BASE.by_name)
    for name, column in columns.items():
        if column is None:
            del by_name[name]
        else:
            by_name[name] = column
    return TableSchemaRecord(tuple(by_name.values()))


CASES = [
    # (new schema, kind, breaking)
    (changed(extra=ColumnSchema("extra", "string", True)), "added_nullable", False),
    (changed(extra=ColumnSchema("extra", "string", False)), "added_required", True),
    (changed(note=None), "removed", True),
    (changed(count=ColumnSchema("count", "int64", True)), "widened", False),
    (changed(count=ColumnSchema("count", "float64", True)), "widened", False),
    (changed(price=ColumnSchema("price", "float64", True)), "widened", False),
    (changed(day=ColumnSchema("day", "timestamp[us, tz=UTC]", True)), "widened", False),
    (changed(kind=ColumnSchema("kind", "string", True)), "widened", False),
    (changed(amount=ColumnSchema("amount", "decimal128(14, 4)", True)), "widened", False),
    (changed(id=ColumnSchema("id", "int32", False)), "narrowed", True),
    (changed(amount=ColumnSchema("amount", "decimal128(8, 2)", True)), "narrowed", True),
    (changed(note=ColumnSchema("note", "category", True)), "narrowed", True),
    (changed(count=ColumnSchema("count", "string", True)), "retyped", True),
    (changed(count=ColumnSchema("count", "int32", False)), "nullable_to_required", True),
    (changed(id=ColumnSchema("id", "int64", True)), "required_to_nullable", False),
]


@pytest.mark.parametrize(("new", "kind", "breaking"), CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_every_change_kind_is_classified(new: TableSchemaRecord, kind: str, breaking: bool) -> None:
    report = compare_schemas(BASE, new)
    assert [c.kind for c in report.changes] == [kind]
    assert report.ok is (not breaking)
    assert report.changes[0].column in str(report.changes[0])


def test_several_changes_are_all_named() -> None:
    new = changed(note=None, id=ColumnSchema("id", "int32", False), extra=ColumnSchema("extra", "int64", True))
    report = compare_schemas(BASE, new)
    assert sorted(c.kind for c in report.breaking) == ["narrowed", "removed"]
    assert [c.kind for c in report.compatible] == ["added_nullable"]
    text = "; ".join(map(str, report.breaking))
    assert "removed column 'note'" in text and "narrowed 'id' from int64 to int32" in text


def test_identical_schemas_have_no_changes() -> None:
    assert compare_schemas(BASE, BASE).changes == ()


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("uint8", "int16", True),
        ("int16", "uint32", False),
        ("int64", "float32", False),
        ("int16", "float32", True),
        ("timestamp[ms, tz=UTC]", "timestamp[us, tz=UTC]", True),
        ("timestamp[us]", "timestamp[us, tz=UTC]", False),
        ("int32", "decimal128(12, 2)", True),
        ("int64", "decimal128(12, 2)", False),
        ("null", "string", True),
        ("string", "large_string", True),
        ("bool", "int64", False),
    ],
)
def test_widening_rules(old: str, new: str, widening: bool) -> None:
    assert is_widening(old, new) is widening


def test_fingerprint_is_stable_and_ignores_column_order() -> None:
    reordered = TableSchemaRecord(tuple(reversed(BASE.columns)))
    assert reordered.fingerprint == BASE.fingerprint
    assert len(BASE.fingerprint) == 64
    assert changed(id=ColumnSchema("id", "int64", True)).fingerprint != BASE.fingerprint
    assert TableSchemaRecord.from_json(BASE.to_json()) == BASE
    assert TableSchemaRecord.from_json([{"version": 1, "columns": BASE.to_json()}]) == BASE


def test_schema_of_uses_storage_types_and_declared_nullability() -> None:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2], dtype="Int64"),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "kind": pd.Categorical(["a", "b"]),
            "note": pd.array([None, None], dtype="string"),
        }
    )
    schema = schema_of(frame, {"id": False})
    assert [(c.name, c.type, c.nullable) for c in schema.columns] == [
        ("id", "int64", False),
        ("when", "timestamp[us, tz=UTC]", True),
        ("kind", "category", True),
        ("note", "string", True),
    ]
    # nullability never comes from the data: a frame without nulls is no different
    assert schema_of(frame.dropna(axis=1), {"id": False}).by_name["id"] == schema.by_name["id"]


def test_bad_pinned_documents_are_explained() -> None:
    with pytest.raises(ValueError, match="column 0"):
        TableSchemaRecord.from_json([{"name": "x"}])
    with pytest.raises(ValueError, match="list of"):
        TableSchemaRecord.from_json("nope")
