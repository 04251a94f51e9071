"""pytest fixtures around :class:`PostgresServer` (import them into a conftest).

One server per pytest process (xdist worker), started on first use and stopped at the end of
the session; each test gets its own fresh database so tests cannot see each other's tables.
Marking tests ``pytest.mark.xdist_group("postgres")`` lets ``--dist loadgroup`` keep them on one
worker (one server); without it each worker runs its own server, which works the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets_tests.servers.postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database (its name)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.sql(f"CREATE DATABASE {name}")
    yield name
    postgres_server.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg(postgres_server: PostgresServer, postgres_db: str) -> Iterator[PostgresResource]:
    """A resource logged in as the superuser on the test's own database."""
    resource = PostgresResource(
        host=postgres_server.host,
        port=postgres_server.port,
        user="postgres",
        dbname=postgres_db,
        sslmode="disable",
    )
    yield resource
    resource.close()
