"""A one-machine Dagster deployment for tests: gRPC code server, daemon and (optionally) webserver.

The same processes and commands the README's "Running it in production on one machine" names,
started on a temporary instance (DAGSTER_HOME with its own dagster.yaml) and stopped by PID
(process group). The test process talks to the same instance and to the code server, so it can
switch sensors and schedules on exactly as the UI does (``instance.start_sensor``) and read the
runs and ticks the daemon created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dagster import DagsterInstance, RunsFilter
from dagster._core.remote_representation.external import RemoteSchedule, RemoteSensor
from dagster._core.scheduler.instigation import InstigatorTick, TickStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget

BIN = Path(sys.executable).parent
LOCATION = "etl_assets"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 240.0, every: float = 0.5
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def stop_process(process: subprocess.Popen, grace: float = 30.0) -> None:
    """SIGTERM to the process group (started with its own session), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@dataclass
class Deployment:
    """Code server + daemon (+ webserver) on a temporary DAGSTER_HOME; see the module docstring."""

    home: Path
    env: dict[str, str]
    logs: Path
    code_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    webserver_port: int | None = None
    _instance: DagsterInstance | None = None
    _workspace: WorkspaceProcessContext | None = None

    @classmethod
    def prepare(cls, home: Path, instance_yaml: Path, env: Mapping[str, str]) -> Deployment:
        """A DAGSTER_HOME holding ``instance_yaml`` and a workspace.yaml naming the code server."""
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(instance_yaml, home / "dagster.yaml")
        logs = (
            home.parent / f"{home.name}_process_logs"
        )  # outside DAGSTER_HOME, which Dagster manages
        logs.mkdir(exist_ok=True)
        deployment = cls(home=home, env={**os.environ, **env, "DAGSTER_HOME": str(home)}, logs=logs)
        (home / "workspace.yaml").write_text(
            "load_from:\n  - grpc_server:\n"
            f"      host: 127.0.0.1\n      port: {deployment.code_port}\n      location_name: {LOCATION}\n"
        )
        return deployment

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            env=self.env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def start_code_server(self, module: str = "etl_assets.definitions") -> None:
        self._start(
            "code_server",
            [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(self.code_port),
             "-m", module, "--location-name", LOCATION],
        )  # fmt: skip

    def wait_for_code_server(self, timeout: float = 180.0) -> None:
        from dagster._grpc.client import DagsterGrpcClient

        client = DagsterGrpcClient(port=self.code_port, host="127.0.0.1")

        def ready() -> bool:
            if self.processes["code_server"].poll() is not None:
                raise RuntimeError("code server exited:\n" + self.log_tail("code_server"))
            try:
                client.ping("ready")
            except Exception:
                return False
            return True

        wait_for("the code server to answer", ready, timeout)

    def start_daemon(self) -> None:
        self._start(
            "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.home / "workspace.yaml")]
        )

    def start_webserver(self, timeout: float = 180.0) -> int:
        port = free_port()
        process = self._start(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                "-w",
                str(self.home / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
        )

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError("dagster-webserver exited:\n" + self.log_tail("webserver"))
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).close()
            except (urllib.error.URLError, ConnectionError):
                return False
            return True

        wait_for("dagster-webserver to answer", up, timeout)
        self.webserver_port = port
        return port

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.webserver_port is not None, "start_webserver() first"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.webserver_port}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body
        return body["data"]

    @property
    def instance(self) -> DagsterInstance:
        if self._instance is None:
            self._instance = DagsterInstance.from_config(str(self.home))
        return self._instance

    @property
    def workspace(self) -> WorkspaceProcessContext:
        if self._workspace is None:
            target = GrpcServerTarget(
                host="127.0.0.1", port=self.code_port, socket=None, location_name=LOCATION
            )
            self._workspace = WorkspaceProcessContext(self.instance, target)
        return self._workspace

    def _repository(self):
        location = self.workspace.create_request_context().get_code_location(LOCATION)
        (repository,) = location.get_repositories().values()
        return repository

    def sensor(self, name: str) -> RemoteSensor:
        return self._repository().get_sensor(name)

    def schedule(self, name: str) -> RemoteSchedule:
        return self._repository().get_schedule(name)

    def ticks(self, instigator: RemoteSensor | RemoteSchedule) -> list[InstigatorTick]:
        return list(
            self.instance.get_ticks(
                instigator.get_remote_origin_id(), instigator.selector_id, limit=200
            )
        )

    def wait_for_tick_after(
        self, instigator: RemoteSensor | RemoteSchedule, after: float, timeout: float = 240.0
    ) -> InstigatorTick:
        """The first tick that started after ``after`` (epoch seconds) and finished."""

        def finished() -> InstigatorTick | None:
            for tick in self.ticks(instigator):
                if tick.timestamp > after and tick.status != TickStatus.STARTED:
                    if tick.status == TickStatus.FAILURE:
                        raise AssertionError(f"tick of {instigator.name} failed: {tick.error}")
                    return tick
            self.check_alive()
            return None

        return wait_for(f"a tick of {instigator.name}", finished, timeout)

    def runs(self, tags: Mapping[str, str]) -> list[DagsterRun]:
        return list(self.instance.get_runs(RunsFilter(tags=dict(tags))))

    def wait_for_runs_done(
        self, tags: Mapping[str, str], count: int, timeout: float = 300.0
    ) -> list[DagsterRun]:
        """At least ``count`` runs with ``tags``, every one finished (retries included)."""

        def done() -> list[DagsterRun] | None:
            runs = self.runs(tags)
            self.check_alive()
            if len(runs) < count or any(not r.is_finished for r in runs):
                return None
            return runs

        return wait_for(f"{count} finished run(s) tagged {dict(tags)}", done, timeout, every=1.0)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n" + self.log_tail(name))

    def stop(self) -> None:
        """Stop every process by PID, daemon first (so nothing new launches), code server last."""
        if self._workspace is not None:
            self._workspace.__exit__(None, None, None)
        for name in ("daemon", "webserver", "code_server"):
            if name in self.processes:
                stop_process(self.processes[name])
        if self._instance is not None:
            self._instance.dispose()
