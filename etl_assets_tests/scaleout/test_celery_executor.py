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
