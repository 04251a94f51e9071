"""The celery choice of the spec's ``executor``: defaults, queue routing and the checks that make a
misconfigured fleet fail at once with a clear message (no servers but a closed port)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from etl_assets.factory import build_definitions, pipeline_job_name
from etl_assets.factory.executors import (
    CELERY_QUEUE_TAG,
    ScaleOutError,
    check_broker,
    check_instance_shared,
    worker_config_yaml,
)
from etl_assets.lib.spec import parse_spec
from etl_assets.lib.spec.models import ExecutorSpec
from etl_assets_tests.conftest import PROJECT_ROOT, SHOP_SPEC
from etl_assets_tests.servers.postgres import free_port

CELERY_SHOP = SHOP_SPEC.replace(
    "sources:", "executor: {type: celery, redeliver_after_s: 60}\nsources:", 1
)


def test_celery_needs_shared_storage_at_definition_time(tmp_path: Path) -> None:
    with pytest.raises(ScaleOutError, match=r"pipeline shop: executor 'celery' .* s3:// URLs"):
        build_definitions([parse_spec(CELERY_SHOP)], tmp_path)


def test_celery_job_and_backfills_default_to_the_spec_broker_env() -> None:
    spec = parse_spec(CELERY_SHOP)
    defs = build_definitions([spec], "s3://bucket/data", "s3://bucket/warehouse")
    repository = defs.get_repository_def()
    for job_name in (pipeline_job_name(spec), "__ASSET_JOB"):
        default = repository.get_job(job_name).executor_def.config_schema.as_field().default_value
        assert default["celery"]["broker"] == {"env": "ETL_ASSETS_CELERY_BROKER"}, job_name
        assert default["celery"]["config_source"]["task_acks_late"] is True
        assert (
            default["celery"]["config_source"]["broker_transport_options"]["visibility_timeout"]
            == 60
        )


def test_a_location_of_mixed_executors_runs_asset_selections_in_process() -> None:
    other = parse_spec(SHOP_SPEC.replace("pipeline: shop", "pipeline: shop2"))
    defs = build_definitions([parse_spec(CELERY_SHOP), other], "s3://bucket/data")
    executor = defs.get_repository_def().get_job("__ASSET_JOB").executor_def
    assert executor.config_schema.as_field().default_value == {"in_process": {}}


def test_steps_needing_the_embedding_model_go_to_the_embedding_queue() -> None:
    text = (PROJECT_ROOT / "pipelines" / "customers.yaml").read_text()
    assert "\nexecutor: in_process\n" in text
    spec = parse_spec(
        text.replace(
            "\nexecutor: in_process\n", "\nexecutor: {type: celery, embedding_queue: gpu}\n"
        )
    )
    job = build_definitions([spec], "s3://b/data").resolve_job_def(pipeline_job_name(spec))
    queues = {node.name: node.definition.tags.get(CELERY_QUEUE_TAG) for node in job.graph.nodes}
    assert queues["customers__clean__customers"] == "gpu"  # fuzzy dedup with `company: embedding`
    assert {q for name, q in queues.items() if name != "customers__clean__customers"} == {None}


def test_a_sqlite_instance_is_refused_naming_its_home(tmp_path: Path) -> None:
    with (
        DagsterInstance.from_config(str(tmp_path)) as instance,
        pytest.raises(ScaleOutError, match=rf"SQLite under DAGSTER_HOME={tmp_path}.*PostgreSQL"),
    ):
        check_instance_shared(instance)


def test_an_unreachable_broker_fails_without_its_password() -> None:
    from dagster_celery.make_app import make_app

    url = f"redis://:pw-Not-To-Show@127.0.0.1:{free_port()}/0"
    app = make_app(
        {"broker": url, "backend": url, "include": [], "config_source": None, "retries": None}
    )
    with pytest.raises(ScaleOutError) as caught:
        check_broker(app, url)
    message = str(caught.value)
    assert "cannot reach the broker redis://:**@127.0.0.1" in message
    assert "pw-Not-To-Show" not in message


def test_shipped_worker_config_is_the_runs_config() -> None:
    shipped = yaml.safe_load((PROJECT_ROOT / "instances" / "celery" / "worker.yaml").read_text())
    assert shipped == worker_config_yaml(ExecutorSpec(type="celery"))


def test_every_materialization_records_the_process_that_ran_it(tmp_path: Path) -> None:
    import os
    import socket

    from dagster import DagsterInstance

    from etl_assets.factory.executors import WORKER_METADATA_KEY
    from etl_assets_tests.conftest import write_customers, write_orders

    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-02", [("1", "1", "9.5", "2024-01-02T08:00:00Z")])
    defs = build_definitions([parse_spec(SHOP_SPEC)], tmp_path)
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_job").execute_in_process(
            instance=instance, partition_key="2024-01-02"
        )
    materializations = result.get_asset_materialization_events()
    where = {
        e.asset_key.to_user_string(): e.materialization.metadata[WORKER_METADATA_KEY].value
        for e in materializations
        if WORKER_METADATA_KEY in e.materialization.metadata
    }
    # raw, clean and aggregate tables (not the rejected side output)
    assert {"shop/raw/orders", "shop/clean/orders", "shop/agg/daily_country"} <= set(where)
    assert set(where.values()) == {f"{socket.gethostname()}:{os.getpid()}"}


@pytest.mark.integration
def test_run_config_switch_to_celery_on_sqlite_fails_at_launch_saying_why(tmp_path: Path) -> None:
    """A deployment switching a pipeline to celery by run config, on an instance other machines
    cannot reach: the run fails at its start with the message, before any step is queued."""
    import json
    import os
    import subprocess
    import sys

    from dagster import DagsterEventType, DagsterRunStatus

    pipelines, home = tmp_path / "pipelines", tmp_path / "home"
    for folder in (pipelines, home):
        folder.mkdir()
    (pipelines / "shop.yaml").write_text(SHOP_SPEC)
    module = tmp_path / "shop_defs.py"
    module.write_text(
        "from etl_assets.factory import build_definitions\nfrom etl_assets.lib.spec import load_specs\n"
        f"defs = build_definitions(load_specs([{str(pipelines)!r}]), 's3://bucket/data')\n"
    )
    (tmp_path / "run.yaml").write_text(json.dumps({"execution": {"config": {"celery": {}}}}))
    command = [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-f", str(module), "-j", "shop_job",
               "--tags", json.dumps({"dagster/partition": "2024-01-02"}), "-c", str(tmp_path / "run.yaml")]  # fmt: skip
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ETL_ASSETS_CELERY_BROKER": "redis://:secret-pw@127.0.0.1:1/0",
    }
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode != 0
    with DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.FAILURE, done.stdout[-2000:] + done.stderr[-3000:]
        logs = instance.all_logs(run.run_id)
    assert not [
        e
        for e in logs
        if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_START
    ]
    text = "\n".join(str(e) for e in logs)
    assert "keeps its runs in SQLite under DAGSTER_HOME" in text
    assert "secret-pw" not in text + done.stdout + done.stderr


def test_a_run_config_switch_waits_for_results_where_the_workers_send_them() -> None:
    from etl_assets.factory.executors import result_backend

    broker = "redis://:pw@redis:6379/0"
    assert result_backend({"backend": "rpc://"}, broker) == broker  # the schema's default
    assert result_backend({}, broker) == broker
    assert result_backend({"backend": "redis://other:6379/1"}, broker) == "redis://other:6379/1"
