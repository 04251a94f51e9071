"""Issue 12 item 2: an unpartitioned aggregate over a partitioned clean table is computed a
partition at a time (never the whole history in one frame) and stores what the in-memory path
computes from all partitions concatenated; its metadata says which engine ran.

Parquet, CSV and JSON Lines warehouses locally, and Parquet on an S3 server (moto).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    PartitionKeyRange,
    build_input_context,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.factory.aggregate_engine import ENGINE_KEY, REASON_KEY
from etl_assets.lib.io import partition_stream
from etl_assets.lib.io.managers import io_manager_for
from etl_assets.lib.spec import PARTITION_COLUMN, parse_spec
from etl_assets.lib.transforms import aggregate
from etl_assets_tests.servers.s3 import S3Bucket

DAYS = ["2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04"]
CLEAN_KEY = AssetKey(["shop", "clean", "sales"])
STORES = {
    DAYS[0]: ["north", "east"],
    DAYS[1]: ["east", "west"],
    DAYS[2]: ["south", "north"],
    DAYS[3]: ["west", "west"],
}

AGGREGATES: dict[str, dict[str, Any]] = {
    # median / nunique: DuckDB; rolling window, having and category keys whose categories differ per day
    "by_store": {
        "from": "sales", "group_by": ["store"], "window": {"column": "sold_at", "every": "day", "rolling": 2},
        "metrics": {
            "sales": "count()", "total": "sum(amount)", "avg": "mean(amount)", "med": "median(amount)",
            "tiers": "nunique(tier)", "first_tier": "first(tier)", "last_amount": "last(amount)", "no_amount": "null_count(amount)",
        },
        "having": ["sales >= 2"],
    },
    # mergeable metrics only: streamed without DuckDB
    "overall": {"from": "sales", "metrics": {"sales": "count()", "lo": "min(amount)", "hi_store": "max(store)", "avg": "mean(amount)"}},
    # a partitioned aggregate keeps reading only its own partitions, in memory
    "daily": {"from": "sales", "partitioned": True, "group_by": ["store"], "metrics": {"sales": "count()"}},
}  # fmt: skip


def spec_for(storage: str) -> dict[str, Any]:
    return {
        "pipeline": "shop",
        "partitions": {"type": "daily", "start": "2024-05-01", "end": "2024-05-10"},
        "storage": {"default": storage},
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
                    "sold_at": {"type": "datetime"},
                },
            }
        },
        "aggregates": AGGREGATES,
    }


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "sales"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for n, day in enumerate(DAYS):
        lines = ["sale_id,store,tier,amount,sold_at"]
        for i in range(40):
            amount = "" if i % 7 == 3 else f"{rng.normal(50, 20):.2f}"
            tier = ["basic", "plus", "gold", ""][int(rng.integers(0, 4))]
            lines.append(
                f"{100 * n + i},{STORES[day][i % 2]},{tier},{amount},{day}T{i % 24:02d}:15:00Z"
            )
        (folder / f"{day}.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def _run_all_days(defs: Any, instance: DagsterInstance) -> None:
    tags = {ASSET_PARTITION_RANGE_START_TAG: DAYS[0], ASSET_PARTITION_RANGE_END_TAG: DAYS[-1]}
    assert defs.resolve_job_def("shop_job").execute_in_process(instance=instance, tags=tags).success


def _in_memory_input(storage: str, warehouse: str, **options: Any) -> pd.DataFrame:
    """What the IO manager loads for all days as one frame (the in-memory path's input)."""
    manager = io_manager_for(storage, warehouse, **options).create_io_manager(None)  # type: ignore[arg-type]
    context = build_input_context(
        asset_key=CLEAN_KEY,
        asset_partition_key_range=PartitionKeyRange(DAYS[0], DAYS[-1]),
        asset_partitions_def=DailyPartitionsDefinition(
            start_date="2024-05-01", end_date="2024-05-10"
        ),
    )
    return manager.load_input(context)


def _engine(instance: DagsterInstance, name: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(AssetKey(["shop", "agg", name]))
    assert event is not None and event.asset_materialization is not None
    return {
        k: v.value
        for k, v in event.asset_materialization.metadata.items()
        if k.startswith("etl_assets/")
    }


def _check_results(defs: Any, instance: DagsterInstance, frame: pd.DataFrame) -> None:
    frame = frame.drop(columns=[PARTITION_COLUMN])
    spec = parse_spec(yaml.safe_dump(spec_for("parquet")))
    assert frame["store"].nunique() == 4 and len(frame) == 40 * len(DAYS)
    for name in ("by_store", "overall"):
        stored = defs.load_asset_value(AssetKey(["shop", "agg", name]), instance=instance)
        expected = aggregate(frame, spec.aggregates[name]).frame
        assert len(expected) > 1 or name == "overall"
        # sums and means add per-partition sums: another summation order than pandas' single pass
        pd.testing.assert_frame_equal(stored, expected, rtol=1e-12, atol=0)
    assert _engine(instance, "by_store")[ENGINE_KEY] == "duckdb"
    assert _engine(instance, "by_store")["etl_assets/aggregate_partitions_read"] == len(DAYS)
    assert _engine(instance, "overall")[ENGINE_KEY] == "streaming"
    daily = _engine(instance, "daily")
    assert (daily[ENGINE_KEY], daily[REASON_KEY]) == (
        "in_memory",
        "a partitioned aggregate reads only its own partitions",
    )


@pytest.mark.parametrize("storage", ["parquet", "csv", "jsonl"])
def test_streamed_aggregate_equals_the_in_memory_one(
    landed: Path, storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 50 rows: frames of one or two days, whose files hold different categories."""
    monkeypatch.setattr(partition_stream, "CHUNK_ROWS", 50)
    defs = build_definitions(
        [parse_spec(yaml.safe_dump(spec_for(storage)))], landed, landed / "warehouse"
    )
    with DagsterInstance.ephemeral() as instance:
        _run_all_days(defs, instance)
        _check_results(defs, instance, _in_memory_input(storage, str(landed / "warehouse")))
        assert _engine(instance, "by_store")["etl_assets/aggregate_chunks"] == 4 * 40 // 80


def test_streamed_aggregate_over_partitions_on_s3(landed: Path, s3_bucket: S3Bucket) -> None:
    warehouse = f"{s3_bucket.url}/warehouse"
    defs = build_definitions(
        [parse_spec(yaml.safe_dump(spec_for("parquet")))],
        landed,
        warehouse,
        s3=s3_bucket.server.config(),
    )
    with DagsterInstance.ephemeral() as instance:
        _run_all_days(defs, instance)
        assert s3_bucket.keys("warehouse/shop/clean/sales/")  # the partitions really are on S3
        _check_results(
            defs, instance, _in_memory_input("parquet", warehouse, s3=s3_bucket.server.config())
        )


def test_a_single_stored_partition_is_read_in_memory(landed: Path) -> None:
    defs = build_definitions(
        [parse_spec(yaml.safe_dump(spec_for("parquet")))], landed, landed / "warehouse"
    )
    with DagsterInstance.ephemeral() as instance:
        assert (
            defs.resolve_job_def("shop_job")
            .execute_in_process(instance=instance, partition_key=DAYS[1])
            .success
        )
        engine = _engine(instance, "by_store")
    assert engine[ENGINE_KEY] == "in_memory" and "one frame" in engine[REASON_KEY]
