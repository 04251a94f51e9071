"""PostgreSQL connection settings and a pooled connection, as a Dagster resource.

:class:`PostgresResource` is configured like any ``ConfigurableResource`` (the password from
``EnvVar("...")``, never a literal in code or YAML). It hands out:

- :meth:`PostgresResource.connection`: a psycopg 3 connection from a ``psycopg_pool`` pool
  (created on first use, closed at the end of the run);
- :meth:`PostgresResource.adbc_connection`: an ADBC (Arrow) connection, used for bulk COPY and
  Arrow reads, which is several times faster than feeding COPY from Python.

The password is kept out of everything that can be shown: ``repr``, Dagster metadata, log
lines and error messages. Errors raised while connecting are re-raised as
:class:`PostgresConnectionError` with the password (plain and URL-encoded) blanked out.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from typing import Any, Literal

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
REDACTED = "********"


class PostgresConnectionError(ConnectionError):
    """Could not connect to PostgreSQL (the message names host, port, database and user)."""


class PostgresResource(ConfigurableResource):
    """Where the PostgreSQL server is and how to log in; one connection pool per run."""

    host: str = Field(default="127.0.0.1", description="Server host name or address.")
    port: int = Field(default=5432, ge=1, le=65535)
    user: str = Field(default="postgres")
    password: str = Field(
        default="",
        repr=False,
        description="Password; set it with EnvVar('...') so it never lands in config or code.",
    )
    dbname: str = Field(default="postgres")
    sslmode: SslMode = "prefer"
    connect_timeout: int = Field(default=10, ge=1, description="Seconds to wait for a connection.")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=4, ge=1)
    application_name: str = "etl_assets"

    _pool: Any = PrivateAttr(default=None)

    # ------------------------------------------------------------------ descriptions

    def __repr__(self) -> str:
        return (
            f"PostgresResource(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password={REDACTED if self.password else ''!r}, dbname={self.dbname!r}, "
            f"sslmode={self.sslmode!r})"
        )

    __str__ = __repr__

    def describe(self) -> str:
        """``user@host:port/dbname``: safe for logs and metadata."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def redact(self, text: str) -> str:
        """``text`` with the password (plain and URL-encoded) replaced by asterisks."""
        if not self.password:
            return text
        for secret in {self.password, urllib.parse.quote(self.password, safe="")}:
            text = text.replace(secret, REDACTED)
        return text

    # ------------------------------------------------------------------ connection strings

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` (contains the password: do not log)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            "application_name": self.application_name,
        }
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def uri(self) -> str:
        """A ``postgresql://`` URI for libpq-based clients such as ADBC (contains the password)."""
        quote = urllib.parse.quote
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        query = urllib.parse.urlencode(
            {
                "sslmode": self.sslmode,
                "connect_timeout": self.connect_timeout,
                "application_name": self.application_name,
            }
        )
        return f"postgresql://{auth}@{quote(self.host, safe='')}:{self.port}/{quote(self.dbname, safe='')}?{query}"

    # ------------------------------------------------------------------ connections

    def _connection_error(self, error: BaseException) -> PostgresConnectionError:
        wrapped = PostgresConnectionError(
            f"cannot connect to PostgreSQL {self.describe()}: {self.redact(str(error)).strip()}"
        )
        wrapped.sqlstate = getattr(error, "sqlstate", None)  # kept for retry classification
        return wrapped

    def pool(self) -> Any:
        """The run's ``psycopg_pool.ConnectionPool`` (opened on first use)."""
        if self._pool is None:
            import psycopg
            from psycopg_pool import ConnectionPool

            # One direct connection first: the pool would only report "incomplete after N s",
            # hiding a wrong password or database that the caller must see (and not retry).
            try:
                psycopg.connect(**self.connect_kwargs()).close()
            except psycopg.Error as error:
                raise self._connection_error(error) from None

            pool = ConnectionPool(
                kwargs=self.connect_kwargs(),
                min_size=self.pool_min_size,
                max_size=self.pool_max_size,
                timeout=float(self.connect_timeout),
                open=False,
                name=f"etl_assets:{self.describe()}",
                # a connection broken by a server restart is replaced, not handed out
                check=ConnectionPool.check_connection,
            )
            try:
                pool.open(wait=self.pool_min_size > 0, timeout=float(self.connect_timeout))
            except Exception as error:
                pool.close()
                raise self._connection_error(error) from None
            self._pool = pool
        return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled psycopg connection; the block is one transaction (commit on success)."""
        from psycopg_pool import PoolTimeout

        try:
            with self.pool().connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise self._connection_error(error) from None

    @contextlib.contextmanager
    def adbc_connection(self) -> Iterator[Any]:
        """A fresh ADBC connection (autocommit off): for Arrow bulk COPY and Arrow reads."""
        import adbc_driver_postgresql.dbapi as adbc

        try:
            conn = adbc.connect(self.uri())
        except Exception as error:
            raise self._connection_error(error) from None
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()
