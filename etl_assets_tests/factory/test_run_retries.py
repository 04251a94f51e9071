"""Which failed runs the daemon's run retries (``run_retries`` in dagster.yaml) will re-execute.

Dagster decides when the run-failure event is stored (the ``dagster/will_retry`` tag); these
runs execute in process on a SQLite instance with run retries enabled, as configured in the
project's dagster.yaml. That the daemon then launches the retry is tested in
integration/test_daemon.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
    WILL_RETRY_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.factory.run_retries import BLOCKED_BY_CHECK_TAG
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import PROJECT_ROOT, SHOP_SPEC, write_customers, write_orders

#: amount at most 1000: a larger amount fails the blocking ``schema`` check of clean orders.
BOUNDED_SHOP = SHOP_SPEC.replace("amount: {type: float}", "amount: {type: float, max: 1000}")


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    settings = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    assert settings["run_retries"] == {"enabled": True, "max_retries": 1}
    home = tmp_path / "home"
    home.mkdir()
    with DagsterInstance.local_temp(
        str(home), overrides={"run_retries": settings["run_retries"]}
    ) as instance:
        yield instance


def run_day(tmp_path: Path, instance: DagsterInstance, day: str):
    defs = build_definitions([parse_spec(BOUNDED_SHOP)], tmp_path, tmp_path / "warehouse")
    tags = {ASSET_PARTITION_RANGE_START_TAG: day, ASSET_PARTITION_RANGE_END_TAG: day}
    result = defs.resolve_job_def("shop_job").execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run


def test_run_failed_by_a_blocking_check_is_not_retried(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-02", [("1", "1", "5000", "2024-01-02T10:00:00Z")])
    run = run_day(tmp_path, instance, "2024-01-02")
    assert run.tags[BLOCKED_BY_CHECK_TAG] == "true"
    assert run.tags[RETRY_ON_ASSET_OR_OP_FAILURE_TAG] == "false"
    assert run.tags[WILL_RETRY_TAG] == "false"


def test_run_failed_for_another_reason_is_retried(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    write_customers(tmp_path)  # no orders file for the day yet: the raw step fails
    run = run_day(tmp_path, instance, "2024-01-02")
    assert BLOCKED_BY_CHECK_TAG not in run.tags
    assert run.tags[WILL_RETRY_TAG] == "true"
