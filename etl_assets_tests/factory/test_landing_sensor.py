"""Landing sensor logic against a real (temporary) Dagster instance, without the daemon.

Partitions are materialized for real into the instance; the sensor is evaluated with
``build_sensor_context`` on that instance, so what it skips comes from recorded file versions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, SensorResult, build_sensor_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.factory.file_versions import VERSIONS_METADATA_KEY, recorded_versions
from etl_assets.factory.landing_sensor import FILE_COUNT_TAG, FILE_TAG
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders

ORDERS = "shop_orders_landing"
RAW_ORDERS = AssetKey(["shop", "raw", "orders"])


def row(day: str, order_id: int, amount: str = "9.5") -> tuple[str, str, str, str]:
    return (str(order_id), "1", amount, f"{day}T10:00:00Z")


class Shop:
    """A shop pipeline in a temporary folder, its instance and the sensor's cursor between ticks."""

    def __init__(self, root: Path, instance: DagsterInstance, spec_text: str = SHOP_SPEC) -> None:
        self.root = root
        self.instance = instance
        self.defs = build_definitions([parse_spec(spec_text)], root, root / "warehouse")
        self.cursor: str | None = None

    def tick(self, name: str = ORDERS) -> SensorResult:
        context = build_sensor_context(
            cursor=self.cursor,
            instance=self.instance,
            resources={"source_files": SourceFiles(root=str(self.root))},
        )
        result = self.defs.resolve_sensor_def(name)(context)
        assert isinstance(result, SensorResult)
        self.cursor = result.cursor
        return result

    def build(self, first: str, last: str) -> None:
        """Materialize the whole pipeline for partitions first..last in one run (as the demo does)."""
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
        result = self.defs.resolve_job_def("shop_job").execute_in_process(
            instance=self.instance, tags=tags
        )
        assert result.success


