"""Issue 10: a partition's stored file does not depend on which partitions shared its run, also
for ``type: category`` columns without declared categories (whose categories are the values the
run saw): build a range, rebuild one day alone, compare the stored frames in full."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec

DAYS = ["2024-05-01", "2024-05-02", "2024-05-03"]
CLEAN_KEY = AssetKey(["shop", "clean", "sales"])
# each day's stores and tiers: day 2 has neither 'north' nor 'gold'
STORES = {DAYS[0]: ["north", "east"], DAYS[1]: ["east", "west"], DAYS[2]: ["south", "north"]}
TIERS = {DAYS[0]: ["gold", "basic"], DAYS[1]: ["basic", "plus"], DAYS[2]: ["gold", "plus"]}

SPEC = {
    "pipeline": "shop",
    "partitions": {"type": "daily", "start": "2024-05-01", "end": "2024-05-10"},
    "sources": {
        "sales": {"format": "csv", "path": "landing/sales/{partition}.csv", "partitioned": True}
    },
    "clean": {
        "sales": {
            "from": "sales",
            "columns": {
                "sale_id": {"type": "int", "required": True},
                "store": {"type": "category", "required": True},
                "tier": {"type": "category", "categories": ["basic", "plus", "gold"]},
                "amount": {"type": "float"},
            },
        }
    },
    "aggregates": {
        "by_store": {"from": "sales", "group_by": ["store"], "metrics": {"sales": "count()"}}
    },
}


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "sales"
    folder.mkdir(parents=True)
    for n, day in enumerate(DAYS):
        lines = ["sale_id,store,tier,amount"]
        lines += [
            f"{100 * n + i},{STORES[day][i % 2]},{TIERS[day][i % 2]},{i * 1.5}" for i in range(6)
        ]
        (folder / f"{day}.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def range_tags(start: str, end: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def stored_file(root: Path, day: str) -> Path:
    return root / "warehouse" / "shop" / "clean" / "sales" / f"{day}.parquet"


def test_day_rebuilt_alone_is_stored_exactly_as_in_the_range(landed: Path) -> None:
    defs = build_definitions([parse_spec(yaml.safe_dump(SPEC))], landed, landed / "warehouse")
    job = defs.resolve_job_def("shop_job")
    day = DAYS[1]
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, tags=range_tags(DAYS[0], DAYS[-1])).success
        in_range = defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance)
        range_schema = pq.read_schema(stored_file(landed, day))
        assert job.execute_in_process(instance=instance, partition_key=day).success
        alone = defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance)
        alone_schema = pq.read_schema(stored_file(landed, day))
    pd.testing.assert_frame_equal(alone, in_range, check_exact=True)
    assert alone_schema.equals(range_schema, check_metadata=True)
    # undeclared: the day's own values, sorted; declared (in a non-sorted order): all of them
    assert list(in_range["store"].cat.categories) == ["east", "west"]
    assert list(in_range["tier"].cat.categories) == ["basic", "plus", "gold"]


def test_loading_a_range_of_partitions_gives_sorted_categories(landed: Path) -> None:
    """An unpartitioned reader of all days sees each column's categories as one sorted set."""
    defs = build_definitions([parse_spec(yaml.safe_dump(SPEC))], landed, landed / "warehouse")
    job = defs.resolve_job_def("shop_job")
    with DagsterInstance.ephemeral() as instance:
        # built one by one, so the files' dictionaries differ; each run also rebuilds the
        # unpartitioned aggregate, which reads every partition stored so far
        for day in DAYS:
            assert job.execute_in_process(instance=instance, partition_key=day).success
        per_day = [
            defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance) for day in DAYS
        ]
        by_store = defs.load_asset_value(AssetKey(["shop", "agg", "by_store"]), instance=instance)
    assert [list(f["store"].cat.categories) for f in per_day] == [
        ["east", "north"],
        ["east", "west"],
        ["north", "south"],
    ]
    # the aggregate read the three files as one frame: its key keeps the input's categories
    assert isinstance(by_store["store"].dtype, pd.CategoricalDtype)
    assert list(by_store["store"].cat.categories) == ["east", "north", "south", "west"]
    assert dict(zip(by_store["store"], by_store["sales"], strict=True)) == {
        "north": 6,
        "east": 6,
        "west": 3,
        "south": 3,
    }
