"""definitions.py binds PostgreSQL only when ETL_ASSETS_POSTGRES_HOST is set; the password stays an EnvVar."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from etl_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.xdist_group("postgres")

PROBE = """
import json
import etl_assets.definitions as d
resources = d.defs.resources or {}
pg = resources.get("postgres")
print(json.dumps({
    "keys": sorted(resources),
    "password_field": repr(getattr(pg, "password", None)) if pg is not None else None,
    "dump": repr(resources),
}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ETL_ASSETS_POSTGRES_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, env={**clean, **env},
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_settings_no_postgres_resources():
    keys = _probe()["keys"]
    assert "postgres" not in keys and "postgres_io_manager" not in keys
    assert "parquet_io_manager" in keys


def test_with_settings_postgres_is_bound_and_password_is_an_envvar():
    secret = "pw-never-printed-123"
    out = _probe(
        ETL_ASSETS_POSTGRES_HOST="127.0.0.1",
        ETL_ASSETS_POSTGRES_PORT="6543",
        ETL_ASSETS_POSTGRES_PASSWORD=secret,
    )
    assert {"postgres", "postgres_io_manager"} <= set(out["keys"])
    assert "ETL_ASSETS_POSTGRES_PASSWORD" in out["password_field"]  # EnvVar, resolved at run time
    assert secret not in out["dump"] and secret not in out["password_field"]
