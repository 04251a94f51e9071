"""PostgreSQL tests share one real server per worker (see ``etl_assets_tests/servers``)."""

import pytest

from etl_assets_tests.servers.fixtures import pg, postgres_db, postgres_server

__all__ = ["pg", "postgres_db", "postgres_server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "etl_assets_tests/postgres/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("postgres"))
