"""Landing sensors' targets and the pipeline schedule (what they skip: test_landing_sensor.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_schedule_context, build_sensor_context

from etl_assets.factory import build_definitions
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import write_customers


@pytest.fixture
def defs(tmp_path: Path, shop_spec_text: str):
    return build_definitions([parse_spec(shop_spec_text)], tmp_path, tmp_path / "warehouse")


def sensor_target_keys(defs, name: str) -> set:
    sensor_def = defs.resolve_sensor_def(name)
    (target,) = sensor_def.targets
    return set(target.resolvable_to_job.selection.resolve(defs.resolve_asset_graph()))


def evaluate(defs, name: str, root: Path, cursor: str | None) -> SensorResult:
    sensor_def = defs.resolve_sensor_def(name)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(cursor=cursor, instance=instance, resources={"source_files": SourceFiles(root=str(root))})
        result = sensor_def(context)
    assert isinstance(result, SensorResult)
    return result


def test_unpartitioned_sensor_targets_only_unpartitioned_assets(defs, tmp_path: Path) -> None:
    write_customers(tmp_path)
    result = evaluate(defs, "shop_customers_landing", tmp_path, None)
    assert len(result.run_requests) == 1 and result.run_requests[0].partition_key is None
    targeted = {key.to_user_string() for key in sensor_target_keys(defs, "shop_customers_landing")}
    assert targeted == {"shop/raw/customers", "shop/clean/customers", "shop/rejected/customers"}


def test_missing_landing_folder_is_not_an_error(defs, tmp_path: Path) -> None:
    assert evaluate(defs, "shop_orders_landing", tmp_path / "nowhere", None).run_requests == []


def test_schedule_requests_latest_complete_partition(defs) -> None:
    schedule_def = defs.resolve_schedule_def("shop_schedule")
    assert schedule_def.cron_schedule == "0 6 * * *"
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2024, 1, 5, 6, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def(),
        )
        requests = list(schedule_def.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2024-01-04"]
