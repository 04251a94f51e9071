"""Dagster partitions definitions from a spec's ``partitions`` block."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
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


def with_backfill_policy(assets: list[AssetsDefinition], spec: PartitionsSpec | None) -> list[AssetsDefinition]:
    """Partitioned assets run at most ``spec.max_partitions_per_run`` partitions per run when set
    (``BackfillPolicy.multi_run``); otherwise they keep the single-run policy of :func:`partitioning`."""
    if spec is None or spec.max_partitions_per_run is None:
        return assets
    policy = BackfillPolicy.multi_run(max_partitions_per_run=spec.max_partitions_per_run)
    return [a.with_attributes(backfill_policy=policy) if a.partitions_def is not None else a for a in assets]


@contextmanager
def single_run_backfill_accepted() -> Iterator[None]:
    """Build assets with ``backfill_policy`` without Dagster's BetaWarning about it.

    Dagster 1.13 flags the parameter of ``@asset`` (not of ``@multi_asset``) as beta and warns once
    per partitioned asset, on every command that loads the definitions. We use it knowingly: a
    range run (the demo's year, ``etl-assets run``) must be one run, not one per day. Only that
    message is silenced, and only while the factory builds assets; any other warning shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Parameter `backfill_policy` of function `asset`", category=BetaWarning
        )
        yield
