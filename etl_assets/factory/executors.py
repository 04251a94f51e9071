"""The executor of a pipeline's job, from the spec's ``executor`` block.

One executor definition with three choices, ``in_process``, ``multiprocess`` (Dagster's default
executor) and ``celery`` (dagster-celery's), and the spec's choice as its default config: a
deployment switches any way by run config exactly as for any Dagster job
(``execution: {config: {multiprocess: {max_concurrent: 4}}}``, ``{in_process: {}}`` or
``{celery: {}}``), while a run launched without such config (a schedule tick, a sensor, a
backfill, the UI's "Materialize") uses the spec's choice. Dagster's default would be a process
per step: for the small steps of most pipelines that is where the time goes.

Celery runs each step on whichever worker takes it, on another machine: the run's instance must
be one every worker reaches (PostgreSQL, not SQLite) and tables and landing files must be on S3.
Both are checked when the run starts, with the broker's reachability, so a misconfigured
deployment fails at once with a message saying what to change instead of queueing steps nobody
can run. Secrets stay out: the broker URL is read from an environment variable at run time and
only its redacted form ever appears in a message.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    DagsterError,
    ExecutorDefinition,
    Field,
    InitExecutorContext,
    Selector,
    multi_or_in_process_executor,
)
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    MULTI_PROC_CONFIG,
    ExecutorRequirement,
    multiple_process_executor_requirements,
)

from etl_assets.lib.spec.models import ExecutorSpec

#: dagster-celery's op tag naming the queue of a step (``dagster_celery.tags``).
CELERY_QUEUE_TAG = "dagster-celery/queue"
#: the queue of every step without that tag (dagster-celery's default queue).
DEFAULT_QUEUE = "dagster"
#: materialization metadata: ``host:pid`` of the process that ran the step.
WORKER_METADATA_KEY = "etl_assets/worker"
EMBEDDING_RESOURCE = "embedding_model"
#: dagster-celery's own broker transport defaults, kept when the visibility timeout is added.
_TRANSPORT_DEFAULTS = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}


class ScaleOutError(DagsterError):
    """The deployment cannot run this executor; the message says what to change.

    A ``DagsterError``: raised while a run sets up, Dagster fails the run with it (a
    ``RUN_FAILURE`` event carrying the message) instead of leaving it not started.
    """


def worker_identity() -> str:
    """``host:pid`` of this process: which machine and worker ran a step."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_metadata() -> dict[str, str]:
    """The materialization metadata entry recording where the step ran (any executor)."""
    return {WORKER_METADATA_KEY: worker_identity()}


def step_queue_tags(spec: ExecutorSpec, resource_keys: set[str]) -> dict[str, str]:
    """Op tags routing a step to the embedding queue when it needs the embedding model."""
    if spec.type == "celery" and spec.embedding_queue and EMBEDDING_RESOURCE in resource_keys:
        return {CELERY_QUEUE_TAG: spec.embedding_queue}
    return {}


def celery_config_source(spec: ExecutorSpec) -> dict[str, Any]:
    """Celery settings the runs and the workers must share (the workers' YAML carries them too).

    Late acknowledgement: a step's task leaves the broker only once it finished, so a worker
    that dies mid-step (its machine lost) leaves the task to be redelivered to another worker
    after ``redeliver_after_s``; a worker process killed under a live worker is rejected and
    requeued at once.
    """
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_transport_options": {
            **_TRANSPORT_DEFAULTS,
            "visibility_timeout": spec.redeliver_after_s,
        },
        "result_backend_transport_options": {"visibility_timeout": spec.redeliver_after_s},
        "broker_connection_retry_on_startup": True,
    }


def celery_executor_config(spec: ExecutorSpec) -> dict[str, Any]:
    """dagster-celery's executor config for the spec: broker and results through ``broker_env``."""
    return {
        "broker": {"env": spec.broker_env},
        "backend": {"env": spec.broker_env},
        "config_source": celery_config_source(spec),
    }


def worker_config_yaml(spec: ExecutorSpec) -> dict[str, Any]:
    """The ``-y`` file of ``dagster-celery worker start``: the same settings as the runs'."""
    return {"execution": {"config": celery_executor_config(spec)}}


def default_executor_config(spec: ExecutorSpec) -> dict[str, Any]:
    """The executor config a run gets when its run config names none."""
    if spec.type == "multiprocess":
        return {
            "multiprocess": {"max_concurrent": spec.max_concurrent} if spec.max_concurrent else {}
        }
    if spec.type == "celery":
        return {"celery": celery_executor_config(spec)}
    return {"in_process": {}}


