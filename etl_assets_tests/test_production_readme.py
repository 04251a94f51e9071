"""The README's "Running it in production on one machine" shows exactly the commands the daemon
tests run (etl_assets_tests/integration/test_daemon.py), and names things that exist."""

from __future__ import annotations

import shlex

from etl_assets.lib.spec import load_specs
from etl_assets_tests.conftest import PROJECT_ROOT
from etl_assets_tests.servers.dagster_deployment import (
    WORKSPACE_TEMPLATE,
    code_server_command,
    daemon_command,
    instigator_start_command,
    readme_production_commands,
    webserver_command,
)


def test_readme_commands_are_the_tested_ones() -> None:
    lines = readme_production_commands()
    workspace = str(WORKSPACE_TEMPLATE.relative_to(PROJECT_ROOT))
    tested = [
        code_server_command(4000),
        daemon_command(workspace),
        webserver_command(workspace, 3000),
        instigator_start_command("sensor", "flights_flights_landing", workspace),
        instigator_start_command("schedule", "flights_schedule", workspace),
    ]
    assert [shlex.split(line) for line in lines if line.startswith("dagster")] == tested
    setup = [line for line in lines if not line.startswith("dagster")]
    assert setup[0].startswith("export DAGSTER_HOME=") and "ETL_ASSETS_PIPELINES=" in setup[0]
    assert "ETL_ASSETS_DATA_ROOT=" in setup[0]
    assert (
        setup[1]
        == "mkdir -p $DAGSTER_HOME && cp instances/postgres/dagster.yaml $DAGSTER_HOME/dagster.yaml"
    )
    assert (PROJECT_ROOT / "instances" / "postgres" / "dagster.yaml").exists()
    assert len(setup) == 2  # the second is run as written by the PostgreSQL daemon test
    assert "port: 4000" in WORKSPACE_TEMPLATE.read_text()


def test_readme_names_a_sensor_and_schedule_of_the_shipped_pipelines() -> None:
    flights = next(
        spec for spec in load_specs([PROJECT_ROOT / "pipelines"]) if spec.pipeline == "flights"
    )
    assert flights.sources["flights"].sensor and flights.schedule is not None
