"""The live side of telemetry: OpenTelemetry providers, spans and counters.

Imported only when telemetry is on (an OTLP endpoint configured, or :func:`configure` called),
so a process with nothing configured never loads OpenTelemetry.

Spans are started with an explicit parent rather than made "current": a step's compute function
is a generator that Dagster suspends while its IO manager stores each output, so a context
attached inside it would leak into Dagster's frames. The step span is found instead by the step's
(run id, step key), which IO contexts carry, or, for calls without a Dagster context (a source
read), by a context variable set while the step's function runs.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider, Span, Status, StatusCode, TracerProvider

from etl_assets.lib.telemetry import contexts
from etl_assets.lib.telemetry.names import (
    ASSET_KEY,
    BYTES,
    COUNTER_ATTRIBUTES,
    COUNTERS,
    FILES,
    FORMAT,
    LAYER,
    LOAD_SPAN,
    PIPELINE,
    ROWS,
    RUN_ID,
    SCOPE,
    SOURCE,
    SOURCE_SPAN,
    STEP_KEY,
    STEP_SPAN,
    STORAGE_URI,
    WRITE_SPAN,
)
from etl_assets.lib.telemetry.settings import ExportSettings
from etl_assets.lib.telemetry.uri import safe_uri

FLUSH_TIMEOUT_MS = 10_000


@dataclass
class StepRecord:
    """A step span and what its children and counters inherit from it."""

    span: Span
    identity: contexts.StepIdentity | None
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Whether the step's compute function has started (it then owns the span's end).
    entered: bool = False


class Telemetry:
    """Tracer, counters and the open step spans of this process."""

    def __init__(
        self, tracer_provider: TracerProvider, meter_provider: MeterProvider, owned: bool = False
    ) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.owned = owned  # built here from the environment: shut down on reset
        self.pid = os.getpid()
        self.tracer = tracer_provider.get_tracer(SCOPE, _version())
        meter = meter_provider.get_meter(SCOPE, _version())
        self.counters = {
            name: meter.create_counter(name, unit="{row}", description=description)
            for name, (_, description) in COUNTERS.items()
        }
        self._steps: dict[contexts.StepIdentity, StepRecord] = {}
        self._lock = threading.Lock()
        self._current: contextvars.ContextVar[StepRecord | None] = contextvars.ContextVar(
            "etl_assets_step", default=None
        )

    # ------------------------------------------------------------------ steps

    def _open(
        self, identity: contexts.StepIdentity | None, attributes: dict[str, Any]
    ) -> StepRecord:
        """The open span of a step, started now if nothing of the step started it yet."""
        with self._lock:
            record = self._steps.get(identity) if identity is not None else None
            if record is None:
                ids = {RUN_ID: identity[0], STEP_KEY: identity[1]} if identity else {}
                span = self.tracer.start_span(
                    f"{STEP_SPAN} {attributes[ASSET_KEY]}", attributes={**ids, **attributes}
                )
                record = StepRecord(span, identity, attributes)
                if identity is not None:
                    self._steps[identity] = record
            return record

    def _close(self, record: StepRecord) -> None:
        with self._lock:
            if record.identity is not None:
                self._steps.pop(record.identity, None)
        record.span.end()
        # a step process may end right after its step (multiprocess executor): export now
        self.flush()

    @contextmanager
    def step(self, context: Any, pipeline: str, layer: str, asset_key: str) -> Iterator[StepRecord]:
        """The span of one asset step, from its first input load (or its start) to its end."""
        identity = contexts.step_of_body(context)
        record = self._open(identity, {PIPELINE: pipeline, LAYER: layer, ASSET_KEY: asset_key})
        record.entered = True
        record.span.set_attributes(contexts.body_partitions(context))
        previous = self._current.get()
        self._current.set(record)
        try:
            yield record
        except GeneratorExit:  # Dagster stopped the step before its end (an output failed)
            record.span.set_status(Status(StatusCode.ERROR, "step stopped before its end"))
            raise
        except BaseException as error:
            _fail(record.span, error)
            raise
        finally:
            self._current.set(previous)
            self._close(record)

    def record_rows(self, counts: Mapping[str, int]) -> None:
        """Row counts of the running step: attributes of its span and counter increments."""
        record = self._current.get()
        values = {attribute: int(counts[attribute]) for attribute in counts}
        if record is not None:
            record.span.set_attributes(values)
        labels = {
            k: v
            for k, v in (record.attributes if record else {}).items()
            if k in COUNTER_ATTRIBUTES
        }
        for name, (attribute, _) in COUNTERS.items():
            if attribute in values:
                self.counters[name].add(values[attribute], labels)

    # ------------------------------------------------------------------ children

    @contextmanager
    def _child(
        self, name: str, parent: StepRecord | None, attributes: dict[str, Any]
    ) -> Iterator[Span]:
        inherited = (
            {PIPELINE: parent.attributes[PIPELINE]}
            if parent and PIPELINE in parent.attributes
            else {}
        )
        span = self.tracer.start_span(
            name,
            context=trace.set_span_in_context(parent.span) if parent is not None else None,
            attributes={**inherited, **attributes},
        )
        try:
            yield span
        except BaseException as error:
            _fail(span, error)
            raise
        finally:
            span.end()
            if parent is None:  # no step end will flush it
                self.flush()

    def _io_parent(self, context: Any, may_open: bool) -> StepRecord | None:
        identity = contexts.step_of_io(context)
        if identity is None:
            return self._current.get()
        with self._lock:
            record = self._steps.get(identity)
        if record is None and may_open:
            attributes = contexts.traced_step_attributes(context)
            if attributes is not None:
                record = self._open(identity, attributes)
        return record

    @contextmanager
    def source_read(
        self, name: str, source_format: str, location: Callable[[], object], partition_keys: Any
    ) -> Iterator[Callable[..., None]]:
        attributes = {
            SOURCE: name,
            FORMAT: source_format,
            STORAGE_URI: safe_uri(location()),
            **contexts.partition_attributes(list(partition_keys or [])),
        }
        with self._child(f"{SOURCE_SPAN} {name}", self._current.get(), attributes) as span:
            yield lambda **values: span.set_attributes(_read_values(values))

    @contextmanager
    def output_write(
        self, context: Any, storage_format: str, location: Callable[[], object] | None
    ) -> Iterator[None]:
        key = contexts.asset_key_of(context) or "output"
        attributes = {ASSET_KEY: key, FORMAT: storage_format, **contexts.io_partitions(context)}
        with self._child(
            f"{WRITE_SPAN} {key}", self._io_parent(context, may_open=False), attributes
        ) as span:
            yield
            logged = _plain(context.get_logged_metadata())
            where = logged.get("path") or (location() if location is not None else None)
            span.set_attributes(
                {
                    k: v
                    for k, v in {
                        ROWS: logged.get("dagster/row_count"),
                        BYTES: logged.get("bytes_written"),
                        STORAGE_URI: safe_uri(where) if where is not None else None,
                    }.items()
                    if v is not None
                }
            )

    @contextmanager
    def input_load(
        self, context: Any, storage_format: str, location: Callable[[], object] | None
    ) -> Iterator[Callable[[Any], None]]:
        key = contexts.asset_key_of(context) or "input"
        parent = self._io_parent(context, may_open=True)
        attributes: dict[str, Any] = {
            ASSET_KEY: key,
            FORMAT: storage_format,
            **contexts.io_partitions(context),
        }
        if location is not None:
            attributes[STORAGE_URI] = safe_uri(location())
        try:
            with self._child(f"{LOAD_SPAN} {key}", parent, attributes) as span:
                yield lambda frame: span.set_attribute(ROWS, len(frame))
        except BaseException as error:
            if parent is not None and not parent.entered:  # the step fails before its body
                _fail(parent.span, error)
                self._close(parent)
            raise

    # ------------------------------------------------------------------ export

    def flush(self) -> None:
        for provider in (self.tracer_provider, self.meter_provider):
            force_flush = getattr(provider, "force_flush", None)
            if force_flush is not None:
                force_flush(timeout_millis=FLUSH_TIMEOUT_MS)

    def shutdown(self) -> None:
        for provider in (self.tracer_provider, self.meter_provider):
            shutdown = getattr(provider, "shutdown", None)
            if shutdown is not None:
                shutdown()


def _fail(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def _read_values(values: Mapping[str, Any]) -> dict[str, Any]:
    names = {"rows": ROWS, "bytes": BYTES, "files": FILES}
    return {names[k]: int(v) for k, v in values.items() if v is not None}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("etl_assets")
    except PackageNotFoundError:
        return "0"


def from_environment(settings: ExportSettings) -> Telemetry:
    """Providers exporting over OTLP/HTTP as the ``OTEL_*`` environment says (endpoint,
    headers, timeout, compression, resource attributes are read by the SDK itself)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if resource.attributes.get(SERVICE_NAME, "").startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: SCOPE}))
    tracer_provider: TracerProvider = NoOpTracerProvider()
    meter_provider: MeterProvider = NoOpMeterProvider()
    if settings.traces:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        sdk_tracer = SdkTracerProvider(resource=resource)
        sdk_tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        tracer_provider = sdk_tracer
    if settings.metrics:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        meter_provider = SdkMeterProvider(
            resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
        )
    return Telemetry(tracer_provider, meter_provider, owned=True)
