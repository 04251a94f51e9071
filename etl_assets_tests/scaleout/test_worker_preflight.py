"""A Celery worker that cannot reach the instance or S3 refuses to start, saying which and why.

Real PostgreSQL (the instance), moto's S3 server and Redis; each case breaks one setting the
way a misconfigured machine would (a closed port, a missing bucket, a wrong password, a local
folder, a SQLite home) and the preflight must name that setting without leaking a secret.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_assets.worker_preflight import mask_secrets, preflight_problems
from etl_assets_tests.scaleout.redis_server import RedisServer
from etl_assets_tests.scaleout.topology import FLEET_INSTANCE
from etl_assets_tests.scaleout.workers import CeleryWorker
from etl_assets_tests.servers.postgres import PostgresServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

PG_PASSWORD = "preflight-pg-Secret-77"
WRONG_PASSWORD = "not-the-Secret-88"


@pytest.fixture(scope="module")
def fleet_env(postgres_server: PostgresServer, s3_server) -> dict[str, str]:
    """Settings of a machine that reaches everything: PostgreSQL instance, S3 bucket."""
    role = database = "dagster_preflight"
    postgres_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{PG_PASSWORD}'")
    postgres_server.sql(f"CREATE DATABASE {database} OWNER {role}")
    bucket = "preflight-" + os.urandom(4).hex()
    s3_server.client().create_bucket(Bucket=bucket)
    return {
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USER": role,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "DAGSTER_PG_DB": database,
        "ETL_ASSETS_DATA_ROOT": f"s3://{bucket}/data",
        "ETL_ASSETS_WAREHOUSE": f"s3://{bucket}/warehouse",
        "ETL_ASSETS_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "ETL_ASSETS_S3_REGION": s3_server.region,
    }


def _home(tmp_path: Path, instance_yaml: Path | None = FLEET_INSTANCE) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    if instance_yaml is not None:
        shutil.copy(instance_yaml, home / "dagster.yaml")
    return home


@pytest.fixture
def machine(
    tmp_path: Path, fleet_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.MonkeyPatch]:
    """This process as a worker machine of the fleet; a test then breaks one setting."""
    for name, value in fleet_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path)))
    monkeypatch.chdir(tmp_path)
    yield monkeypatch


def test_a_machine_that_reaches_everything_passes(machine: pytest.MonkeyPatch) -> None:
    assert preflight_problems() == []


def test_a_missing_bucket_is_named_with_its_setting(machine: pytest.MonkeyPatch) -> None:
    machine.setenv("ETL_ASSETS_WAREHOUSE", "s3://no-such-bucket-here/warehouse")
    (problem,) = preflight_problems()
    assert problem.startswith("ETL_ASSETS_WAREHOUSE=s3://no-such-bucket-here/warehouse")
    assert "'no-such-bucket-here'" in problem and "NoSuchBucket" in problem


def test_an_unreachable_s3_endpoint_is_named_for_both_roots(
    machine: pytest.MonkeyPatch,
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    machine.setenv("ETL_ASSETS_S3_ENDPOINT_URL", endpoint)
    problems = preflight_problems()
    assert [p.split("=", 1)[0] for p in problems] == ["ETL_ASSETS_DATA_ROOT", "ETL_ASSETS_WAREHOUSE"]
    assert all(f"at {endpoint}" in p and "connect" in p.lower() for p in problems), problems


def test_a_local_folder_is_refused(machine: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine.setenv("ETL_ASSETS_DATA_ROOT", str(tmp_path / "data"))
    (problem,) = preflight_problems()
    assert problem.startswith(f"ETL_ASSETS_DATA_ROOT={tmp_path / 'data'} is a local folder")
    assert "s3://" in problem


def test_an_unreachable_instance_names_its_home(machine: pytest.MonkeyPatch) -> None:
    machine.setenv("DAGSTER_PG_PORT", str(free_port()))
    (problem,) = preflight_problems()
    assert f"DAGSTER_HOME={os.environ['DAGSTER_HOME']}" in problem
    assert "does not load" in problem and "refused" in problem.lower(), problem
    assert PG_PASSWORD not in problem


def test_a_wrong_password_is_reported_without_it(machine: pytest.MonkeyPatch) -> None:
    machine.setenv("DAGSTER_PG_PASSWORD", WRONG_PASSWORD)
    (problem,) = preflight_problems()
    assert "password authentication failed" in problem, problem
    assert WRONG_PASSWORD not in problem and PG_PASSWORD not in problem


def test_a_sqlite_instance_is_refused(machine: pytest.MonkeyPatch, tmp_path: Path) -> None:
    machine.setenv("DAGSTER_HOME", str(_home(tmp_path / "sqlite", instance_yaml=None)))
    (problem,) = preflight_problems()
    assert "SQLite" in problem and "PostgreSQL" in problem


def test_secrets_are_masked_in_any_message() -> None:
    env = {"DAGSTER_PG_PASSWORD": "hunter22", "AWS_SECRET_ACCESS_KEY": "abcd/efgh", "USER": "ann"}
    text = "postgresql://u:hunter22@h/db key abcd/efgh user ann"
    assert mask_secrets(text, env) == "postgresql://u:***@h/db key *** user ann"


def test_a_worker_failing_its_preflight_exits_before_taking_a_task(
    tmp_path: Path, fleet_env: dict[str, str]
) -> None:
    redis = RedisServer.start("preflight-redis-Secret-9")
    try:
        env = {
            **os.environ,
            **fleet_env,
            "ETL_ASSETS_WAREHOUSE": "s3://no-such-bucket-here/warehouse",
            "ETL_ASSETS_CELERY_BROKER": redis.url,
        }
        config = {"execution": {"config": {"broker": redis.url, "backend": redis.url}}}
        worker = CeleryWorker.start(
            "w-bad", tmp_path / "w-bad", FLEET_INSTANCE, config, env, ["dagster"]
        )
        try:
            deadline = time.monotonic() + 120
            while worker.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            log = worker.log()
            assert worker.process.returncode not in (None, 0), log[-3000:]
        finally:
            worker.stop()
    finally:
        redis.stop()
    assert "etl_assets worker preflight failed" in log
    assert "ETL_ASSETS_WAREHOUSE=s3://no-such-bucket-here/warehouse" in log
    assert " ready." not in log
    assert PG_PASSWORD not in log
