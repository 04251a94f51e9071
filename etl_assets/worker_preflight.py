"""Preflight of a Celery worker machine: refuse to start, saying why, rather than fail every step.

A worker that cannot reach the Dagster instance or the S3 buckets would still connect to the
broker, take steps and fail each one minutes later, on whichever run happened to land there.
Started with ``-i etl_assets.worker_preflight`` (docs/deploy.md), ``dagster-celery worker start``
imports this module and, on Celery's ``worker_init`` signal (after the worker read its settings,
before it takes any task), checks what every step of a pipeline needs from this machine:

- the Dagster instance of ``DAGSTER_HOME`` loads, is one other machines share (PostgreSQL, not
  SQLite) and answers a query;
- ``ETL_ASSETS_DATA_ROOT`` and ``ETL_ASSETS_WAREHOUSE`` are ``s3://`` URLs (workers share no
  folder) whose bucket this machine can list, at ``ETL_ASSETS_S3_ENDPOINT_URL`` if set.

On a problem the worker exits with status 1, printing one line per problem, naming the setting,
the endpoint and the cause. Credentials never appear: the values of password-, secret- and
token-like environment variables are masked in every message. The broker itself is Celery's
business: an unreachable one is logged with its password masked and retried.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from etl_assets.component.settings import StorageSettings, storage_settings
from etl_assets.lib.remote_errors import root_cause

_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL", re.I)
_STORAGE_SETTINGS = {"data_root": "ETL_ASSETS_DATA_ROOT", "warehouse": "ETL_ASSETS_WAREHOUSE"}


class PreflightFailed(SystemExit):
    """Stops the worker before it takes a task (a ``SystemExit``: Celery's signal dispatch logs
    and swallows ordinary exceptions raised by receivers)."""


def mask_secrets(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with the value of every password-, secret- or token-like variable replaced."""
    for name, value in (os.environ if env is None else env).items():
        if _SECRET_NAME.search(name) and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def instance_problems(load_instance: Callable[[], Any] | None = None) -> list[str]:
    """Why this machine cannot use the run's instance (none: it can)."""
    from dagster import DagsterInstance

    from etl_assets.factory.executors import ScaleOutError, check_instance_shared

    home = os.environ.get("DAGSTER_HOME", "<unset>")
    try:
        instance = (load_instance or DagsterInstance.get)()
    except Exception as error:  # dagster's, sqlalchemy's or psycopg's errors: all are reported
        return [f"the Dagster instance of DAGSTER_HOME={home} does not load: {root_cause(error)}"]
    try:
        check_instance_shared(instance)
        instance.get_runs_count()
    except ScaleOutError as error:
        return [str(error)]
    except Exception as error:
        return [f"the Dagster instance of DAGSTER_HOME={home} does not answer: {root_cause(error)}"]
    finally:
        instance.dispose()
    return []


def _s3_client(settings: StorageSettings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        config=config,
    )


def storage_problems(settings: StorageSettings) -> list[str]:
    """Why steps on this machine could not read landing files or write tables (none: they can)."""
    problems: list[str] = []
    client = None
    endpoint = settings.s3_endpoint_url or "the default S3 endpoint"
    for field, variable in _STORAGE_SETTINGS.items():
        where = str(getattr(settings, field))
        if not where.startswith("s3://"):
            problems.append(
                f"{variable}={where} is a local folder, which other machines cannot read: "
                "set it to an s3:// URL (docs/deploy.md)"
            )
            continue
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        try:
            client = client or _s3_client(settings)
            client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except Exception as error:  # botocore's errors: every one makes the storage unusable
            problems.append(
                f"{variable}={where}: cannot list bucket {bucket!r} at {endpoint}: {root_cause(error)}"
            )
    return problems


def preflight_problems(
    settings: StorageSettings | None = None, load_instance: Callable[[], Any] | None = None
) -> list[str]:
    """Everything that keeps this machine from running steps, masked; empty when it can."""
    settings = settings or storage_settings(Path.cwd())
    problems = instance_problems(load_instance) + storage_problems(settings)
    return [mask_secrets(problem) for problem in problems]


def _on_worker_init(**_: Any) -> None:
    # printed, not logged: Celery sets up its log handlers only after ``worker_init``
    problems = preflight_problems()
    if problems:
        raise PreflightFailed("etl_assets worker preflight failed:\n- " + "\n- ".join(problems))
    settings = storage_settings(Path.cwd())
    print(
        f"etl_assets worker preflight passed: the instance of DAGSTER_HOME={os.environ.get('DAGSTER_HOME')}, "
        f"data root {settings.data_root}, warehouse {settings.warehouse}",
        file=sys.stderr,
        flush=True,
    )


def _connect() -> None:
    from celery.signals import worker_init

    worker_init.connect(_on_worker_init, weak=False)


_connect()
