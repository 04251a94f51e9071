"""Real servers for the scale-out tests: PostgreSQL (the Dagster instance) and moto's S3 server."""

from etl_assets_tests.servers.fixtures import postgres_db, postgres_server  # noqa: F401
