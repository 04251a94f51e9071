"""The spec's ``executor``: validation, the job's default, and real runs in one or many processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from etl_assets.factory import build_definitions, pipeline_job_name
from etl_assets.factory.executors import default_executor_config
from etl_assets.lib.spec import SpecError, parse_spec
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders

BIN = Path(sys.executable).parent


def shop_with(executor_yaml: str | None) -> str:
    return (
        SHOP_SPEC
        if executor_yaml is None
        else SHOP_SPEC.replace("sources:", f"{executor_yaml}\nsources:", 1)
    )


@pytest.mark.parametrize(
    ("executor_yaml", "message"),
    [
        (
            "executor: threads",
            "p.yaml:5: executor.type: unknown executor 'threads'; expected one of in_process, multiprocess, celery",
        ),
        (
            "executor: {type: multiprocess, embedding_queue: gpu}",
            "p.yaml:5: executor.embedding_queue: embedding_queue applies to executor 'celery' only",
        ),
        (
            "executor: {type: celery, broker_env: 'redis://x'}",
            "p.yaml:5: executor.broker_env: 'redis://x' is not an environment variable name",
        ),
        (
            "executor: {type: in_process, max_concurrent: 2}",
            "executor.max_concurrent: max_concurrent applies to executor 'multiprocess' only",
        ),
        (
            "executor: {type: multiprocess, max_concurrent: 0}",
            "executor.max_concurrent: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_executor_is_a_spec_error_naming_line_and_field(
    executor_yaml: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(shop_with(executor_yaml), Path("p.yaml"))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("executor_yaml", "expected"),
    [
        (None, {"in_process": {}}),
        ("executor: in_process", {"in_process": {}}),
        ("executor: multiprocess", {"multiprocess": {}}),
        (
            "executor: {type: multiprocess, max_concurrent: 3}",
            {"multiprocess": {"max_concurrent": 3}},
        ),
    ],
)
def test_job_executor_defaults_to_the_spec_choice(
    tmp_path: Path, executor_yaml: str | None, expected: dict
) -> None:
    spec = parse_spec(shop_with(executor_yaml))
    assert default_executor_config(spec.executor) == expected
    job = build_definitions([spec], tmp_path).resolve_job_def(pipeline_job_name(spec))
    assert job.executor_def.config_schema.as_field().default_value == expected


def test_shipped_pipelines_run_in_process() -> None:
    """The demo pipelines are small: a process per step would cost more than the steps."""
    from etl_assets.lib.spec import load_specs
    from etl_assets_tests.conftest import PROJECT_ROOT

    for spec in load_specs([PROJECT_ROOT / "pipelines"]):
        assert spec.executor.type == "in_process", spec.pipeline


DEFS_MODULE = """
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_specs

defs = build_definitions(load_specs([{pipelines!r}]), {data!r})
"""


def launch_partition(
    tmp_path: Path, executor_yaml: str | None, run_config: dict | None = None
) -> list[int]:
    """Execute the shop job for one partition in a fresh process through a persistent instance
    (as a launched run does); return the pid of the run's start and of each step's start."""
    pipelines, data, home = tmp_path / "pipelines", tmp_path / "data", tmp_path / "home"
    for folder in (pipelines, home):
        folder.mkdir()
    (pipelines / "shop.yaml").write_text(shop_with(executor_yaml))
    write_orders(data, "2024-01-02", [("1", "1", "9.5", "2024-01-02T08:00:00Z")])
    write_customers(data)
    module = tmp_path / "shop_defs.py"
    module.write_text(DEFS_MODULE.format(pipelines=str(pipelines), data=str(data)))
    command = [
        str(BIN / "dagster"),
        "job",
        "execute",
        "-f",
        str(module),
        "-j",
        "shop_job",
        "--tags",
        json.dumps({"dagster/partition": "2024-01-02"}),
    ]
    if run_config is not None:
        (tmp_path / "run.yaml").write_text(json.dumps(run_config))
        command += ["-c", str(tmp_path / "run.yaml")]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        events = [
            entry.dagster_event
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is not None
        ]
    [run_start] = [event.pid for event in events if event.event_type == DagsterEventType.RUN_START]
    return [
        run_start,
        *(event.pid for event in events if event.event_type == DagsterEventType.STEP_START),
    ]


@pytest.mark.integration
def test_in_process_by_default_every_step_in_the_run_process(tmp_path: Path) -> None:
    run_pid, *step_pids = launch_partition(tmp_path, None)
    assert len(step_pids) == 6  # shop: 2 raw, 2 clean (with rejected), 2 aggregate steps
    assert set(step_pids) == {run_pid}


@pytest.mark.integration
def test_run_config_switches_to_a_process_per_step(tmp_path: Path) -> None:
    run_pid, *step_pids = launch_partition(
        tmp_path, None, {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    )
    assert run_pid not in step_pids
    assert len(set(step_pids)) == len(step_pids)  # each step in a process of its own


@pytest.mark.integration
def test_spec_multiprocess_runs_a_process_per_step(tmp_path: Path) -> None:
    run_pid, *step_pids = launch_partition(
        tmp_path, "executor: {type: multiprocess, max_concurrent: 2}"
    )
    assert run_pid not in step_pids
    assert len(set(step_pids)) == len(step_pids)


def test_asset_selection_runs_default_in_process(tmp_path: Path) -> None:
    """Landing-sensor runs and the UI's Materialize of some assets run the code location's
    default executor: in process as well, switchable by run config."""
    repository = build_definitions([parse_spec(SHOP_SPEC)], tmp_path).get_repository_def()
    sensor = repository.get_sensor_def("shop_orders_landing")
    for job_name in (sensor.job_name, "__ASSET_JOB"):
        executor = repository.get_job(job_name).executor_def
        assert executor.config_schema.as_field().default_value == {"in_process": {}}, job_name
