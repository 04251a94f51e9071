"""Dagster partitions definitions from a spec's ``partitions`` block."""

from __future__ import annotations

from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

from etl_assets.lib.spec import PartitionsSpec

_BY_TYPE = {
    "hourly": HourlyPartitionsDefinition,
    "daily": DailyPartitionsDefinition,
    "weekly": WeeklyPartitionsDefinition,
    "monthly": MonthlyPartitionsDefinition,
}


def partitions_definition(spec: PartitionsSpec) -> TimeWindowPartitionsDefinition:
    cls = _BY_TYPE[spec.type]
    fmt = "%Y-%m-%d-%H:%M" if spec.type == "hourly" else "%Y-%m-%d"
    return cls(
        start_date=spec.start.strftime(fmt),
        end_date=spec.end.strftime(fmt) if spec.end is not None else None,
        timezone=spec.timezone,
    )
