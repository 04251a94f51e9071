"""Traces and metrics with OpenTelemetry: optional, and free when off.

What is recorded (names in :mod:`etl_assets.lib.telemetry.names`):

- a span per asset step (``materialize <asset key>``), with children per source read
  (``read source <name>``), per output stored (``write <asset key>``) and per input loaded
  (``load <asset key>``), carrying rows, bytes, partition (key, or range and count), pipeline,
  asset key, format and storage URI (without credentials or query string);
- counters ``etl_assets.rows.in`` / ``.out`` / ``.rejected`` / ``.deduplicated`` / ``.dropped``
  per pipeline, layer and asset key.

When it is on: an OTLP endpoint is configured through OpenTelemetry's standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, or ``..._TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``; see
``settings.py``), or a program passes its own providers to :func:`configure`. Otherwise every
hook below returns at once and OpenTelemetry is never imported. The providers are set up once per
process on first use, so each step process of the multiprocess executor sets up its own, and
every step flushes its spans and counters when it ends (a step process may exit right after).

The hooks are what the factory, the source reader and the IO managers call; a hand-written
asset can use them too (:func:`traced_step` on a generator compute function,
:func:`record_rows` inside it).
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from etl_assets.lib.telemetry.contexts import TRACED_MARK
from etl_assets.lib.telemetry.names import (
    ASSET_KEY,
    LAYER,
    PIPELINE,
    ROWS_DEDUPLICATED,
    ROWS_DROPPED,
    ROWS_IN,
    ROWS_OUT,
    ROWS_REJECTED,
)
from etl_assets.lib.telemetry.settings import EXTRA_HINT, MISSING_EXTRA, export_settings
from etl_assets.lib.telemetry.uri import safe_uri

if TYPE_CHECKING:
    from etl_assets.lib.telemetry.runtime import Telemetry

__all__ = [
    "EXTRA_HINT",
    "TelemetryUnavailableWarning",
    "active",
    "configure",
    "input_load",
    "output_write",
    "record_rows",
    "reset",
    "safe_uri",
    "source_read",
    "traced_step",
]

F = TypeVar("F", bound=Callable[..., Any])


class TelemetryUnavailableWarning(UserWarning):
    """An OTLP endpoint is configured but the ``otel`` extra is not installed."""


class _Off:
    """The hook result when telemetry is off: a reusable context manager that records nothing."""

    def __enter__(self) -> Callable[..., None]:
        return _ignore

    def __exit__(self, *exc: object) -> None:
        return None


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


_OFF = _Off()
_UNSET: Any = object()
_state: Any = _UNSET  # Telemetry | None once decided for this process
_missing_extra: str | None = None  # the message, when an endpoint is set without the extra


def active() -> Telemetry | None:
    """This process's telemetry, set up on first use from the environment; None when off."""
    state = _state
    if state is None:
        return None
    if state is _UNSET or state.pid != os.getpid():  # first use, or a forked process
        return _from_environment()
    return state


def _from_environment() -> Telemetry | None:
    global _state, _missing_extra
    settings = export_settings(os.environ)
    if not settings.enabled:
        _state = None
        return None
    try:
        from etl_assets.lib.telemetry.runtime import from_environment
    except ImportError:
        _missing_extra = MISSING_EXTRA.format(variable=settings.variable)
        warnings.warn(_missing_extra, TelemetryUnavailableWarning, stacklevel=3)
        _state = None
        return None
    _state = from_environment(settings)
    return _state


def configure(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Record into these providers (an application's own, or the SDK's in-memory ones in tests)
    instead of deciding from the environment; either may be None (that signal is off)."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from etl_assets.lib.telemetry.runtime import Telemetry

    global _state
    reset()
    _state = Telemetry(
        tracer_provider or NoOpTracerProvider(), meter_provider or NoOpMeterProvider()
    )


def reset() -> None:
    """Forget the current setup (shutting down providers built here); the next hook decides
    again from the environment."""
    global _state, _missing_extra
    state, _state, _missing_extra = _state, _UNSET, None
    if state is not _UNSET and state is not None and state.owned:
        state.shutdown()


def traced_step(pipeline: str, layer: str, asset_key: Any) -> Callable[[F], F]:
    """Decorate a compute function: its step runs inside a ``materialize`` span.

    The span starts at the step's first input load (or the function's start) and ends, and is
    flushed, when the function has yielded everything, so the IO managers' writes of its
    outputs are inside it. The decorated function is a generator; a plain function must return
    an ``Output`` or a ``MaterializeResult`` (yielded as the step's one event). ``asset_key`` is
    an ``AssetKey`` or its user string.
    """
    key = asset_key.to_user_string() if hasattr(asset_key, "to_user_string") else str(asset_key)

    def decorate(fn: F) -> F:
        events = fn if inspect.isgeneratorfunction(fn) else _as_events(fn)

        @functools.wraps(fn)
        def traced(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            telemetry = active()
            if telemetry is None:
                if _missing_extra is not None:
                    context.log.warning(_missing_extra)
                return (yield from events(context, *args, **kwargs))
            with telemetry.step(context, pipeline, layer, key):
                return (yield from events(context, *args, **kwargs))

        setattr(traced, TRACED_MARK, {PIPELINE: pipeline, LAYER: layer, ASSET_KEY: key})
        return traced  # type: ignore[return-value]

    return decorate


def _as_events(fn: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
    from dagster import MaterializeResult, Output

    def events(*args: Any, **kwargs: Any) -> Iterator[Any]:
        result = fn(*args, **kwargs)
        if not isinstance(result, Output | MaterializeResult):
            raise TypeError(
                f"{fn.__qualname__} is decorated with traced_step: it must be a generator or "
                f"return an Output or a MaterializeResult, not {type(result).__name__}"
            )
        yield result

    return events


def record_rows(
    *,
    rows_in: int | None = None,
    rows_out: int | None = None,
    rejected: int | None = None,
    deduplicated: int | None = None,
    dropped: int | None = None,
) -> None:
    """Row counts of the running step: on its span, and added to the row counters."""
    telemetry = active()
    if telemetry is None:
        return
    counts = {
        ROWS_IN: rows_in,
        ROWS_OUT: rows_out,
        ROWS_REJECTED: rejected,
        ROWS_DEDUPLICATED: deduplicated,
        ROWS_DROPPED: dropped,
    }
    telemetry.record_rows({k: v for k, v in counts.items() if v is not None})


def source_read(
    name: str, source_format: str, location: Callable[[], object], partition_keys: Any = None
) -> AbstractContextManager[Callable[..., None]]:
    """A ``read source <name>`` span; the context value takes ``rows=``, ``bytes=``, ``files=``.
    ``location`` is called only when telemetry is on."""
    telemetry = active()
    if telemetry is None:
        return _OFF
    return telemetry.source_read(name, source_format, location, partition_keys)


def output_write(
    context: Any, storage_format: str, location: Callable[[], object] | None = None
) -> AbstractContextManager[Any]:
    """A ``write <asset key>`` span around an IO manager's ``handle_output``; rows, bytes and
    path are read from the output metadata the manager logged."""
    telemetry = active()
    if telemetry is None:
        return _OFF
    return telemetry.output_write(context, storage_format, location)


def input_load(
    context: Any, storage_format: str, location: Callable[[], object] | None = None
) -> AbstractContextManager[Callable[[Any], None]]:
    """A ``load <asset key>`` span around an IO manager's ``load_input``; call the context value
    with the loaded frame to record its rows."""
    telemetry = active()
    if telemetry is None:
        return _OFF
    return telemetry.input_load(context, storage_format, location)