def celery_available() -> bool:
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        return False
    return True


def _requirements(config: Mapping[str, Any]) -> Sequence[ExecutorRequirement]:
    # a persistent instance for anything beyond one process (as Dagster's default executor)
    return (
        multiple_process_executor_requirements() if {"multiprocess", "celery"} & set(config) else []
    )


def _redacted(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def check_instance_shared(instance: Any) -> None:
    """Refuse an instance other machines cannot reach: SQLite files or an in-memory instance."""
    from dagster._core.storage.runs import InMemoryRunStorage, SqliteRunStorage

    storage = instance.run_storage
    if isinstance(storage, SqliteRunStorage | InMemoryRunStorage):
        where = (
            f"SQLite under DAGSTER_HOME={instance.root_directory}"
            if isinstance(storage, SqliteRunStorage)
            else "memory"
        )
        raise ScaleOutError(
            f"executor 'celery' runs steps on other machines, but this Dagster instance keeps its runs in {where}, "
            "which they cannot reach: configure the instance on PostgreSQL (dagster-postgres; "
            "instances/celery/dagster.yaml, docs/deploy.md)"
        )


def check_broker(app: Any, broker: str) -> None:
    """Connect to the broker once so an unreachable one fails the run with a clear message."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=2, interval_start=0.2, interval_step=0.5, timeout=5
            )
    except Exception as error:  # kombu raises its own or the transport's errors
        detail = str(error).replace(broker, _redacted(broker))
        raise ScaleOutError(
            f"executor 'celery': cannot reach the broker {_redacted(broker)} ({type(error).__name__}: {detail}); "
            "is Redis running and the broker URL's environment variable right?"
        ) from None


def result_backend(config: Mapping[str, Any], broker: str) -> str:
    """Where a run waits for its steps' results: where the workers send them.

    The workers' file (instances/celery/worker.yaml) sends them to the broker's Redis; run config
    that names no backend gets dagster-celery's schema default, rpc://, which would wait for
    replies nobody sends, so both mean the broker.
    """
    backend = config.get("backend")
    return broker if backend in (None, "rpc://") else str(backend)


def _celery_executor(
    context: InitExecutorContext,
    config: Mapping[str, Any],
    spec: ExecutorSpec,
    shared_storage: bool,
):
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    check_instance_shared(context.instance)
    if not shared_storage:
        raise ScaleOutError(
            "executor 'celery' runs steps on other machines, which cannot read this machine's files: set "
            "ETL_ASSETS_DATA_ROOT and ETL_ASSETS_WAREHOUSE to s3:// URLs (docs/deploy.md)"
        )
    broker = config.get("broker") or os.environ.get(spec.broker_env)
    if not broker:
        raise ScaleOutError(
            f"executor 'celery': no broker URL: set {spec.broker_env} (e.g. redis://host:6379/0)"
        )
    executor = CeleryExecutor(
        broker=broker,
        backend=result_backend(config, broker),
        include=config.get("include"),
        config_source={**celery_config_source(spec), **(config.get("config_source") or {})},
        retries=RetryMode.from_config(config["retries"]),
    )
    check_broker(make_app(executor.app_args()), broker)
    return executor


def executor_for(spec: ExecutorSpec, shared_storage: bool = False) -> ExecutorDefinition:
    """One executor with the three choices, defaulting to the spec's.

    ``shared_storage``: whether landing files and tables are on storage every worker reaches
    (S3); the celery choice refuses to start without it.
    """
    options: dict[str, Any] = {"multiprocess": MULTI_PROC_CONFIG, "in_process": IN_PROC_CONFIG}
    if celery_available():
        from dagster_celery.executor import CELERY_CONFIG

        options["celery"] = CELERY_CONFIG
    elif spec.type == "celery":
        raise ScaleOutError("executor 'celery' needs dagster-celery: install etl-assets[celery]")

    def create(context: InitExecutorContext):
        if "celery" in context.executor_config:
            return _celery_executor(
                context, context.executor_config["celery"], spec, shared_storage
            )
        return multi_or_in_process_executor.executor_creation_fn(context)  # type: ignore[misc]

    return ExecutorDefinition(
        name=multi_or_in_process_executor.name,
        config_schema=Field(Selector(options), default_value=default_executor_config(spec)),
        requirements=_requirements,
        executor_creation_fn=create,
        description=f"Steps run {spec.type.replace('_', '-')} by default (pipeline spec); run config can switch.",
    )
