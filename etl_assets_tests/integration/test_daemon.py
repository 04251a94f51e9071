"""Runs started by the daemon (issue 11), with the real processes on a temporary instance.

A gRPC code server (``dagster code-server start``), ``dagster-daemon run`` and, for the
backfill, ``dagster-webserver`` run as in production (README "Running it in production on one
machine"), on a DAGSTER_HOME with the project's dagster.yaml (SQLite) or
instances/postgres/dagster.yaml (a real PostgreSQL server). The tests switch the sensor and the
schedule on through the instance, as the UI does, launch a backfill through GraphQL, and assert on
the runs the daemon created: count, status, partitions and tags. Nothing here asserts on time;
waits poll with generous timeouts.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRun, DagsterRunStatus
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARENT_RUN_ID_TAG,
    PARTITION_NAME_TAG,
    SCHEDULE_NAME_TAG,
    SCHEDULED_EXECUTION_TIME_TAG,
    SENSOR_NAME_TAG,
    WILL_RETRY_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.factory.landing_sensor import FILE_COUNT_TAG, FILE_TAG
from etl_assets.factory.run_retries import BLOCKED_BY_CHECK_TAG
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.servers.dagster_deployment import (
    Deployment,
    readme_production_commands,
    wait_for,
)
from etl_assets_tests.servers.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("daemon")]

SENSOR = "land_orders_landing"
HEADER = "order_id,kind,amount"

#: raw -> clean (amount at most 1000: a blocking schema rule) -> a partitioned aggregate.
LAND_SPEC = """
pipeline: land
partitions: {type: daily, start: 2024-01-01, end: 2024-04-01}
sources:
  orders:
    format: csv
    path: landing/orders/{partition}.csv
    partitioned: true
    sensor: true
    sensor_interval_seconds: 2
clean:
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true}
      kind: {type: string}
      amount: {type: float, max: 1000}
aggregates:
  by_kind:
    from: orders
    partitioned: true
    group_by: [kind]
    metrics: {orders: count(), amount: sum(amount)}
"""

#: The schedule's pipeline: daily partitions up to now; the cron fires once, at minute CRON_MINUTE.
TICK_SPEC = """
pipeline: tick
partitions: {type: daily, start: 2024-01-01}
schedule: {cron: "CRON_MINUTE * * * *", timezone: UTC}
sources:
  orders:
    format: csv
    path: tick/{partition}.csv
    partitioned: true
clean:
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true}
"""

#: Backfilled through the webserver in chunks of at most two partitions per run.
FILL_SPEC = """
pipeline: fill
partitions: {type: daily, start: 2024-01-01, end: 2024-02-01, max_partitions_per_run: 2}
sources:
  orders:
    format: csv
    path: fill/{partition}.csv
    partitioned: true
clean:
  orders:
    from: orders
    columns:
      order_id: {type: int, required: true}
