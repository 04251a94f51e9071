"""A small partitioned pipeline run in a separate process that the tests SIGKILL mid-write.

:class:`Workspace` lays out what a deployment has: a pipelines folder with one spec, landed
files under a data root, a warehouse (local folder, ``s3://`` bucket or PostgreSQL) and a
``DAGSTER_HOME``, all in a temporary folder. :meth:`Workspace.start_run` starts
``run_pipeline.py`` with that environment (the real code location, read from ``ETL_ASSETS_*``);
:func:`kill_when` polls for an observable moment of the write (a temporary file growing, a
multipart upload with a part stored, a transaction waiting for a lock) and SIGKILLs the run's
PID at that moment. :meth:`Workspace.materialize` runs the same definitions in this process
(the "previous" run and the rerun).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from dagster import AssetKey, DagsterInstance, Definitions

from etl_assets.factory import definitions_from_folder
from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets.lib.resources.s3 import S3Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "faults"
RAW = AssetKey([PIPELINE, "raw", "events"])
DAY = "2024-01-01"
#: Large enough that writing the raw table takes a while (and its Parquet file, about 5 MB,
#: several multipart parts of 1 MiB on S3), small enough for a 2-core CI.
BIG_ROWS = 150_000
SMALL_ROWS = 1_000
#: Safety net for a run that never reaches the moment (a slow machine is still fine).
WAIT_SECONDS = 240.0

SPEC = """
pipeline: faults
partitions: {{type: daily, start: 2024-01-01, end: 2024-01-08}}
storage: {{default: {storage}}}
sources:
  events:
    format: csv
    path: landing/events/{{partition}}.csv
    partitioned: true
"""


def land_events(data_root: Path, day: str, rows: int, seed: int) -> pa.Table:
    """A landed CSV of ``rows`` events with unique ``event_id`` (offset by ``seed`` so two
    versions differ) and a random 32-hex ``token`` (incompressible, so the files are big)."""
    rng = np.random.default_rng(seed)
    tokens = np.frombuffer(rng.bytes(16 * rows).hex().encode("ascii"), dtype="S32")
    table = pa.table(
        {
            "event_id": pa.array(np.arange(rows, dtype=np.int64) + seed * 10_000_000),
            "token": pa.array(tokens, pa.binary(32)).cast(pa.string()),
            "amount": pa.array(rng.random(rows).round(4)),
        }
    )
    folder = data_root / "landing" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, folder / f"{day}.csv")
    return table


@dataclass
class Workspace:
    root: Path
    storage: str = "parquet"
    warehouse: str | None = None  # default: <root>/data/warehouse
    s3: S3Config | None = None
    postgres: PostgresResource | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pipelines.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        # Create the SQLite storage now: run processes started together on an empty home would
        # both create its tables (and one fails).
        with DagsterInstance.from_config(str(self.home)) as instance:
            instance.get_runs(limit=1)
        (self.pipelines / f"{PIPELINE}.yaml").write_text(SPEC.format(storage=self.storage))

    @property
    def pipelines(self) -> Path:
        return self.root / "pipelines"

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def warehouse_root(self) -> str:
        return self.warehouse or str(self.data_root / "warehouse")

    def definitions(self) -> Definitions:
        return definitions_from_folder(
            self.pipelines, self.data_root, self.warehouse_root, self.s3, postgres=self.postgres
        )

    def materialize(self, day: str = DAY) -> None:
        """One run of the raw asset for ``day`` in this process; it must succeed."""
        defs = self.definitions()
        job = defs.resolve_implicit_global_asset_job_def()
        with DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                instance=instance, partition_key=day, asset_selection=[RAW], raise_on_error=False
            )
        assert result.success, [e.message for e in result.all_events if e.is_failure]

    def load(self, day: str = DAY) -> pd.DataFrame:
        """The raw partition as a downstream asset would get it (through the IO manager)."""
        with DagsterInstance.ephemeral() as instance:
            return self.definitions().load_asset_value(RAW, partition_key=day, instance=instance)

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DAGSTER_HOME": str(self.home),
            "TMPDIR": str(self.root / "tmp"),
            "ETL_ASSETS_PIPELINES": str(self.pipelines),
            "ETL_ASSETS_DATA_ROOT": str(self.data_root),
            "ETL_ASSETS_WAREHOUSE": self.warehouse_root,
            **self.extra_env,
        }
        (self.root / "tmp").mkdir(exist_ok=True)
        if self.s3 is not None:
            env["ETL_ASSETS_S3_ENDPOINT_URL"] = str(self.s3.endpoint_url)
            env["ETL_ASSETS_S3_REGION"] = str(self.s3.region_name)
        if self.postgres is not None:
            env.update(
                ETL_ASSETS_POSTGRES_HOST=self.postgres.host,
                ETL_ASSETS_POSTGRES_PORT=str(self.postgres.port),
                ETL_ASSETS_POSTGRES_USER=self.postgres.user,
                ETL_ASSETS_POSTGRES_DB=self.postgres.dbname,
                ETL_ASSETS_POSTGRES_SSLMODE=self.postgres.sslmode,
            )
        return env

    def start_run(self, day: str = DAY, name: str = "run") -> Run:
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "etl_assets_tests.faults.run_pipeline",
                    RAW.to_user_string(),
                    day,
                ],
                env=self.environment(),
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return Run(process, log)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT_SECONDS)


def kill_when(run: Run, moment: Callable[[], Any], what: str) -> Any:
    """SIGKILL ``run`` as soon as ``moment()`` returns something truthy (returned); fail if the
    run ends first (then the write was too quick to catch, or the run failed)."""
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            seen = moment()
            if seen:
                os.kill(run.process.pid, signal.SIGKILL)
                run.process.wait(timeout=60)
                return seen
            if run.process.poll() is not None:
                raise AssertionError(
                    f"the run ended (exit {run.process.returncode}) before {what}:\n{run.output()}"
                )
            time.sleep(0.002)
        raise AssertionError(f"no {what} within {WAIT_SECONDS} s:\n{run.output()}")
    finally:
        run.kill()
