"""With nothing configured, telemetry costs nothing: no OpenTelemetry module is even imported.

And with an endpoint configured but the ``otel`` extra missing, the run still succeeds and its
log says what to install. Both run a real materialization in a fresh interpreter, since
``sys.modules`` of the test process has OpenTelemetry loaded by other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from etl_assets_tests.conftest import write_customers, write_orders
from etl_assets_tests.lib.telemetry.test_spans_in_memory import DAY1

MATERIALIZE = """
import json, logging, sys

if sys.argv[2] == "block":  # as if the otel extra were not installed
    class NoOpenTelemetry:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "opentelemetry":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoOpenTelemetry())

from dagster import DagsterInstance
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import SHOP_SPEC

root = sys.argv[1]
defs = build_definitions([parse_spec(SHOP_SPEC)], root, root + "/warehouse")
with DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("shop_job").execute_in_process(
        instance=instance, partition_key="2024-01-01"
    )
    warnings = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.level == logging.WARNING and "etl_assets[otel]" in entry.user_message
    ]
print(json.dumps({
    "success": result.success,
    "steps": len(result.get_step_success_events()),
    "opentelemetry": sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"),
    "warnings": warnings,
}))
"""


def materialize(tmp_path: Path, mode: str, env: dict[str, str]) -> dict:
    write_orders(tmp_path, "2024-01-01", DAY1)
    write_customers(tmp_path)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", MATERIALIZE, str(tmp_path), mode],
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_configured_imports_no_opentelemetry(tmp_path: Path) -> None:
    outcome = materialize(tmp_path, "plain", {})
    assert outcome["success"] and outcome["steps"] == 6
    assert outcome["opentelemetry"] == []
    assert outcome["warnings"] == []


def test_sdk_disabled_imports_no_opentelemetry_even_with_an_endpoint(tmp_path: Path) -> None:
    outcome = materialize(
        tmp_path,
        "plain",
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"},
    )
    assert outcome["success"] and outcome["opentelemetry"] == []


def test_endpoint_without_the_extra_warns_with_the_install_command(tmp_path: Path) -> None:
    outcome = materialize(tmp_path, "block", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert outcome["success"] and outcome["steps"] == 6  # telemetry never fails a run
    assert outcome["opentelemetry"] == []
    assert len(outcome["warnings"]) == 6  # one per step, in the run's log
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in outcome["warnings"][0]
    assert "pip install 'etl_assets[otel]'" in outcome["warnings"][0]
