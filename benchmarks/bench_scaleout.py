"""Scale-out benchmark: the flights backfill on 1 and 2 Celery workers against one process.

Measured side by side, in one run of this script, on the same partitions (a month of 2013 by
default: a year is 12x the partitions, about 75 min per Celery configuration at the rate
measured on this shared 2-core machine, too slow to run here; ``--days 365`` runs it):

- ``single``: the shipped spec, local files, every step in one process (``execute_in_process``
  of the pipeline job over the range, in a fresh Python process);
- ``celery-1`` / ``celery-2``: the same spec with ``executor: celery``, landing files and tables
  on S3 (moto's server), the instance on PostgreSQL, a Redis broker, and 1 or 2
  ``dagster-celery worker`` processes; an asset backfill in runs of ``--per-run`` partitions
  through the daemon.

Reported: wall time from launch to the backfill's completion, the speedup of 2 workers over 1,
the overhead ratio of the Celery path over the single process (same partitions), peak RSS of
the single process and of each worker (VmHWM), and the load on the shared services (event-log
rows, Postgres connections, broker commands, S3 requests) the capacity model of docs/deploy.md
starts from. Every server is started and stopped by this script.

    PYTHONPATH=$PWD python benchmarks/bench_scaleout.py [--days 31] [--per-run 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from etl_assets.demo.nycflights import land_nycflights
from etl_assets_tests.scaleout.load import LoadMeter
from etl_assets_tests.scaleout.redis_server import RedisServer
from etl_assets_tests.scaleout.topology import (
    flights_spec_text,
    launch_backfill,
    start_fleet,
    upload_landing,
    wait_for_backfill,
)
from etl_assets_tests.servers.postgres import PostgresServer
from etl_assets_tests.servers.s3 import FAKE_CREDENTIALS, S3Bucket, S3Server

SINGLE = """
import json, resource, sys, time
from pathlib import Path
from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
root, spec_path, first, last = sys.argv[1:5]
job = build_definitions([parse_spec(Path(spec_path).read_text())], root, root + "/warehouse").resolve_job_def("flights_job")
started = time.perf_counter()
with DagsterInstance.ephemeral() as instance:
    result = job.execute_in_process(instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})
