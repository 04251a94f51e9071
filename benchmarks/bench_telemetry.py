"""What telemetry costs: the shop pipeline's run with telemetry off against the code before the
hooks existed, and with export on (OTLP/HTTP to a local receiver), plus the per-call cost of an
off hook.

Each sample is a fresh interpreter that builds the definitions, materializes one partition of
the shop pipeline (6 steps, in process) twice and reports the seconds (wall and CPU) of each:
the first run includes the step libraries' imports, the second is warm. Modes are interleaved
and the median of each is reported, with the ratio against ``before`` (a busy machine makes
single runs noisy; the ratio of medians is the figure).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_telemetry.py [--repeat 7] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import timeit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

SAMPLE = r"""
import json, sys, time
from dagster import DagsterInstance
from etl_assets.factory import build_definitions
from etl_assets.lib.spec import parse_spec
from etl_assets_tests.conftest import SHOP_SPEC, write_customers, write_orders
from pathlib import Path

DAY1 = [
    ("1", "1", "10.0", "2024-01-01T09:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),
    ("2", "2", "5.5", "2024-01-01T10:00:00Z"),
    ("x3", "1", "1.0", "2024-01-01T11:00:00Z"),
    ("4", "", "1.0", "2024-01-01T12:00:00Z"),
]

root = Path(sys.argv[1])
write_orders(root, "2024-01-01", DAY1)
write_customers(root)
defs = build_definitions([parse_spec(SHOP_SPEC)], root, root / "warehouse")
times = []
with DagsterInstance.ephemeral() as instance:
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        result = defs.resolve_job_def("shop_job").execute_in_process(
            instance=instance, partition_key="2024-01-01", raise_on_error=True
        )
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
print(json.dumps({"cold": times[0], "warm": times[1]}))
"""


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def _before_tree(revision: str, into: Path) -> Path:
    """The project's files at ``revision`` (git archive), without touching any worktree."""
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", revision], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _sample(code_root: Path, env: dict[str, str]) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as data:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        clean["PYTHONPATH"] = str(code_root)
        result = subprocess.run(
            [sys.executable, "-c", SAMPLE, data],
            env={**clean, **env},
            cwd=code_root,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        raise RuntimeError(f"sample failed in {code_root}: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _hook_cost_ns() -> dict[str, float]:
    """Per-call cost of the hooks with telemetry off (this process has no OTEL_* set)."""
    from etl_assets.lib import telemetry

    telemetry.reset()
    number = 200_000

    def write() -> None:
        with telemetry.output_write(None, "parquet"):
            pass

    def rows() -> None:
        telemetry.record_rows(rows_in=1, rows_out=1)

    costs = {
        name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9
        for name, fn in (("output_write", write), ("record_rows", rows))
    }
    assert "opentelemetry" not in sys.modules
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", default="f1cc344", help="revision without the hooks")
    args = parser.parse_args()
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    hooks = _hook_cost_ns()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    samples: dict[str, list[dict[str, list[float]]]] = {"before": [], "off": [], "on": []}
    with tempfile.TemporaryDirectory() as scratch:
        before = _before_tree(args.before, Path(scratch) / "before")
        for _ in range(args.repeat):
            samples["before"].append(_sample(before, {}))
            samples["off"].append(_sample(PROJECT, {}))
            samples["on"].append(_sample(PROJECT, {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}))
    server.shutdown()
    report: dict[str, object] = {"hook_ns_when_off": {k: round(v, 1) for k, v in hooks.items()}}
    for phase in ("cold", "warm"):
        for index, clock in enumerate(("wall", "cpu")):
            medians = {
                mode: statistics.median(s[phase][index] for s in runs)
                for mode, runs in samples.items()
            }
            report[f"{phase}_{clock}_s"] = {k: round(v, 3) for k, v in medians.items()}
            report[f"{phase}_{clock}_ratio_to_before"] = {
                k: round(v / medians["before"], 3) for k, v in medians.items() if k != "before"
            }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
