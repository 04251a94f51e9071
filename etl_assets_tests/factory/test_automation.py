"""Landing sensors (new, same, changed file) and the pipeline schedule."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_schedule_context, build_sensor_context

from etl_assets.factory import build_definitions
from etl_assets.factory.automation import FILE_TAG
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import write_customers, write_orders


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


def test_partitioned_landing_sensor_new_same_changed(defs, tmp_path: Path) -> None:
    name = "shop_orders_landing"
    first = evaluate(defs, name, tmp_path, None)
    assert first.run_requests == [] and json.loads(first.cursor) == {}

    write_orders(tmp_path, "2024-01-02", [("1", "1", "9.5", "2024-01-02T10:00:00Z")])
    write_orders(tmp_path, "2023-12-31", [("1", "1", "9.5", "2023-12-31T10:00:00Z")])  # outside the partitions
    (tmp_path / "landing" / "orders" / "notes.csv").write_text("x\n")  # not a partition key
    new = evaluate(defs, name, tmp_path, first.cursor)
    assert [r.partition_key for r in new.run_requests] == ["2024-01-02"]
    request = new.run_requests[0]
    assert request.tags[FILE_TAG] == "landing/orders/2024-01-02.csv"
    assert request.run_key.startswith("landing/orders/2024-01-02.csv@")

    same = evaluate(defs, name, tmp_path, new.cursor)
    assert same.run_requests == []
    assert same.cursor == new.cursor

    path = write_orders(tmp_path, "2024-01-02", [("1", "1", "9.5", "2024-01-02T10:00:00Z"), ("2", "2", "1", "2024-01-02T11:00:00Z")])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    write_orders(tmp_path, "2024-01-03", [("3", "1", "2", "2024-01-03T10:00:00Z")])
    changed = evaluate(defs, name, tmp_path, same.cursor)
    assert sorted(r.partition_key for r in changed.run_requests) == ["2024-01-02", "2024-01-03"]
    changed_key = next(r.run_key for r in changed.run_requests if r.partition_key == "2024-01-02")
    assert changed_key != request.run_key


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
