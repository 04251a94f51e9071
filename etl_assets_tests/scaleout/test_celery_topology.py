"""The flights pipeline on a fleet: Postgres instance, S3 storage, Redis broker, two Celery workers.

One month of 2013 runs as a multi-run asset backfill (at most 8 partitions per run) through the
daemon's QueuedRunCoordinator; halfway through, one worker is killed (SIGKILL by PID) while it
runs a step, standing for a lost machine. The step's task is redelivered to the surviving worker
(late acknowledgement, ``redeliver_after_s``), so the backfill completes. The outputs on S3 are
then compared frame for frame with the single-process local run of the same month.
"""

from __future__ import annotations

import io
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
)

from etl_assets.demo.nycflights import land_nycflights
from etl_assets.factory import build_definitions
from etl_assets.factory.executors import WORKER_METADATA_KEY
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.scaleout.load import LoadMeter
from etl_assets_tests.scaleout.redis_server import RedisServer
from etl_assets_tests.scaleout.topology import (
    SHIPPED_FLIGHTS,
    flights_spec_text,
    launch_backfill,
    start_fleet,
    upload_landing,
    wait_for_backfill,
    worker_of,
)
from etl_assets_tests.servers.postgres import PostgresServer
from etl_assets_tests.servers.s3 import S3Bucket

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

DAYS = [f"2013-01-{day:02d}" for day in range(1, 32)]
PER_RUN = 8
REDELIVER_AFTER_S = 40
PG_PASSWORD = "fleet-pg-Secret-42"
REDIS_PASSWORD = "fleet-redis-Secret-43"
TASK_RECEIVED = re.compile(r"Task execute_plan\[([0-9a-f-]+)\] received")
TASK_DONE = re.compile(r"Task execute_plan\[([0-9a-f-]+)\] (?:succeeded|raised|failed)")


@dataclass
class Outcome:
    instance: DagsterInstance
    backfill_id: str
    status: str
    worker_pids: dict[str, int]
    killed: str
    killed_task: str
    worker_logs: dict[str, str]
    bucket: S3Bucket
    reference_root: Path
    reference_failed_checks: set[tuple[str, str]]
    load: dict[str, float]


def _tasks(log: str) -> tuple[list[str], set[str]]:
    return TASK_RECEIVED.findall(log), set(TASK_DONE.findall(log))


