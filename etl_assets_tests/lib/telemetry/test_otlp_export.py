"""Export over OTLP/HTTP to a real receiver, with a process per step.

The receiver is a local HTTP server (127.0.0.1, a free port) that records what the SDK's OTLP
exporter POSTs to ``/v1/traces`` and ``/v1/metrics``; the requests are decoded with
opentelemetry-proto. The run is launched as a deployment would (``dagster job execute`` in a
fresh process, persistent instance) with the multiprocess executor: each step's process must set
up its own exporter and flush it when the step ends, or its spans are lost when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders
from etl_assets_tests.lib.telemetry.test_spans_in_memory import DAY1
from etl_assets_tests.servers.http import FaultServer, Reply

BIN = Path(sys.executable).parent
DEFS_MODULE = """
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import load_specs

defs = build_definitions(load_specs([{pipelines!r}]), {data!r})
"""
# forkserver: step processes end with os._exit (no atexit handlers, unlike spawn's sys.exit), so
# only the flush at each step's end gets their spans out, as for long-lived workers (Celery)
MULTIPROCESS = {
    "execution": {
        "config": {"multiprocess": {"max_concurrent": 2, "start_method": {"forkserver": {}}}}
    }
}


def _value(any_value) -> object:  # an OTLP AnyValue
    return getattr(any_value, any_value.WhichOneof("value"))


def _attributes(pairs) -> dict[str, object]:
    return {kv.key: _value(kv.value) for kv in pairs}


def run_shop_partition(
    tmp_path: Path, env: dict[str, str], run_config: dict
) -> tuple[str, list[int]]:
    """One partition of the shop job in a fresh process; (run id, pids of its step starts)."""
    pipelines, data, home = tmp_path / "pipelines", tmp_path / "data", tmp_path / "home"
    for folder in (pipelines, home):
        folder.mkdir()
    (pipelines / "shop.yaml").write_text(SHOP_SPEC)
    write_orders(data, "2024-01-01", DAY1)
    write_customers(data)
    module = tmp_path / "shop_defs.py"
    module.write_text(DEFS_MODULE.format(pipelines=str(pipelines), data=str(data)))
    (tmp_path / "run.yaml").write_text(json.dumps(run_config))
    command = [
        str(BIN / "dagster"), "job", "execute", "-f", str(module), "-j", "shop_job",
        "--tags", json.dumps({"dagster/partition": "2024-01-01"}), "-c", str(tmp_path / "run.yaml"),
    ]  # fmt: skip
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        command,
        env={**clean_env, "DAGSTER_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        pids = [
            entry.dagster_event.pid
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is not None
            and entry.dagster_event.event_type == DagsterEventType.STEP_START
        ]
    return run.run_id, pids


@pytest.mark.integration
def test_each_step_process_exports_its_spans_and_counters(
    tmp_path: Path, http_server: FaultServer
) -> None:
    for path in ("/v1/traces", "/v1/metrics"):
        http_server.script("POST", path, Reply(200, b""))
    run_id, step_pids = run_shop_partition(
        tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": http_server.base_url}, MULTIPROCESS
    )
    assert len(set(step_pids)) == len(step_pids) == 6  # a process per step

    spans, services = [], set()
    for request in http_server.hits("/v1/traces"):
        assert request.headers["content-type"] == "application/x-protobuf"
        decoded = ExportTraceServiceRequest.FromString(request.body)
        for resource_spans in decoded.resource_spans:
            services.add(_attributes(resource_spans.resource.attributes)["service.name"])
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "etl_assets"
                spans += list(scope_spans.spans)
    assert services == {"etl_assets"}
    assert len({span.span_id for span in spans}) == len(spans)  # each exported once
    by_name = {span.name: span for span in spans}  # names are unique but "load shop/clean/orders"
    steps = {name for name in by_name if name.startswith("materialize ")}
    assert len(steps) == 6, sorted(by_name)
    for name in steps:
        attributes = _attributes(by_name[name].attributes)
        assert attributes["dagster.run_id"] == run_id
        assert (
            attributes["etl_assets.partition.key"] == "2024-01-01"
            or "agg/all_time" in name
            or "customers" in name
        )

    clean = by_name["materialize shop/clean/orders"]
    assert _attributes(clean.attributes)["etl_assets.rows_rejected"] == 2
    for child in ("load shop/raw/orders", "write shop/clean/orders", "write shop/rejected/orders"):
        assert by_name[child].parent_span_id == clean.span_id, child
        assert by_name[child].trace_id == clean.trace_id
    assert _attributes(by_name["write shop/rejected/orders"].attributes)["etl_assets.rows"] == 2
    raw = by_name["materialize shop/raw/orders"]
    assert by_name["read source orders"].parent_span_id == raw.span_id
    assert _attributes(by_name["read source orders"].attributes)["etl_assets.rows"] == len(DAY1)

    # counters: cumulative sums, so the largest value reported is the step's count
    totals: dict[tuple[str, str], int] = {}
    for request in http_server.hits("/v1/metrics"):
        for resource_metrics in ExportMetricsServiceRequest.FromString(
            request.body
        ).resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.sum.data_points:
                        asset = str(_attributes(point.attributes)["etl_assets.asset_key"])
                        key = (metric.name, asset)
                        totals[key] = max(totals.get(key, 0), point.as_int)
    assert totals[("etl_assets.rows.in", "shop/clean/orders")] == 5
    assert totals[("etl_assets.rows.out", "shop/clean/orders")] == 2
    assert totals[("etl_assets.rows.rejected", "shop/clean/orders")] == 2
    assert totals[("etl_assets.rows.deduplicated", "shop/clean/orders")] == 1
