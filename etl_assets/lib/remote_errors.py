"""Remote storage failures: named by endpoint, object and cause, and split into retry and stop.

On S3 a write or read can fail for reasons a retry fixes (a dropped connection, a read timeout,
a 503 slow-down; botocore and s3fs already retried those a few times) and for reasons it
cannot:

- access denied (``PermissionError``), a bucket or required object that does not exist
  (``FileNotFoundError``);
- an endpoint that refuses connections (nothing listens at ``endpoint_url``: a wrong setting or
  a service that is down). The client's own retries (see ``resources/s3.py``) have already
  spent a few seconds on it; three step retries minutes apart only delay the alert.

The second kind is raised as ``Failure(allow_retries=False)`` so a step ``RetryPolicy`` does not
rerun it; the first kind as a retryable ``Failure``. Both name what was being done, the endpoint,
the object and the innermost cause, so the step's failure says what broke rather than how many
times it was tried.

This module depends on nothing else in ``etl_assets``: the IO managers (``lib/io``), the source
files resource (``lib/resources``) and the factory import it, never the other way round. (It
lived in ``lib/io/remote.py`` and imported the IO managers, which imported it back.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Failure
from upath import UPath


def _botocore_errors() -> tuple[type[BaseException], ...]:
    """botocore's error classes, or none when the ``s3`` extra is not installed (then nothing
    can raise them: every S3 path needs s3fs, which brings botocore)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return ()
    return (BotoCoreError, ClientError)


#: s3fs maps 403 (AccessDenied, bad keys) to PermissionError and NoSuchBucket/NoSuchKey to
#: FileNotFoundError (terminal for writes: the bucket is missing).
TERMINAL_STORAGE_ERRORS: tuple[type[BaseException], ...] = (PermissionError, FileNotFoundError)
#: What a remote filesystem raises: botocore's own errors, and OSError subclasses from s3fs.
REMOTE_ERRORS: tuple[type[BaseException], ...] = (*_botocore_errors(), OSError)
#: Errors that come from talking to the service (s3fs keeps them as the cause of its OSErrors).
_SERVICE_ERRORS: tuple[type[BaseException], ...] = _botocore_errors()


def storage_endpoint(path: UPath) -> str:
    """The service ``path`` is read from or written to, as configured (never credentials)."""
    options = path.storage_options
    endpoint = options.get("endpoint_url") or (options.get("client_kwargs") or {}).get(
        "endpoint_url"
    )
    if endpoint:
        return str(endpoint)
    return f"the default {path.protocol or 'file'} endpoint"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (nested[-1] if nested else None)


def root_cause(error: BaseException) -> str:
    """The innermost exception of ``error``'s chain as ``Type: message``."""
    innermost = list(_chain(error))[-1]
    text = str(innermost).strip()
    return f"{type(innermost).__name__}: {text}" if text else type(innermost).__name__


def is_unreachable(error: BaseException) -> bool:
    """Whether the endpoint refused the connection (nothing listens there)."""
    return any(isinstance(e, ConnectionRefusedError) for e in _chain(error))


def from_service(error: BaseException) -> bool:
    """Whether ``error`` came from the storage service, not from local disk or our own code."""
    return any(isinstance(e, _SERVICE_ERRORS) for e in _chain(error))


def is_transient_storage_error(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a storage service failure a retry may fix: a
    timeout, a dropped connection, a 5xx. Not a refused connection, denied access or a missing
    object, and not an error of our own or of local disk."""
    chain = list(_chain(error))
    if not any(isinstance(e, _SERVICE_ERRORS) for e in chain):
        return False
    return not any(isinstance(e, (ConnectionRefusedError, *TERMINAL_STORAGE_ERRORS)) for e in chain)


def describe_storage_error(what: str, location: UPath, error: BaseException) -> str:
    """``<what>: <location> at <endpoint>: <cause>`` for a failed remote operation."""
    cause = root_cause(error)
    outer = f"{type(error).__name__}: {error}"
    detail = cause if cause == outer else f"{outer} (cause: {cause})"
    reach = "cannot connect to" if is_unreachable(error) else "via"
    return f"{what}: {location} {reach} {storage_endpoint(location)}: {detail}"


@contextmanager
def classified_storage_errors(
    what: str,
    location: UPath,
    terminal: tuple[type[BaseException], ...] = TERMINAL_STORAGE_ERRORS,
    passthrough: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Remote failures inside the block as a ``Failure`` naming ``location``, its endpoint and
    the cause; terminal ones (``terminal`` types, a refused connection) with ``allow_retries=False``.

    ``passthrough`` errors already say what failed (a source's own errors, a missing partition)
    and keep their type, unless a refused connection caused them: that one is terminal too.
    """
    try:
        yield
    except Failure:
        raise
    except passthrough as error:
        if not is_unreachable(error):
            raise
        raise Failure(
            description=f"{what}: {error}; cannot connect to {storage_endpoint(location)} "
            f"({root_cause(error)}) (terminal: not retried)",
            metadata=_metadata("terminal", error, location),
            allow_retries=False,
        ) from error
    except REMOTE_ERRORS as error:
        if not (from_service(error) or isinstance(error, terminal)):
            raise  # a local failure (staging disk, a bug): it says what it is already
        stop = isinstance(error, terminal) or is_unreachable(error)
        message = describe_storage_error(what, location, error)
        raise Failure(
            description=message + (" (terminal: not retried)" if stop else ""),
            metadata=_metadata("terminal" if stop else "transient", error, location),
            allow_retries=not stop,
        ) from error


def _metadata(kind: str, error: BaseException, location: UPath) -> dict[str, str]:
    return {
        "error_kind": kind,
        "error_type": type(error).__name__,
        "endpoint": storage_endpoint(location),
        "location": str(location),
    }


__all__ = [
    "REMOTE_ERRORS",
    "TERMINAL_STORAGE_ERRORS",
    "classified_storage_errors",
    "describe_storage_error",
    "from_service",
    "is_transient_storage_error",
    "is_unreachable",
    "root_cause",
    "storage_endpoint",
]
