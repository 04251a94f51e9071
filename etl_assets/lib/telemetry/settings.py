"""Whether telemetry is exported, from OpenTelemetry's standard environment variables.

Read without importing OpenTelemetry, so that a process with nothing configured never loads
it. Exporting is on when an OTLP endpoint is configured:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (traces and metrics), or
- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` (one signal);

and off when ``OTEL_SDK_DISABLED=true``, or per signal when ``OTEL_TRACES_EXPORTER`` /
``OTEL_METRICS_EXPORTER`` is ``none``. Everything else (headers, timeouts, compression,
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) is read by the OpenTelemetry SDK itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EXTRA_HINT = "pip install 'etl_assets[otel]'"
MISSING_EXTRA = (
    "etl_assets: an OTLP endpoint is configured ({variable}) but OpenTelemetry is not installed, "
    f"so no traces or metrics are exported; install the extra: {EXTRA_HINT}"
)


@dataclass(frozen=True)
class ExportSettings:
    traces: bool
    metrics: bool
    #: The variable that turned exporting on (for messages).
    variable: str | None

    @property
    def enabled(self) -> bool:
        return self.traces or self.metrics


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    return next((name for name in names if environ.get(name, "").strip()), None)


def export_settings(environ: Mapping[str, str]) -> ExportSettings:
    """Which signals go to an OTLP endpoint, per the standard ``OTEL_*`` variables."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ExportSettings(False, False, None)
    traces = _first(environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    metrics = _first(environ, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        traces = None
    if environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        metrics = None
    return ExportSettings(traces is not None, metrics is not None, traces or metrics)
