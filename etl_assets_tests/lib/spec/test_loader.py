"""Spec loading: the shipped specs load, and every kind of mistake names file, line and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from etl_assets.lib.spec import SpecError, load_spec, load_specs, parse_spec

PROJECT_ROOT = Path(__file__).resolve().parents[3]

BASE: dict[str, Any] = {
    "pipeline": "shop",
    "partitions": {"type": "daily", "start": "2024-01-01", "end": "2024-02-01"},
    "sources": {
        "orders": {"format": "csv", "path": "landing/orders/{partition}.csv", "partitioned": True},
        "customers": {"format": "jsonl", "path": "landing/customers.jsonl"},
    },
    "clean": {
        "orders": {
            "from": "orders",
            "columns": {
                "order_id": {"type": "int", "required": True},
                "customer_id": {"type": "int"},
                "amount": {"type": "decimal", "precision": 12, "scale": 2},
                "status": {"type": "category", "categories": ["new", "paid"]},
                "ordered_at": {"type": "datetime", "timezone": "UTC"},
                "note": {"type": "string"},
            },
            "dedup": {"keys": ["order_id"], "keep": "last"},
        },
        "customers": {
            "from": "customers",
            "columns": {"customer_id": {"type": "int", "required": True}, "country": {"type": "string"}},
        },
    },
    "aggregates": {
        "daily_sales": {
            "from": "orders",
            "partitioned": True,
            "join": [{"table": "customers", "on": ["customer_id"], "columns": ["country"]}],
            "group_by": ["country"],
            "window": {"column": "ordered_at", "every": "day"},
            "metrics": {"orders": "count()", "revenue": "sum(amount)"},
            "having": ["orders >= 1"],
        }
    },
}


def spec_with(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes; a value of None deletes the key."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        parts = dotted.split("__")
        node = data
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return data


def errors_of(data: dict[str, Any] | str) -> SpecError:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(SpecError) as info:
        parse_spec(text, file=Path("pipelines/shop.yaml"))
    return info.value


def only_issue(data: dict[str, Any] | str):
    error = errors_of(data)
    assert len(error.issues) == 1, str(error)
    return error.issues[0]


def test_base_spec_is_valid() -> None:
    spec = parse_spec(yaml.safe_dump(BASE))
    assert spec.pipeline == "shop"
    assert spec.aggregates["daily_sales"].parsed_metrics["revenue"].column == "amount"
    assert spec.clean["orders"].columns["order_id"].null_policy == "reject"


def test_shipped_pipelines_load() -> None:
    specs = load_specs([PROJECT_ROOT / "pipelines"])
    assert "flights" in {s.pipeline for s in specs}


def test_error_names_file_line_and_field() -> None:
    text = (
        "pipeline: shop\n"
        "sources:\n"
        "  orders:\n"
        "    format: csv\n"
        "    path: a.csv\n"
        "clean:\n"
        "  orders:\n"
        "    from: orders\n"
        "    columns:\n"
        "      id: {type: integer}\n"
    )
    issue = only_issue(text)
    assert (str(issue.file), issue.line, issue.field) == ("pipelines/shop.yaml", 10, "clean.orders.columns.id.type")
    assert "'int'" in issue.message and "got 'integer'" in issue.message
    assert str(issue).startswith("pipelines/shop.yaml:10: clean.orders.columns.id.type: expected one of")


def test_unknown_key_is_an_error_with_suggestion() -> None:
    issue = only_issue(spec_with(clean__orders__dedupe={"keys": ["order_id"]}))
    assert issue.field == "clean.orders.dedupe"
    assert "unknown key 'dedupe'" in issue.message and "did you mean 'dedup'" in issue.message


def test_unknown_top_level_key() -> None:
    issue = only_issue(spec_with(schedules={"cron": "0 * * * *"}))
    assert issue.field == "schedules" and "did you mean 'schedule'" in issue.message


def test_missing_required_field() -> None:
    issue = only_issue(spec_with(sources__customers__path=None))
    # path became optional (http sources have none); file formats still require it
    assert issue.field == "sources.customers" and issue.message == "a jsonl source needs 'path'"


def test_wrong_scalar_type() -> None:
    issue = only_issue(spec_with(clean__orders__columns__amount__precision="twelve"))
    assert issue.field == "clean.orders.columns.amount.precision" and "got 'twelve'" in issue.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pipeline: [unclosed\n", "not valid YAML"),
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("pipeline: a\npipeline: b\nsources: {}\n", "duplicate key"),
    ],
)
def test_structural_errors(text: str, expected: str) -> None:
    assert expected in str(errors_of(text))


def test_duplicate_key_line() -> None:
    issue = only_issue("pipeline: a\nsources:\n  x: {format: csv, path: a.csv}\n  x: {format: csv, path: b.csv}\n")
    assert issue.line == 4 and issue.field == "sources.x"


def test_yaml_on_key_is_not_a_boolean() -> None:
    spec = parse_spec(yaml.safe_dump(BASE).replace("- customer_id\n      columns", "- customer_id\n      columns"))
    assert spec.aggregates["daily_sales"].join[0].on == ["customer_id"]
    text = yaml.safe_dump(BASE)
    assert "on:" in text  # written as a plain key; YAML 1.1 would read it as True


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"pipeline": "9shop"}, "pipeline", "expected an identifier"),
        ({"clean__orders__columns__ordered_at__timezone": "Mars/Base"}, "clean.orders.columns.ordered_at.timezone", "unknown timezone"),
        ({"schedule": {"cron": "every day"}}, "schedule.cron", "expected a cron expression"),
        ({"partitions__end": "2023-12-01"}, "partitions.end", "must be after start"),
        ({"sources__customers__csv": {"delimiter": ";"}}, "sources.customers.csv", "only valid for format csv"),
        ({"sources__customers__path": "landing/{partition}.jsonl"}, "sources.customers.path", "not partitioned"),
        ({"sources__orders__path": "landing/orders.csv"}, "sources.orders.partitioned", "needs '{partition}'"),
        ({"sources__orders__csv": {"header": False}}, "sources.orders.csv.header", "column_names is required"),
        ({"sources__orders__csv": {"header": False, "column_names": ["a", "a"]}}, "sources.orders.csv.column_names", "repeats a"),
        ({"sources__orders__csv": {"header": False, "column_names": ["a", " "]}}, "sources.orders.csv.column_names", "empty names"),
        ({"sources__orders__encoding": "klingon"}, "sources.orders.encoding", "unknown encoding"),
        ({"sources__orders__csv": {"delimiter": ";;"}}, "sources.orders.csv.delimiter", "at most 1 character"),
        ({"clean__orders__columns__amount__scale": None}, "clean.orders.columns.amount.precision", "needs precision and scale"),
        ({"clean__orders__columns__note__timezone": "UTC"}, "clean.orders.columns.note.timezone", "timezone only applies"),
        ({"clean__orders__columns__note__format": "%Y"}, "clean.orders.columns.note.format", "format only applies"),
        ({"clean__orders__columns__note__nulls": "default"}, "clean.orders.columns.note.nulls", "needs a 'default' value"),
        ({"clean__orders__columns__order_id__nulls": "drop"}, "clean.orders.columns.order_id.required", "conflicts with nulls: drop"),
        ({"clean__orders__columns__note__categories": ["a"]}, "clean.orders.columns.note.categories", "only apply to category"),
        ({"clean__orders__columns": {"bad name": {"type": "int"}}}, "clean.orders.columns", "expected an identifier"),
        ({"aggregates__daily_sales__metrics": {"n": "avg(amount)"}}, "aggregates.daily_sales.metrics.n", "unknown metric function 'avg'"),
        ({"aggregates__daily_sales__metrics": {"n": "sum()"}}, "aggregates.daily_sales.metrics.n", "needs a column"),
        ({"aggregates__daily_sales__metrics": {"n": "sum amount"}}, "aggregates.daily_sales.metrics.n", "expected a metric"),
        ({"aggregates__daily_sales__having": ["orders > ten"]}, "aggregates.daily_sales.having.0", "expected a condition"),
        ({"aggregates__daily_sales__window__every": "fortnight"}, "aggregates.daily_sales.window.every", "expected one of"),
        ({"aggregates__daily_sales__window__rolling": 1}, "aggregates.daily_sales.window.rolling", "greater than or equal to 2"),
    ],
)
def test_field_errors(changes: dict[str, Any], field: str, fragment: str) -> None:
    issue = only_issue(spec_with(**changes))
    assert issue.field == field, str(issue)
    assert fragment in issue.message, str(issue)
    assert issue.line is not None


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"clean__orders__from": "order"}, "clean.orders.from", "unknown source 'order'; expected one of: customers, orders"),
        ({"clean__orders__dedup": {"keys": ["id"]}}, "clean.orders.dedup.keys.0", "unknown column 'id'"),
        ({"aggregates__daily_sales__from": "sales"}, "aggregates.daily_sales.from", "unknown clean table 'sales'"),
        ({"aggregates__daily_sales__group_by": ["contry"]}, "aggregates.daily_sales.group_by.0", "unknown column 'contry'"),
        ({"aggregates__daily_sales__window": {"column": "note", "every": "day"}}, "aggregates.daily_sales.window.column", "expected date or datetime"),
        ({"aggregates__daily_sales__metrics": {"orders": "count()", "x": "mean(note)"}}, "aggregates.daily_sales.metrics.x", "needs a numeric column"),
        ({"aggregates__daily_sales__metrics": {"orders": "count()", "x": "max(nothing)"}}, "aggregates.daily_sales.metrics.x", "unknown column 'nothing'"),
        ({"aggregates__daily_sales__having": ["profit > 0"]}, "aggregates.daily_sales.having.0", "unknown metric or group_by column 'profit'"),
        ({"aggregates__daily_sales__join": [{"table": "clients", "on": ["customer_id"]}]}, "aggregates.daily_sales.join.0.table", "unknown clean table 'clients'"),
        ({"aggregates__daily_sales__join": [{"table": "customers", "on": ["country"]}]}, "aggregates.daily_sales.join.0.on.0", "not a column of 'orders'"),
        ({"aggregates__daily_sales__join": [{"table": "customers", "on": ["customer_id"], "columns": ["region"]}]}, "aggregates.daily_sales.join.0.columns.0", "not a column of 'customers'"),
        ({"aggregates__daily_sales__window": {"column": "ordered_at", "every": "week"}}, "aggregates.daily_sales.window.every", "wider than the daily partitions"),
        ({"aggregates__daily_sales__window": {"column": "ordered_at", "every": "day", "rolling": 7}}, "aggregates.daily_sales.window.rolling", "need earlier partitions"),
    ],
)
def test_reference_errors(changes: dict[str, Any], field: str, fragment: str) -> None:
    # A broken reference may make later fields fail too; the first cause must be among them.
    error = errors_of(spec_with(**changes))
    matching = [i for i in error.issues if i.field == field]
    assert matching, str(error)
    assert fragment in matching[0].message, str(error)
    assert matching[0].line is not None


def test_partitioned_aggregate_needs_partitioned_input() -> None:
    data = spec_with(aggregates__daily_sales__from="customers", aggregates__daily_sales__join=[],
                     aggregates__daily_sales__group_by=["country"], aggregates__daily_sales__window=None,
                     aggregates__daily_sales__metrics={"orders": "count()"})
    issue = only_issue(data)
    assert issue.field == "aggregates.daily_sales.partitioned" and "is not partitioned" in issue.message


def test_partitioned_source_needs_partitions_block() -> None:
    error = errors_of(spec_with(partitions=None))
    assert any(i.field == "sources.orders.partitioned" for i in error.issues), str(error)


def test_several_problems_are_all_reported_in_line_order() -> None:
    error = errors_of(spec_with(clean__orders__dedup={"keys": ["id"], "keep": "lst"}, aggregates__daily_sales__metrics={"n": "avg(x)"}))
    fields = [i.field for i in error.issues]
    assert fields == ["clean.orders.dedup.keep", "aggregates.daily_sales.metrics.n"]
    assert [i.line for i in error.issues] == sorted(i.line for i in error.issues)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"pipeline: caf\xe9\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(bad)


def test_same_pipeline_name_in_two_files(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE)
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(SpecError, match="already defined in"):
        load_specs([tmp_path])
