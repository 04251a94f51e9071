"""PostgresResource: connects, pools, and never shows the password."""

from __future__ import annotations

import logging

import pytest
from dagster import EnvVar, asset, materialize

from etl_assets.lib.resources.postgres import PostgresConnectionError, PostgresResource
from etl_assets_tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.xdist_group("postgres")

SECRET = "s3cr:t/P@ss word"


@pytest.fixture
def app_role(postgres_server: PostgresServer, postgres_db: str) -> str:
    name = "app_" + postgres_db
    postgres_server.sql(f"CREATE ROLE {name} LOGIN PASSWORD '{SECRET}'")
    postgres_server.sql(f"GRANT ALL ON DATABASE {postgres_db} TO {name}")
    return name


def _resource(server: PostgresServer, db: str, user: str, password: str) -> PostgresResource:
    return PostgresResource(
        host=server.host,
        port=server.port,
        user=user,
        password=password,
        dbname=db,
        sslmode="disable",
    )


def test_pooled_connection_with_password(postgres_server, postgres_db, app_role):
    resource = _resource(postgres_server, postgres_db, app_role, SECRET)
    try:
        with resource.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == app_role
        with resource.adbc_connection() as conn:
            cursor = conn.cursor()
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone()[0] == postgres_db
    finally:
        resource.close()


def test_password_not_in_repr_or_describe(postgres_server, postgres_db, app_role):
    resource = _resource(postgres_server, postgres_db, app_role, SECRET)
    for text in (repr(resource), str(resource), resource.describe()):
        assert SECRET not in text
    assert "********" in repr(resource)


@pytest.mark.parametrize("via", ["pool", "adbc"])
def test_wrong_password_error_is_redacted(postgres_server, postgres_db, app_role, via):
    wrong = SECRET + "-wrong"
    resource = _resource(postgres_server, postgres_db, app_role, wrong).model_copy(
        update={"connect_timeout": 2}
    )
    with pytest.raises(PostgresConnectionError) as caught:
        if via == "pool":
            with resource.connection():
                pass
        else:
            with resource.adbc_connection():
                pass
    message = str(caught.value)
    assert wrong not in message and SECRET not in message
    assert app_role in message and "password authentication failed" in message
    assert caught.value.__suppress_context__  # the raw driver error (with its URI) is not chained


def test_password_from_envvar_stays_out_of_logs_and_metadata(
    postgres_server, postgres_db, app_role, monkeypatch, caplog
):
    monkeypatch.setenv("TEST_PG_PASSWORD", SECRET)

    @asset
    def who(postgres: PostgresResource) -> None:
        with postgres.connection() as conn:
            user = conn.execute("SELECT current_user").fetchone()[0]
        logging.getLogger("test").info("connected as %s to %s", user, postgres.describe())

    resource = PostgresResource(
        host=postgres_server.host, port=postgres_server.port, user=app_role,
        password=EnvVar("TEST_PG_PASSWORD"), dbname=postgres_db, sslmode="disable",
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    result = materialize([who], resources={"postgres": resource})
    assert result.success
    everything = caplog.text + "".join(str(e) for e in result.all_events)
    assert app_role in everything
    assert SECRET not in everything
