"""When telemetry exports, from the standard ``OTEL_*`` variables; what a span may show of a URL."""

from __future__ import annotations

import pytest

from etl_assets.lib.telemetry.settings import export_settings
from etl_assets.lib.telemetry.uri import safe_uri


@pytest.mark.parametrize(
    ("environ", "traces", "metrics"),
    [
        ({}, False, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True, False),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"}, False, True),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"},
            False,
            False,
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"},
            True,
            False,
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
            False,
            True,
        ),
    ],
)
def test_export_settings_follow_the_standard_variables(
    environ: dict[str, str], traces: bool, metrics: bool
) -> None:
    settings = export_settings(environ)
    assert (settings.traces, settings.metrics) == (traces, metrics)
    assert settings.enabled == (traces or metrics)


def test_the_variable_that_turned_it_on_is_named() -> None:
    settings = export_settings({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert settings.variable == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("/data/warehouse/shop/clean/orders", "/data/warehouse/shop/clean/orders"),
        ("s3://Bucket/prefix/x.parquet", "s3://Bucket/prefix/x.parquet"),
        (
            "https://user:s3cret@api.example.com:8443/v1/items?token=abc#frag",
            "https://api.example.com:8443/v1/items",
        ),
        (
            "postgresql://etl:pw@db:5432/shop/shop.clean_orders",
            "postgresql://db:5432/shop/shop.clean_orders",
        ),
    ],
)
def test_safe_uri_drops_credentials_and_query(location: str, shown: str) -> None:
    assert safe_uri(location) == shown
