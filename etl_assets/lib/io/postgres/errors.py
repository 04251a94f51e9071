"""Is a PostgreSQL failure worth retrying? For ``RetryPolicy`` and hand-written retry loops.

Classified by SQLSTATE (psycopg and ADBC both expose ``.sqlstate``), walking the exception's
cause chain, so a wrapped error is classified by what PostgreSQL actually said:

- retryable: connection lost or refused (class 08, server shutting down 57P01-57P03),
  serialization failure and deadlock (40001, 40P01), lock not available (55P03), out of
  resources (class 53), and plain network errors (``ConnectionError``, ``TimeoutError``);
- terminal: everything else, notably authentication (class 28), bad SQL or a missing table
  (class 42), bad data (class 22) and constraint violations (class 23).

A failed write surfaces as :class:`PostgresWriteError` (see :func:`named_write_failures`): the
driver's own text (ADBC: ``IO: [libpq] Failed to execute COPY ...``) says neither which table
nor which server, so the message names the table, ``user@host:port/dbname``, the SQLSTATE when
there is one, the driver's first line and whether a retry can help; the original stays the
``__cause__``, so :func:`is_retryable` classifies the wrapper like the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import adbc_driver_manager
import psycopg

from etl_assets.lib.resources.postgres import PostgresConnectionError

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "57014"})
RETRYABLE_CLASSES = frozenset({"08", "53"})
TERMINAL_CLASSES = frozenset({"28", "42", "22", "23", "3D", "3F", "0A"})
# libpq messages when the socket died and no SQLSTATE was received
_LOST_CONNECTION = (
    "server closed the connection unexpectedly",
    "connection refused",
    "terminating connection",
    "connection reset",
    "the database system is shutting down",
    "the database system is starting up",
    "could not connect to server",
    "consuming input failed",
    "no connection to the server",
    "connection is lost",
    "connection is closed",
)


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of ``error`` or of the first exception in its cause chain that has one."""
    for current in _chain(error):
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5 and state != "00000":
            return state
    return None


def _chain(error: BaseException):
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


def is_retryable(error: BaseException) -> bool:
    """True for transient failures (see the module docstring); False for terminal ones."""
    state = sqlstate(error)
    if state is not None:
        return state in RETRYABLE_SQLSTATES or state[:2] in RETRYABLE_CLASSES
    for current in _chain(error):
        text = str(current).lower()
        if "password authentication failed" in text or "authentication" in text:
            return False
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if any(marker in text for marker in _LOST_CONNECTION):
            return True
    return False


class RetryablePostgresError(Exception):
    """A transient PostgreSQL failure (the original is its ``__cause__``): worth a retry."""


def raise_classified(error: BaseException) -> None:
    """Re-raise ``error``, wrapped in :class:`RetryablePostgresError` when it is transient.

    Lets retry logic test one exception type, e.g. in an asset: ``except Exception as e:
    raise_classified(e)`` and retry only ``RetryablePostgresError`` (``dagster.RetryRequested``).
    """
    if is_retryable(error):
        raise RetryablePostgresError(str(error)) from error
    raise error


class PostgresWriteError(Exception):
    """A write to PostgreSQL that failed, named by table and server (original: ``__cause__``)."""

    def __init__(self, message: str, *, table: str, server: str, retryable: bool):
        super().__init__(message)
        self.table = table
        self.server = server
        self.retryable = retryable


#: What the database drivers raise (connection, SQL, data errors), as opposed to our own checks.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    adbc_driver_manager.Error,
    psycopg.Error,
    ConnectionError,
    TimeoutError,
)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


@contextmanager
def named_write_failures(action: str, table: str, server: str) -> Iterator[None]:
    """Driver errors inside the block as :class:`PostgresWriteError` naming ``table`` and
    ``server`` (``user@host:port/dbname``, no password), e.g. a connection dropped mid-COPY."""
    try:
        yield
    except (PostgresWriteError, PostgresConnectionError):
        raise  # they name the table or the server already
    except DRIVER_ERRORS as error:
        retryable = is_retryable(error)
        state = sqlstate(error)
        lost = retryable and (state is None or state[:2] == "08" or state.startswith("57P"))
        what = "the connection was lost" if lost else "PostgreSQL refused it"
        raise PostgresWriteError(
            f"{action} {table} on {server} failed: {what}"
            + (f" (SQLSTATE {state})" if state else "")
            + f": {type(error).__name__}: {_first_line(error)}"
            + ("; retryable: nothing was committed, run it again" if retryable else "; not retryable"),
            table=table,
            server=server,
            retryable=retryable,
        ) from error
