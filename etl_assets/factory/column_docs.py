"""What a table's spec says of its columns, as definition metadata the UI and IO managers read.

A clean table declares its columns up front (``dagster/column_schema``: the spec's type, its
description and whether nulls may remain), so the UI's Columns table shows them before the first
materialization. An aggregate's metric types are only known once computed, so it declares only
descriptions (``etl_assets/column_descriptions``): a metric is described by its expression, a
group key as such. The IO managers copy the descriptions onto every materialization's schema,
whose types are the stored ones (``lib/io/metadata.py``).
"""

from __future__ import annotations

from typing import Any

from dagster import TableColumn, TableColumnConstraints, TableSchema

from etl_assets.lib.io.metadata import COLUMN_DESCRIPTIONS_KEY
from etl_assets.lib.spec.models import AggregateSpec, CleanSpec, ColumnSpec


def _declared_type(column: ColumnSpec) -> str:
    if column.type == "decimal" and column.precision is not None:
        return f"decimal({column.precision}, {column.scale or 0})"
    if column.type == "datetime" and column.timezone:
        return f"datetime ({column.timezone})"
    return column.type


def clean_column_metadata(clean: CleanSpec) -> dict[str, Any]:
    columns = [
        TableColumn(
            name=name,
            type=_declared_type(column),
            description=column.description,
            constraints=TableColumnConstraints(nullable=column.null_policy == "keep"),
        )
        for name, column in clean.columns.items()
    ]
    return {"dagster/column_schema": TableSchema(columns=columns)}


def aggregate_column_metadata(agg: AggregateSpec) -> dict[str, Any]:
    descriptions = {key: "Group key." for key in agg.group_by}
    if agg.window is not None:
        span = f"{agg.window.rolling} {agg.window.every}s" if agg.window.rolling else f"one {agg.window.every}"
        descriptions["window_start"] = f"Start of the row's window of {span} on {agg.window.column}."
        descriptions["window_end"] = "End of the row's window (the start of the next period)."
    descriptions.update({name: f"Metric: {text}." for name, text in agg.metrics.items()})
    return {COLUMN_DESCRIPTIONS_KEY: descriptions}