@pytest.fixture(scope="module")
def outcome(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, s3_server
) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("fleet")
    local = tmp / "local"
    land_nycflights(local)
    # the single-process reference: the shipped spec, local files, in process, the same month
    reference_specs = [parse_spec(SHIPPED_FLIGHTS.read_text())]
    reference = build_definitions(reference_specs, local, local / "warehouse").resolve_job_def(
        "flights_job"
    )
    with DagsterInstance.ephemeral() as ephemeral:
        result = reference.execute_in_process(
            instance=ephemeral,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: DAYS[0],
                ASSET_PARTITION_RANGE_END_TAG: DAYS[-1],
            },
        )
    assert result.success
    reference_failed = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }

    bucket_name = "fleet-" + os.urandom(4).hex()
    s3_server.client().create_bucket(Bucket=bucket_name)
    bucket = S3Bucket(s3_server, bucket_name)
    upload_landing(local, bucket, DAYS)

    role, database = "dagster_fleet", "dagster_fleet"
    postgres_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PG_PASSWORD}'")
    postgres_server.sql(f"CREATE DATABASE {database} OWNER {role}")
    redis = RedisServer.start(REDIS_PASSWORD)
    env = {
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USER": role,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "DAGSTER_PG_DB": database,
        "ETL_ASSETS_DATA_ROOT": f"s3://{bucket_name}/data",
        "ETL_ASSETS_WAREHOUSE": f"s3://{bucket_name}/warehouse",
        "ETL_ASSETS_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "ETL_ASSETS_S3_REGION": s3_server.region,
        "ETL_ASSETS_CELERY_BROKER": redis.url,
        "ARROW_DEFAULT_MEMORY_POOL": "system",
    }
    spec_text = flights_spec_text(
        f"{{type: celery, redeliver_after_s: {REDELIVER_AFTER_S}}}", PER_RUN
    )
    fleet = None
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)  # the test process reads the same instance
            fleet = start_fleet(
                tmp, env, spec_text, {"w1": ["dagster", "embeddings"], "w2": ["dagster"]}
            )
            killed: list[tuple[str, str]] = []

            def kill_a_busy_worker() -> None:
                """Once both workers finished a step, SIGKILL one that is running a step."""
                if killed:
                    return
                tasks = {w.name: _tasks(w.log()) for w in fleet.workers}
                if not all(done for _, done in tasks.values()):
                    return
                for worker in fleet.workers:
                    received, done = tasks[worker.name]
                    running = [task for task in received if task not in done]
                    if running:
                        os.kill(fleet.worker_pids[worker.name], signal.SIGKILL)
                        killed.append((worker.name, running[-1]))
                        return

            meter = LoadMeter(
                postgres_server, database, redis, s3_server.endpoint_url, tmp / "s3_requests.jsonl"
            )

            def tick() -> None:
                kill_a_busy_worker()
                meter.sample()

            backfill_id = launch_backfill(fleet.deployment, "flights", DAYS[0], DAYS[-1])
            status = wait_for_backfill(fleet.deployment, backfill_id, timeout=900, tick=tick)
            load = meter.totals()
            assert killed, "no worker was busy while both had finished a step"
            yield Outcome(
                instance=fleet.deployment.instance,
                backfill_id=backfill_id,
                status=status,
                worker_pids=fleet.worker_pids,
                killed=killed[0][0],
                killed_task=killed[0][1],
                worker_logs={w.name: w.log() for w in fleet.workers},
                bucket=bucket,
                reference_root=local / "warehouse",
                reference_failed_checks=reference_failed,
                load=load,
            )
    finally:
        if fleet is not None:
            fleet.stop()
        redis.stop()


def _runs(outcome: Outcome):
    return outcome.instance.get_run_records(RunsFilter(tags={BACKFILL_ID_TAG: outcome.backfill_id}))


def _events(outcome: Outcome, kind: DagsterEventType) -> list:
    records = []
    for run in _runs(outcome):
        records += outcome.instance.get_records_for_run(
            run.dagster_run.run_id, of_type=kind
        ).records
    return records


def test_backfill_fans_out_in_runs_of_at_most_k_partitions_and_succeeds(outcome: Outcome) -> None:
    runs = _runs(outcome)
    partitioned = [r for r in runs if ASSET_PARTITION_RANGE_START_TAG in r.dagster_run.tags]
    print(
        f"backfill: {len(runs)} runs ({len(partitioned)} partition-range runs), status {outcome.status}"
    )
    assert outcome.status in ("COMPLETED", "COMPLETED_SUCCESS")
    assert {r.dagster_run.status for r in runs} == {DagsterRunStatus.SUCCESS}
    assert len(partitioned) >= len(DAYS) // PER_RUN
    for record in partitioned:
        start = record.dagster_run.tags[ASSET_PARTITION_RANGE_START_TAG]
        end = record.dagster_run.tags[ASSET_PARTITION_RANGE_END_TAG]
        assert 1 <= DAYS.index(end) - DAYS.index(start) + 1 <= PER_RUN
    # the coordinator's limits (2 runs at once) held: no instant with 3 runs started
    spans = sorted((r.start_time, r.end_time) for r in runs if r.start_time and r.end_time)
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2


