"""The Dagster instance itself on PostgreSQL, configured by the repo's instances/postgres/dagster.yaml."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from dagster import DagsterInstance, asset, materialize

from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.xdist_group("postgres")

PASSWORD = "inst-pw:'x"


def test_runs_and_events_land_in_postgres(postgres_server, postgres_db, pg, tmp_path, monkeypatch):
    role = "dagster_" + postgres_db
    postgres_server.sql(
        f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD.replace(chr(39), chr(39) * 2)}'"
    )
    postgres_server.sql(f"ALTER DATABASE {postgres_db} OWNER TO {role}")
    postgres_server.sql(f"GRANT ALL ON SCHEMA public TO {role}", dbname=postgres_db)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "instances" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USER": role,
        "DAGSTER_PG_PASSWORD": PASSWORD,
        "DAGSTER_PG_DB": postgres_db,
    }.items():
        monkeypatch.setenv(name, value)

    @asset
    def numbers() -> pd.DataFrame:
        return pd.DataFrame({"n": [1, 2, 3]})

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = materialize([numbers], instance=instance)
        assert result.success
        run_id = result.run_id

    with pg.connection() as conn:
        runs = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchall()
        kinds = {
            row[0]
            for row in conn.execute(
                "SELECT dagster_event_type FROM event_logs WHERE run_id = %s", (run_id,)
            )
        }
        keys = conn.execute("SELECT asset_key FROM asset_keys").fetchall()
    assert runs == [("SUCCESS",)]
    assert {"STEP_SUCCESS", "ASSET_MATERIALIZATION"} <= kinds
    # run start and success keep their historical names in storage
    assert {"PIPELINE_START", "PIPELINE_SUCCESS"} <= kinds
    assert any("numbers" in key for (key,) in keys)
