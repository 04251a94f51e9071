"""Spans of the other storages and sources: tables in PostgreSQL, a JSON API source.

Real servers (PostgreSQL as an unprivileged user, the local HTTP server); spans recorded by the
SDK's in-memory exporter (fixture ``recorded`` of ``test_spans_in_memory``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders
from etl_assets_tests.factory.test_http_pipeline import SPEC as API_SPEC
from etl_assets_tests.factory.test_http_pipeline import USERS, users_api
from etl_assets_tests.lib.telemetry.test_spans_in_memory import (
    DAY1,
    Recorded,
    _children,
    _one,
    recorded,
)
from etl_assets_tests.servers.fixtures import pg, postgres_db, postgres_server
from etl_assets_tests.servers.http import FaultServer

__all__ = ["pg", "postgres_db", "postgres_server", "recorded"]  # fixtures used here


@pytest.mark.xdist_group("postgres")
def test_postgres_tables_are_traced_without_credentials(
    pg, tmp_path: Path, recorded: Recorded
) -> None:
    write_customers(tmp_path)
    write_orders(tmp_path, "2024-01-01", DAY1)
    spec = parse_spec(
        SHOP_SPEC.replace("pipeline: shop\n", "pipeline: shop\nstorage: {default: postgres}\n")
    )
    defs = build_definitions([spec], tmp_path, tmp_path / "warehouse", postgres=pg)
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("shop_job").execute_in_process(
            instance=instance, partition_key="2024-01-01"
        )
        assert result.success
    with pg.connection() as conn:
        clean_rows = conn.execute("SELECT count(*) FROM shop.clean_orders").fetchone()[0]
        rejected_rows = conn.execute("SELECT count(*) FROM shop.rejected_orders").fetchone()[0]

    spans = recorded.finished()
    clean = _one(spans, "materialize shop/clean/orders")
    children = _children(spans, clean)
    assert set(children) == {
        "load shop/raw/orders",
        "write shop/clean/orders",
        "write shop/rejected/orders",
    }
    write = children["write shop/clean/orders"].attributes
    assert write["etl_assets.format"] == "postgres"
    assert write["etl_assets.rows"] == clean_rows == 2
    assert write["etl_assets.partition.key"] == "2024-01-01"
    assert (
        write["etl_assets.storage.uri"]
        == f"postgresql://{pg.host}:{pg.port}/{pg.dbname}/shop.clean_orders"
    )
    assert (
        children["write shop/rejected/orders"].attributes["etl_assets.rows"] == rejected_rows == 2
    )
    assert clean.attributes["etl_assets.rows_rejected"] == rejected_rows
    load = children["load shop/raw/orders"].attributes
    assert load["etl_assets.rows"] == len(DAY1)
    assert (
        load["etl_assets.storage.uri"]
        == f"postgresql://{pg.host}:{pg.port}/{pg.dbname}/shop.raw_orders"
    )
    for span in spans:  # neither user nor password on any span
        for value in span.attributes.values():
            assert f"{pg.user}@" not in str(value)
            assert not pg.password or pg.password not in str(value)


def test_http_source_read_is_traced_without_query_or_token(
    http_server: FaultServer, tmp_path: Path, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_TEST_API_TOKEN", "tok-secret-1")
    http_server.route("GET", "/users", users_api)
    spec = parse_spec(API_SPEC.replace("URL/users", http_server.base_url + "/users?src=etl"))
    defs = build_definitions([spec], tmp_path, tmp_path / "warehouse")
    with DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("api_job").execute_in_process(instance=instance).success

    spans = recorded.finished()
    raw = _one(spans, "materialize api/raw/users")
    children = _children(spans, raw)
    assert set(children) == {"read source users", "write api/raw/users"}
    read = children["read source users"].attributes
    assert read["etl_assets.format"] == "http"
    assert read["etl_assets.rows"] == len(USERS)
    assert read["etl_assets.storage.uri"] == http_server.base_url + "/users"
    assert raw.attributes["etl_assets.rows_out"] == len(USERS)
    clean = _one(spans, "materialize api/clean/users")
    assert clean.attributes["etl_assets.rows_rejected"] == 1  # id "x"
    assert all("tok-secret-1" not in str(v) for s in spans for v in s.attributes.values())
