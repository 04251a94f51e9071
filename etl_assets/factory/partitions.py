"""Dagster partitions definitions from a spec's ``partitions`` block."""

from __future__ import annotations

from typing import Any

from dagster import (
    BackfillPolicy,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionsDefinition,
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


def partitioning(partitioned: bool, partitions_def: PartitionsDefinition | None) -> dict[str, Any]:
    """Asset keyword arguments: partitioned assets get the pipeline's partitions and run a
    backfill range as one run (a year of daily partitions is one run, not 365)."""
    if not partitioned:
        return {}
    return {"partitions_def": partitions_def, "backfill_policy": BackfillPolicy.single_run()}