print(json.dumps({"ok": result.success, "seconds": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def days_of_2013(count: int) -> list[str]:
    start = dt.date(2013, 1, 1)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(count)]


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def single_process(local: Path, days: list[str]) -> dict:
    spec = Path(__file__).resolve().parents[1] / "pipelines" / "flights.yaml"
    done = subprocess.run(
        [sys.executable, "-c", SINGLE, str(local), str(spec), days[0], days[-1]],
        capture_output=True, text=True, check=True, env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"},
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"]
    return {"seconds": round(result["seconds"], 1), "peak_rss_mb": round(result["peak_rss_mb"])}


def fleet_run(
    workers: int, local: Path, days: list[str], per_run: int, s3: S3Server, postgres: PostgresServer
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-scaleout-{workers}-"))
    bucket = S3Bucket(s3, f"bench-{workers}-{os.urandom(3).hex()}")
    s3.client().create_bucket(Bucket=bucket.name)
    upload_landing(local, bucket, days)
    database = f"bench_{workers}_{os.urandom(3).hex()}"
    password = os.urandom(8).hex()
    postgres.sql(f"CREATE ROLE {database} LOGIN PASSWORD '{password}'")
    postgres.sql(f"CREATE DATABASE {database} OWNER {database}")
    redis = RedisServer.start("bench-" + os.urandom(6).hex())
    env = {
        "DAGSTER_PG_HOST": postgres.host, "DAGSTER_PG_PORT": str(postgres.port), "DAGSTER_PG_USER": database,
        "DAGSTER_PG_PASSWORD": password, "DAGSTER_PG_DB": database,
        "ETL_ASSETS_DATA_ROOT": f"s3://{bucket.name}/data", "ETL_ASSETS_WAREHOUSE": f"s3://{bucket.name}/warehouse",
        "ETL_ASSETS_S3_ENDPOINT_URL": s3.endpoint_url, "ETL_ASSETS_S3_REGION": s3.region,
        "ETL_ASSETS_CELERY_BROKER": redis.url, "ARROW_DEFAULT_MEMORY_POOL": "system",
    }  # fmt: skip
    os.environ.update(env)  # this process reads the same instance
    queues = {f"w{i + 1}": ["dagster"] for i in range(workers)}
    fleet = start_fleet(tmp, env, flights_spec_text("celery", per_run), queues)
    try:
        meter = LoadMeter(postgres, database, redis, s3.endpoint_url, tmp / "s3_requests.jsonl")
        started = time.perf_counter()
        backfill = launch_backfill(fleet.deployment, "flights", days[0], days[-1])
        status = wait_for_backfill(fleet.deployment, backfill, timeout=7200, tick=meter.sample)
        seconds = time.perf_counter() - started
        load = meter.totals()
        rss = {name: round(vm_hwm_mb(pid)) for name, pid in fleet.worker_pids.items()}
        durations = [
            float(s)
            for w in fleet.workers
            for s in re.findall(r"\] succeeded in ([0-9.]+)s", w.log())
        ]
        runs = len(fleet.deployment.runs({"dagster/backfill": backfill}))
    finally:
        fleet.stop()
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    return {
        "seconds": round(seconds, 1),
        "runs": runs,
        "worker_peak_rss_mb": rss,
        "tasks": len(durations),
        "mean_task_s": round(sum(durations) / max(len(durations), 1), 2),
        **load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--per-run", type=int, default=8)
    parser.add_argument(
        "--workers", default="1,2", help="fleet sizes to run, comma-separated (default: 1,2)"
    )
    parser.add_argument("--no-single", action="store_true", help="skip the single-process run")
    args = parser.parse_args()
    fleets = [int(n) for n in args.workers.split(",")]
    days = days_of_2013(args.days)
    os.environ.update(FAKE_CREDENTIALS)
    local = Path(tempfile.mkdtemp(prefix="bench-scaleout-local-"))
    land_nycflights(local)
    results: dict[str, dict] = {}
    if not args.no_single:
        results["single"] = single_process(local, days)
        print(json.dumps({"single": results["single"]}), flush=True)
    postgres = PostgresServer.start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3 = S3Server(endpoint_url=f"http://{host}:{port}")
        boto3.setup_default_session()
        for workers in fleets:
            results[f"celery-{workers}"] = fleet_run(
                workers, local, days, args.per_run, s3, postgres
            )
            print(json.dumps({f"celery-{workers}": results[f"celery-{workers}"]}), flush=True)
    finally:
        moto.stop()
        postgres.stop()
        shutil.rmtree(local, ignore_errors=True)
    print(f"\n{len(days)} partitions, runs of at most {args.per_run}")
    print(f"{'path':<10} {'seconds':>8} {'peak RSS MB':>14}")
    if "single" in results:
        single = results["single"]
        print(f"{'single':<10} {single['seconds']:>8} {single['peak_rss_mb']:>14}")
    for name in (f"celery-{n}" for n in fleets):
        r = results[name]
        print(
            f"{name:<10} {r['seconds']:>8} {max(r['worker_peak_rss_mb'].values()):>14} (per worker)"
        )
    if {"celery-1", "celery-2"} <= set(results):
        speedup = results["celery-1"]["seconds"] / results["celery-2"]["seconds"]
        print(f"speedup 2 workers / 1 worker: {speedup:.2f}x")
    if {"celery-1", "single"} <= set(results):
        overhead = results["celery-1"]["seconds"] / results["single"]["seconds"]
        print(f"overhead celery-1 / single: {overhead:.2f}x")


if __name__ == "__main__":
    main()
