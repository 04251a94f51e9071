"""Quality keys in the spec: valid ones load, mistakes name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_assets.lib.spec import SpecError, parse_spec

HEAD = """pipeline: shop
sources:
  orders: {format: csv, path: orders.csv}
  customers: {format: csv, path: customers.csv}
clean:
  customers:
    from: customers
    columns:
      customer_id: {type: int, required: true, unique: true}
      country: {type: string}
  orders:
    from: orders
    columns:
"""


def spec_with(columns: str, extra: str = "") -> str:
    return HEAD + columns + extra


def issue(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, file=Path("shop.yaml"))
    assert len(caught.value.issues) == 1, caught.value.issues
    return str(caught.value.issues[0])


def test_all_rules_load() -> None:
    spec = parse_spec(spec_with(
        """      order_id: {type: int, required: true, unique: true, min: 1, max: 1000000}
      customer_id: {type: int, references: customers.customer_id}
      email: {type: string, semantic: email, pattern: "[^@]+@[^@]+"}
      status: {type: category, allowed: [new, paid]}
      placed: {type: date, min: 2020-01-01, max: "2030-12-31"}
      paid: {type: date}
""",
        """    rules: ["paid >= placed", "order_id > 0"]
    quality: {min_score: 90, severity: error, freshness_column: placed, max_age: 2d}
""",
    ))
    orders = spec.clean["orders"]
    assert orders.columns["customer_id"].reference == ("customers", "customer_id")
    assert orders.quality is not None and orders.quality.max_age_delta is not None
    assert orders.quality.max_age_delta.total_seconds() == 2 * 86400
    assert [r.right_is_column for r in orders.parsed_rules] == [True, False]


@pytest.mark.parametrize(
    ("columns", "extra", "field", "message"),
    [
        ("      a: {type: string, min: 3}\n", "", "clean.orders.columns.a.min", "min only applies to int, float"),
        ("      a: {type: int, min: low}\n", "", "clean.orders.columns.a.min", "must be a number"),
        ("      a: {type: int, min: 5, max: 1}\n", "", "clean.orders.columns.a.min", "greater than max"),
        ("      a: {type: date, min: yesterday}\n", "", "clean.orders.columns.a.min", "ISO date"),
        ("      a: {type: int, pattern: '[0-9]+'}\n", "", "clean.orders.columns.a.pattern", "pattern only applies"),
        ("      a: {type: string, pattern: '[a-'}\n", "", "clean.orders.columns.a.pattern", "not a valid regular expression"),
        ("      a: {type: string, semantic: emial}\n", "", "clean.orders.columns.a.semantic", "unknown semantic type 'emial'"),
        ("      a: {type: string, references: customers}\n", "", "clean.orders.columns.a.references", "'<clean table>.<column>'"),
        ("      a: {type: int, references: buyers.customer_id}\n", "", "clean.orders.columns.a.references", "unknown clean table 'buyers'"),
        ("      a: {type: int, references: customers.id}\n", "", "clean.orders.columns.a.references", "unknown column of 'customers' 'id'"),
        ("      a: {type: date, references: customers.customer_id}\n", "", "clean.orders.columns.a.references", "comparable types"),
        ("      a: {type: int}\n", "    rules: ['a >= b']\n", "clean.orders.rules.0", "unknown column 'b'"),
        ("      a: {type: int}\n", "    rules: ['a => 1']\n", "clean.orders.rules.0", "expected a rule"),
        ("      a: {type: string}\n      b: {type: int}\n", "    rules: ['a > b']\n", "clean.orders.rules.0", "only == and !="),
        ("      a: {type: int}\n", "    quality: {freshness_column: a, max_age: 2d}\n", "clean.orders.quality.freshness_column", "expected date or datetime"),
        ("      a: {type: date}\n", "    quality: {freshness_column: a}\n", "clean.orders.quality.freshness_column", "go together"),
        ("      a: {type: date}\n", "    quality: {freshness_column: a, max_age: soon}\n", "clean.orders.quality.max_age", "expected a duration"),
        ("      a: {type: int}\n", "    quality: {min_score: 120}\n", "clean.orders.quality.min_score", "less than or equal to 100"),
        ("      a: {type: int}\n", "    quality: {min_scor: 90}\n", "clean.orders.quality.min_scor", "did you mean 'min_score'"),
    ],
)
def test_mistakes_name_file_line_and_field(columns: str, extra: str, field: str, message: str) -> None:
    text = issue(spec_with(columns, extra))
    assert text.startswith("shop.yaml:"), text
    assert f": {field}: " in text, text
    assert message in text, text
    line = int(text.split(":")[1])
    assert line >= 13  # points into the orders entry, not the top of the file


def test_reference_cycle_and_partitioned_target_are_refused() -> None:
    cycle = """pipeline: p
sources: {a: {format: csv, path: a.csv}, b: {format: csv, path: b.csv}}
clean:
  a: {from: a, columns: {x: {type: int, references: b.y}}}
  b: {from: b, columns: {y: {type: int, references: a.x}}}
"""
    assert "references form a cycle: a -> b -> a" in issue(cycle)
    partitioned = """pipeline: p
partitions: {type: daily, start: 2024-01-01}
sources:
  a: {format: csv, path: a.csv}
  b: {format: csv, path: "b/{partition}.csv", partitioned: true}
clean:
  a: {from: a, columns: {x: {type: int, references: b.y}}}
  b: {from: b, columns: {y: {type: int}}}
"""
    assert "'b' is partitioned" in issue(partitioned)
    self_ref = """pipeline: p
sources: {a: {format: csv, path: a.csv}}
clean:
  a: {from: a, columns: {id: {type: int}, parent: {type: int, references: a.id}}}
"""
    assert parse_spec(self_ref).clean["a"].columns["parent"].reference == ("a", "id")
