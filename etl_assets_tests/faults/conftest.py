"""Fault tests: real servers (moto S3, PostgreSQL) from ``etl_assets_tests/servers``."""

from etl_assets_tests.servers.fixtures import pg, postgres_db, postgres_server

__all__ = ["pg", "postgres_db", "postgres_server"]
