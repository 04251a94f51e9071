"""The fleet of the scale-out tests and benchmark: Postgres instance, S3 storage, Redis, Celery workers.

Everything is a real process: the gRPC code server and the daemon (``Deployment``), two
``dagster-celery worker`` processes with their own folders, a Redis broker. Landing files of
the flights demo are uploaded to S3 for the chosen days; the pipeline spec is the shipped
``pipelines/flights.yaml`` with only its ``executor`` and ``max_partitions_per_run`` changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, DagsterInstance
from dagster._core.definitions.selector import (
    PartitionRangeSelector,
    PartitionsByAssetSelector,
    PartitionsSelector,
)
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from etl_assets.demo.nycflights import DIMENSIONS
from etl_assets.factory.executors import worker_config_yaml
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.scaleout.workers import CeleryWorker
from etl_assets_tests.servers.dagster_deployment import Deployment, wait_for

FLEET_INSTANCE = PROJECT_ROOT / "instances" / "celery" / "dagster.yaml"
SHIPPED_FLIGHTS = PROJECT_ROOT / "pipelines" / "flights.yaml"


def flights_spec_text(executor_yaml: str, max_per_run: int) -> str:
    """The shipped flights spec with another executor and a per-run partition limit."""
    text = SHIPPED_FLIGHTS.read_text()
    assert (
        "\nexecutor: in_process\n" in text and "  timezone: America/New_York\n\nschedule:" in text
    )
    text = text.replace("\nexecutor: in_process\n", f"\nexecutor: {executor_yaml}\n")
    return text.replace(
        "  timezone: America/New_York\n\nschedule:",
        f"  timezone: America/New_York\n  max_partitions_per_run: {max_per_run}\n\nschedule:",
    )


def upload_landing(local_root: Path, bucket, days: Iterable[str]) -> None:
    """Landing files of ``days`` and the dimension tables, from a landed demo folder to S3."""
    landing = local_root / "landing"
    names = [f"flights/{day}.csv" for day in days] + [f"{name}.csv" for name in DIMENSIONS]
    for name in names:
        bucket.put(f"data/landing/{name}", (landing / name).read_bytes())


@dataclass
class Fleet:
    deployment: Deployment
    workers: list[CeleryWorker]
    worker_pids: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.deployment.stop()


def start_fleet(
    tmp: Path, env: Mapping[str, str], spec_text: str, worker_queues: Mapping[str, list[str]]
) -> Fleet:
    """Code server, daemon and one Celery worker per entry of ``worker_queues``."""
    pipelines = tmp / "pipelines"
    pipelines.mkdir()
    (pipelines / "flights.yaml").write_text(spec_text)
    spec = parse_spec(spec_text)
    full_env = {**env, "ETL_ASSETS_PIPELINES": str(pipelines), "PYTHONPATH": str(PROJECT_ROOT)}
    deployment = Deployment.prepare(tmp / "home", FLEET_INSTANCE, full_env)
    workers: list[CeleryWorker] = []
    fleet = Fleet(deployment, workers)
    try:
        deployment.start_code_server()
        worker_env = {k: v for k, v in deployment.env.items() if k != "DAGSTER_HOME"}
        for name, queues in worker_queues.items():
            workers.append(
                CeleryWorker.start(
                    name,
                    tmp / name,
                    FLEET_INSTANCE,
                    worker_config_yaml(spec.executor),
                    worker_env,
                    queues,
                )
            )
        deployment.wait_for_code_server()
        deployment.start_daemon()
        fleet.worker_pids = {worker.name: worker.wait_ready() for worker in workers}
    except BaseException:
        fleet.stop()
        raise
    return fleet


def launch_backfill(
    deployment: Deployment, pipeline: str, start: str, end: str, run_config: Mapping | None = None
) -> str:
    """An asset backfill of every asset of ``pipeline`` (partitioned ones over start..end), as the
    UI's "Materialize all" over a range does; the daemon splits it into runs."""
    context = deployment.workspace.create_request_context()
    graph = context.asset_graph
    selectors = [
        PartitionsByAssetSelector(
            asset_key=key,
            partitions=PartitionsSelector(ranges=[PartitionRangeSelector(start, end)])
            if graph.get(key).is_partitioned
            else None,
        )
        for key in graph.materializable_asset_keys
        if key.path[0] == pipeline
    ]
    backfill_id = make_new_backfill_id()
    deployment.instance.add_backfill(
        PartitionBackfill.from_partitions_by_assets(
            backfill_id=backfill_id,
            asset_graph=graph,
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=deployment.instance,
            partitions_by_assets=selectors,
            title=None,
            description=None,
            run_config=run_config,
        )
    )
    return backfill_id


def backfill_done(instance: DagsterInstance, backfill_id: str) -> bool:
    backfill = instance.get_backfill(backfill_id)
    return backfill is not None and backfill.status.value in (
        "COMPLETED",
        "COMPLETED_SUCCESS",
        "FAILED",
        "CANCELED",
        "COMPLETED_FAILED",
    )


def wait_for_backfill(
    deployment: Deployment, backfill_id: str, timeout: float = 900.0, tick=None
) -> str:
    def done() -> bool:
        deployment.check_alive()
        if tick is not None:
            tick()
        return backfill_done(deployment.instance, backfill_id)

    wait_for(f"backfill {backfill_id}", done, timeout=timeout, every=0.5)
    backfill = deployment.instance.get_backfill(backfill_id)
    assert backfill is not None
    return backfill.status.value


def worker_of(metadata_value: str) -> int:
    """The PID of a ``host:pid`` worker entry."""
    return int(metadata_value.rsplit(":", 1)[1])


__all__ = [
    "AssetKey",
    "Fleet",
    "flights_spec_text",
    "launch_backfill",
    "start_fleet",
    "upload_landing",
]