"""


def day(number: int) -> str:
    return (dt.date(2024, 1, 1) + dt.timedelta(days=number - 1)).isoformat()


def land(data: Path, key: str, rows: list[str], header: str = HEADER) -> Path:
    """Write a landing file atomically (written beside, then renamed in), as a sane uploader does:
    a tick never sees it half-written."""
    path = data / "landing" / "orders" / f"{key}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = data / f".{key}.csv.part"
    staged.write_text("\n".join([header, *rows]) + "\n")
    os.replace(staged, path)
    return path


def paused(deployment: Deployment, sensor) -> None:
    """Stop the sensor (its cursor is kept) and wait until no tick is under way, so that files
    written next are seen together by the tick after ``resume``."""
    deployment.instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
    wait_for(
        "the sensor's last tick to finish",
        lambda: all(t.status != TickStatus.STARTED for t in deployment.ticks(sensor)),
    )


def span(run: DagsterRun) -> tuple[str, str]:
    """The (first, last) partition a run built."""
    if PARTITION_NAME_TAG in run.tags:
        return run.tags[PARTITION_NAME_TAG], run.tags[PARTITION_NAME_TAG]
    return run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]


def sensor_runs(deployment: Deployment) -> list[DagsterRun]:
    """Runs the sensor requested (retries carry the tag too; they are told apart by parent)."""
    return [
        r for r in deployment.runs({SENSOR_NAME_TAG: SENSOR}) if PARENT_RUN_ID_TAG not in r.tags
    ]


def start_deployment(
    tmp: Path,
    instance_yaml: Path,
    env: dict[str, str],
    specs: dict[str, str],
    module: str = "etl_assets.definitions",
) -> Deployment:
    pipelines, data = tmp / "pipelines", tmp / "data"
    pipelines.mkdir(parents=True)
    data.mkdir()
    for name, text in specs.items():
        (pipelines / f"{name}.yaml").write_text(text)
    env = {**env, "ETL_ASSETS_PIPELINES": str(pipelines), "ETL_ASSETS_DATA_ROOT": str(data)}
    deployment = Deployment.prepare(tmp / "home", instance_yaml, env)
    try:
        deployment.start_code_server(module)
        deployment.start_daemon()
        deployment.wait_for_code_server()
    except BaseException:
        deployment.stop()
        raise
    return deployment


def check_landing_sensor(
    deployment: Deployment, data: Path, full: bool = True, cli: bool = False
) -> dict[str, int]:
    """Every case of issue 11, point 1, on a running deployment; returns the runs per case.

    ``full=False`` keeps the cases that need no failing run (the PostgreSQL repeat); ``cli``
    switches the sensor on with ``dagster sensor start`` instead of through the instance.
    """
    counts: dict[str, int] = {}
    # What `make demo` does: build partitions 1-3 from their files, in one run, outside the daemon.
    for number in (1, 2, 3):
        land(data, day(number), [f"{number},a,{number}.5"])
    spec = parse_spec(LAND_SPEC)
    defs = build_definitions([spec], data, data / "warehouse")
    tags = {ASSET_PARTITION_RANGE_START_TAG: day(1), ASSET_PARTITION_RANGE_END_TAG: day(3)}
    assert (
        defs.resolve_job_def("land_job")
        .execute_in_process(instance=deployment.instance, tags=tags)
        .success
    )

    sensor = deployment.sensor(SENSOR)
    started = time.time()
    if cli:
        deployment.switch_on("sensor", SENSOR)
    else:
        deployment.instance.start_sensor(sensor)  # what the UI's toggle does
    deployment.wait_for_tick_after(sensor, started)
    deployment.wait_for_tick_after(sensor, time.time())
    counts["switched on after the build"] = len(sensor_runs(deployment))
    assert counts["switched on after the build"] == 0

    # One tick sees: a new file, a file rewritten with other content, a file touched without change,
    # 30 files landing together, a file failing a blocking check and one failing its step.
    paused(deployment, sensor)
    land(data, day(10), ["10,b,10"])
    land(data, day(2), ["2,a,2.6"])  # was 2,a,2.5: same size, other bytes
    touched = data / "landing" / "orders" / f"{day(3)}.csv"
    later = time.time_ns()
    os.utime(touched, ns=(later, later))
    batch = [day(n) for n in range(31, 61)]
    if full:
        for key in batch:
            land(data, key, [f"{key[-2:]},c,1"])
        land(data, day(20), ["20,d,5000"])  # amount over the max: the schema check blocks
        land(
            data, day(25), ["25,e"], header="order_id,kind"
        )  # no amount column: the clean step fails
    changed = time.time()
    deployment.instance.start_sensor(sensor)
    deployment.wait_for_tick_after(sensor, changed)
    expected = 5 if full else 2
    deployment.wait_for_runs_done({SENSOR_NAME_TAG: SENSOR}, expected)
    by_span = {span(r): r for r in sensor_runs(deployment)}
    assert len(by_span) == len(sensor_runs(deployment)) == expected, sorted(by_span)

    counts["one new file"] = sum(1 for s in by_span if s[0] <= day(10) <= s[1])
    counts["rewritten, other content"] = sum(1 for s in by_span if s[0] <= day(2) <= s[1])
    counts["touched, same content"] = sum(1 for s in by_span if s[0] <= day(3) <= s[1])
    assert counts["one new file"] == counts["rewritten, other content"] == 1
    assert counts["touched, same content"] == 0
    for key in ((day(10), day(10)), (day(2), day(2))):
        assert by_span[key].status == DagsterRunStatus.SUCCESS
    assert by_span[(day(10), day(10))].tags[FILE_TAG] == f"landing/orders/{day(10)}.csv"
    if not full:
        return counts

    counts["30 files together"] = sum(
        1 for s in by_span if s[0] <= batch[0] <= s[1] or s[0] <= batch[-1] <= s[1]
    )
    assert counts["30 files together"] == 1
    together = by_span[(batch[0], batch[-1])]
    assert together.status == DagsterRunStatus.SUCCESS and together.tags[FILE_COUNT_TAG] == "30"

    blocked = by_span[(day(20), day(20))]
    assert blocked.status == DagsterRunStatus.FAILURE
    assert blocked.tags[BLOCKED_BY_CHECK_TAG] == "true" and blocked.tags[WILL_RETRY_TAG] == "false"
    failed = by_span[(day(25), day(25))]
    assert failed.status == DagsterRunStatus.FAILURE and failed.tags[WILL_RETRY_TAG] == "true"
    (retry,) = deployment.wait_for_runs_done(
        {PARENT_RUN_ID_TAG: failed.run_id}, 1
    )  # retried once ...
    assert (
        retry.status == DagsterRunStatus.FAILURE and retry.tags[WILL_RETRY_TAG] == "false"
    )  # ... only once
    counts["failed step, retries"] = 1

    # Failed files are not requested again on later ticks (no loop), nor is a blocked run retried ...
    deployment.wait_for_tick_after(sensor, time.time())
    deployment.wait_for_tick_after(sensor, time.time())
    counts["failed files, later ticks"] = len(sensor_runs(deployment)) - expected
    assert counts["failed files, later ticks"] == 0
    assert deployment.runs({PARENT_RUN_ID_TAG: blocked.run_id}) == []
    assert len(deployment.runs({PARENT_RUN_ID_TAG: failed.run_id})) == 1
    # ... until they change: the corrected file runs once, and succeeds.
    land(data, day(20), ["20,d,500"])
    deployment.wait_for_tick_after(sensor, time.time())
    wait_for(
        "the corrected file's run to finish",
        lambda: (
            len(sensor_runs(deployment)) > expected
            and all(r.is_finished for r in sensor_runs(deployment))
        ),
        timeout=300,
    )
    fixed = [r for r in sensor_runs(deployment) if span(r) == (day(20), day(20))]
    counts["failed file, changed"] = len(fixed) - 1
    assert counts["failed file, changed"] == 1
    assert {r.status for r in fixed} == {DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS}
    return counts


@pytest.fixture(scope="module")
def sqlite_deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Deployment, Path]]:
    """One deployment for the module; its schedule is switched on at once and fires once.

    The cron names a single minute of the hour, far enough ahead for the code server to be up;
    the schedule test (run later) finds the run and switches the schedule off.
    """
    tmp = tmp_path_factory.mktemp("daemon_sqlite")
    now = dt.datetime.now(dt.UTC)
    fire_at = now + dt.timedelta(seconds=150)
    specs = {
        "land": LAND_SPEC,
        "tick": TICK_SPEC.replace("CRON_MINUTE", str(fire_at.minute)),
        "fill": FILL_SPEC,
    }
    deployment = start_deployment(tmp, PROJECT_ROOT / "dagster.yaml", {}, specs)
    try:
        for days_ago in (0, 1, 2):  # the latest complete partition, whichever day the tick falls on
            key = (now.date() - dt.timedelta(days=days_ago)).isoformat()
            (tmp / "data" / "tick").mkdir(exist_ok=True)
            (tmp / "data" / "tick" / f"{key}.csv").write_text("order_id\n1\n")
        assert dt.datetime.now(dt.UTC) < fire_at.replace(second=0), (
            "the code server came up after the schedule's minute"
        )
        deployment.switch_on("schedule", "tick_schedule")
        yield deployment, tmp / "data"
    finally:
        deployment.stop()


def test_landing_sensor_runs_only_what_is_not_built(sqlite_deployment) -> None:
    deployment, data = sqlite_deployment
    counts = check_landing_sensor(deployment, data)
    print("runs per case (SQLite):", counts)


def test_schedule_tick_runs_the_latest_complete_partition(sqlite_deployment) -> None:
    deployment, _ = sqlite_deployment
    schedule = deployment.schedule("tick_schedule")
    try:
        (run,) = deployment.wait_for_runs_done({SCHEDULE_NAME_TAG: "tick_schedule"}, 1, timeout=300)
    finally:
        deployment.instance.stop_schedule(
            schedule.get_remote_origin_id(), schedule.selector_id, schedule
        )
    assert run.status == DagsterRunStatus.SUCCESS
    tick_time = dt.datetime.fromisoformat(run.tags[SCHEDULED_EXECUTION_TIME_TAG])
    # the latest complete partition at the tick: the day before the tick's (UTC) day
    assert (
        run.tags[PARTITION_NAME_TAG]
        == (tick_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    )


def test_backfill_through_graphql_runs_in_chunks(sqlite_deployment) -> None:
    deployment, data = sqlite_deployment
    (data / "fill").mkdir(exist_ok=True)
    for number in (1, 2, 3):
        (data / "fill" / f"{day(number)}.csv").write_text(f"order_id\n{number}\n")
    deployment.start_webserver()
    launched = deployment.graphql(
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {
            "params": {
                "partitionsByAssets": [
                    {
                        "assetKey": {"path": ["fill", key, "orders"]},
                        "partitions": {"range": {"start": day(1), "end": day(3)}},
                    }
                    for key in ("raw", "clean")
                ]
                + [
                    {
                        "assetKey": {"path": ["fill", "rejected", "orders"]},
                        "partitions": {"range": {"start": day(1), "end": day(3)}},
                    }
                ],
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def completed() -> bool:
        backfill = deployment.instance.get_backfill(backfill_id)
        deployment.check_alive()
        return backfill is not None and backfill.status.value in (
            "COMPLETED",
            "COMPLETED_SUCCESS",
            "FAILED",
        )

    wait_for(f"backfill {backfill_id} to complete", completed, timeout=300)
    backfill = deployment.instance.get_backfill(backfill_id)
    assert backfill is not None and backfill.status.value in ("COMPLETED", "COMPLETED_SUCCESS")
    runs = deployment.runs({BACKFILL_ID_TAG: backfill_id})
    assert sorted(span(r) for r in runs) == [
        (day(1), day(2)),
        (day(3), day(3)),
    ]  # max_partitions_per_run: 2
    assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}


@pytest.fixture
def postgres_deployment(tmp_path: Path) -> Iterator[tuple[Deployment, Path]]:
    server = PostgresServer.start()
    try:
        role, password, database = "dagster_sensor", "sensor-pw", "dagster_sensor"
        server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        server.sql(f"CREATE DATABASE {database} OWNER {role}")
        env = {
            "DAGSTER_PG_HOST": server.host,
            "DAGSTER_PG_PORT": str(server.port),
            "DAGSTER_PG_USER": role,
            "DAGSTER_PG_PASSWORD": password,
            "DAGSTER_PG_DB": database,
        }
        os.environ.update(env)  # the test process reads the same instance
        # The README's instance setup line, as written, on this test's DAGSTER_HOME.
        (setup,) = [line for line in readme_production_commands() if line.startswith("mkdir")]
        subprocess.run(
            ["bash", "-c", setup],
            env={**os.environ, "DAGSTER_HOME": str(tmp_path / "home")},
            cwd=PROJECT_ROOT,
            check=True,
        )
        assert (tmp_path / "home" / "dagster.yaml").read_text() == (
            PROJECT_ROOT / "instances" / "postgres" / "dagster.yaml"
        ).read_text()
        deployment = start_deployment(
            tmp_path,
            PROJECT_ROOT / "instances" / "postgres" / "dagster.yaml",
            env,
            {"land": LAND_SPEC},
        )
        try:
            yield deployment, tmp_path / "data"
        finally:
            deployment.stop()
            for name in env:
                os.environ.pop(name, None)
    finally:
        server.stop()


def test_landing_sensor_on_the_postgres_instance(postgres_deployment) -> None:
    deployment, data = postgres_deployment
    assert type(deployment.instance.run_storage).__name__ == "PostgresRunStorage"
    counts = check_landing_sensor(deployment, data, full=False, cli=True)
    print("runs per case (PostgreSQL):", counts)