def local_instance(root: Path) -> DagsterInstance:
    """A SQLite instance in a temporary folder (as under DAGSTER_HOME), not an in-memory one."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    return DagsterInstance.local_temp(str(home))


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    write_customers(tmp_path)
    with local_instance(tmp_path) as instance:
        yield Shop(tmp_path, instance)


def land(shop: Shop, *days: str) -> None:
    for index, day in enumerate(days):
        write_orders(shop.root, day, [row(day, index + 1)])


def partitions(result: SensorResult) -> list[tuple[str, str]]:
    """Each request as (first, last) partition."""
    spans = []
    for request in result.run_requests:
        if request.partition_key is not None:
            spans.append((request.partition_key, request.partition_key))
        else:
            spans.append(
                (
                    request.tags[ASSET_PARTITION_RANGE_START_TAG],
                    request.tags[ASSET_PARTITION_RANGE_END_TAG],
                )
            )
    return spans


def test_built_partitions_record_their_file_versions_and_are_skipped(shop: Shop) -> None:
    land(shop, "2024-01-01", "2024-01-02", "2024-01-03")
    shop.build("2024-01-01", "2024-01-03")
    recorded = recorded_versions(
        shop.instance, RAW_ORDERS, ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    )
    assert recorded["2024-01-04"] == {}
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        path = shop.root / "landing" / "orders" / f"{day}.csv"
        (entry,) = recorded[day].items()  # each partition's event names its own file only
        assert entry[0] == f"landing/orders/{day}.csv"
        assert (
            entry[1]["size"] == path.stat().st_size
            and entry[1]["mtime_ns"] == path.stat().st_mtime_ns
        )
        assert len(entry[1]["blake2b"]) == 32

    first = shop.tick()  # switched on right after the build: nothing to do
    assert first.run_requests == []
    assert shop.tick().run_requests == []


def test_new_file_rewritten_file_touched_file(shop: Shop) -> None:
    land(shop, "2024-01-01")
    shop.build("2024-01-01", "2024-01-01")
    assert shop.tick().run_requests == []

    write_orders(shop.root, "2024-01-05", [row("2024-01-05", 7)])
    new = shop.tick()
    assert partitions(new) == [("2024-01-05", "2024-01-05")]
    assert new.run_requests[0].tags[FILE_TAG] == "landing/orders/2024-01-05.csv"
    assert new.run_requests[0].run_key.startswith("landing/orders/2024-01-05.csv@")
    assert shop.tick().run_requests == []  # requested once, not again while it runs

    path = shop.root / "landing" / "orders" / "2024-01-01.csv"
    before = path.read_text()
    path.write_text(before.replace("9.5", "8.5"))  # same size, other content
    rewritten = shop.tick()
    assert partitions(rewritten) == [("2024-01-01", "2024-01-01")]

    path.write_text(before)  # back to the built content: only the time differs from the record
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))
    assert shop.tick().run_requests == []  # touched, content unchanged: no run


def test_files_landing_together_make_one_run_per_contiguous_range(shop: Shop) -> None:
    days = [f"2024-01-{d:02d}" for d in (1, 2, 3, 4, 5, 7, 8)]
    land(shop, *days)
    result = shop.tick()
    assert partitions(result) == [("2024-01-01", "2024-01-05"), ("2024-01-07", "2024-01-08")]
    assert [r.tags[FILE_COUNT_TAG] for r in result.run_requests] == ["5", "2"]
    assert len({r.run_key for r in result.run_requests}) == 2


def test_max_partitions_per_run_chunks_ranges(tmp_path: Path) -> None:
    spec = SHOP_SPEC.replace("end: 2024-01-11}", "end: 2024-01-11, max_partitions_per_run: 2}")
    write_customers(tmp_path)
    with local_instance(tmp_path) as instance:
        shop = Shop(tmp_path, instance, spec)
        land(shop, *[f"2024-01-0{d}" for d in range(1, 6)])
        assert partitions(shop.tick()) == [
            ("2024-01-01", "2024-01-02"),
            ("2024-01-03", "2024-01-04"),
            ("2024-01-05", "2024-01-05"),
        ]
        policy = shop.defs.resolve_assets_def(RAW_ORDERS).backfill_policy
        assert policy is not None and policy.max_partitions_per_run == 2
    default = (
        build_definitions([parse_spec(SHOP_SPEC)], tmp_path)
        .resolve_assets_def(RAW_ORDERS)
        .backfill_policy
    )
    assert default is not None and default.max_partitions_per_run is None  # single run by default


def test_failed_partition_is_not_requested_again_until_its_file_changes(shop: Shop) -> None:
    land(shop, "2024-01-02")
    assert partitions(shop.tick()) == [("2024-01-02", "2024-01-02")]
    # the run failed (nothing was materialized): later ticks leave it alone
    assert shop.tick().run_requests == []
    assert shop.tick().run_requests == []
    write_orders(
        shop.root, "2024-01-02", [row("2024-01-02", 1), row("2024-01-02", 2)]
    )  # fixed upstream
    assert partitions(shop.tick()) == [("2024-01-02", "2024-01-02")]


def test_file_moved_in_with_an_old_mtime_still_counts(shop: Shop, tmp_path: Path) -> None:
    land(shop, "2024-01-03")
    assert len(shop.tick().run_requests) == 1
    outside = tmp_path / "outside.csv"
    outside.write_text("order_id,customer_id,amount,ordered_at\n5,1,1,2024-01-04T10:00:00Z\n")
    os.utime(outside, ns=(1_000_000_000, 1_000_000_000))  # 1970: far below the high-water mark
    outside.rename(shop.root / "landing" / "orders" / "2024-01-04.csv")  # mv keeps the mtime
    assert partitions(shop.tick()) == [("2024-01-04", "2024-01-04")]


def test_cursor_stays_small_however_many_files_land(shop: Shop) -> None:
    spec = SHOP_SPEC.replace("end: 2024-01-11", "end: 2025-01-01")
    shop.defs = build_definitions([parse_spec(spec)], shop.root, shop.root / "warehouse")
    days = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    land(shop, *days)
    result = shop.tick()
    assert sum(int(r.tags[FILE_COUNT_TAG]) for r in result.run_requests) == len(days)
    cursor = json.loads(result.cursor)
    assert set(cursor) == {"high_water_ns", "at_high_water"}
    assert len(result.cursor) < 200 * (1 + len(cursor["at_high_water"]))
    assert len(cursor["at_high_water"]) < len(days)


def test_unpartitioned_source_built_then_changed(shop: Shop) -> None:
    land(shop, "2024-01-01")
    shop.build("2024-01-01", "2024-01-01")
    assert shop.tick("shop_customers_landing").run_requests == []
    path = shop.root / "landing" / "customers.csv"
    path.write_text(path.read_text() + "4,be\n")
    result = shop.tick("shop_customers_landing")
    assert len(result.run_requests) == 1 and result.run_requests[0].partition_key is None
    assert result.run_requests[0].tags[FILE_TAG] == "landing/customers.csv"
    event = shop.instance.get_latest_materialization_event(AssetKey(["shop", "raw", "customers"]))
    assert event is not None and event.asset_materialization is not None
    assert (
        "landing/customers.csv" in event.asset_materialization.metadata[VERSIONS_METADATA_KEY].data
    )


def test_former_cursor_shape_is_replaced(shop: Shop) -> None:
    land(shop, "2024-01-01")
    shop.build("2024-01-01", "2024-01-01")
    shop.cursor = json.dumps(
        {"landing/orders/2024-01-01.csv": "12-34"}
    )  # one entry per file: the old shape
    result = shop.tick()
    assert result.run_requests == [] and set(json.loads(result.cursor)) == {
        "high_water_ns",
        "at_high_water",
    }