def test_every_asset_and_check_succeeded(outcome: Outcome) -> None:
    materialized = {
        (r.asset_key.to_user_string(), r.partition_key)
        for r in _events(outcome, DagsterEventType.ASSET_MATERIALIZATION)
    }
    assert {("flights/clean/flights", day) for day in DAYS} <= materialized
    assert {("flights/agg/weather_delays", day) for day in DAYS} <= materialized
    assert ("flights/agg/route_monthly", None) in materialized
    evaluations = [
        r.event_log_entry.dagster_event.asset_check_evaluation_data
        for r in _events(outcome, DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    assert evaluations
    assert all(e.passed for e in evaluations if e.severity == AssetCheckSeverity.ERROR)
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed}
    assert failed == outcome.reference_failed_checks  # the same WARN findings as in one process


def _read(data: bytes, key: str) -> pd.DataFrame | bytes:
    if key.endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    if key.endswith(".csv"):
        return pd.read_csv(io.BytesIO(data))
    return data


def test_outputs_on_s3_equal_the_single_process_run(outcome: Outcome) -> None:
    local = {
        str(path.relative_to(outcome.reference_root)): path
        for path in outcome.reference_root.rglob("*")
        if path.is_file()
    }
    remote = {key.removeprefix("warehouse/"): key for key in outcome.bucket.keys("warehouse/")}
    assert sorted(remote) == sorted(
        local
    )  # exactly one object per table or partition, no leftovers
    client = outcome.bucket.server.client()
    for name, path in local.items():
        body = client.get_object(Bucket=outcome.bucket.name, Key=remote[name])["Body"].read()
        ours, theirs = _read(body, name), _read(path.read_bytes(), name)
        if isinstance(ours, pd.DataFrame):
            pd.testing.assert_frame_equal(ours, theirs, obj=name)
        else:
            assert ours == theirs, name


def test_steps_ran_on_both_workers(outcome: Outcome) -> None:
    where = [
        r.asset_materialization.metadata[WORKER_METADATA_KEY].value
        for r in _events(outcome, DagsterEventType.ASSET_MATERIALIZATION)
        if WORKER_METADATA_KEY in r.asset_materialization.metadata
    ]
    assert set(outcome.worker_pids.values()) == {worker_of(w) for w in where}


def test_a_killed_workers_step_is_redelivered_to_the_survivor(outcome: Outcome) -> None:
    (survivor,) = [name for name in outcome.worker_logs if name != outcome.killed]
    received, done = _tasks(outcome.worker_logs[survivor])
    assert outcome.killed_task in received and outcome.killed_task in done
    # one copy of each partition, every day present (checked frame by frame above too)
    for table in ("raw/flights", "clean/flights", "agg/carrier_daily_delays"):
        keys = outcome.bucket.keys(f"warehouse/flights/{table}/")
        assert keys == [f"warehouse/flights/{table}/{day}.parquet" for day in DAYS]


def test_every_worker_passed_its_preflight(outcome: Outcome) -> None:
    for name, log in outcome.worker_logs.items():
        assert "etl_assets worker preflight passed" in log, name


def test_no_secret_in_events_or_metadata(outcome: Outcome) -> None:
    for run in _runs(outcome):
        run_id = run.dagster_run.run_id
        assert REDIS_PASSWORD not in str(run.dagster_run.run_config)
        for entry in outcome.instance.all_logs(run_id):
            text = str(entry)
            assert PG_PASSWORD not in text and REDIS_PASSWORD not in text, run_id


def test_load_figures_of_the_capacity_model(outcome: Outcome) -> None:
    """The figures docs/deploy.md's capacity model starts from (printed; sanity-checked here)."""
    load = outcome.load
    materializations = len(_events(outcome, DagsterEventType.ASSET_MATERIALIZATION))
    steps = len(_events(outcome, DagsterEventType.STEP_SUCCESS))
    print(
        "capacity figures at 2 workers:",
        {**load, "materializations": materializations, "steps": steps},
    )
    assert load["event_log_rows"] > materializations > 0
    assert load["s3_requests"] > materializations  # at least one write per materialization
    assert 0 < load["pg_connections_peak"] <= 60
    assert load["redis_commands"] > steps
