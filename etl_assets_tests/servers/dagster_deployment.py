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
import re
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


PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The shipped workspace (gRPC code server on 127.0.0.1:4000); tests render it with a free port.
WORKSPACE_TEMPLATE = PROJECT_ROOT / "instances" / "workspace.yaml"
README_SECTION = "## Running it in production on one machine"


# The commands of the README's "Running it in production on one machine", built in one place so a
# test can check that the README shows exactly what the tests run.
def code_server_command(port: int, module: str = "etl_assets.definitions") -> list[str]:
    return ["dagster", "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-m", module,
            "--location-name", LOCATION]  # fmt: skip


def daemon_command(workspace: str) -> list[str]:
    return ["dagster-daemon", "run", "-w", workspace]


def webserver_command(workspace: str, port: int) -> list[str]:
    return ["dagster-webserver", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]


def instigator_start_command(kind: str, name: str, workspace: str) -> list[str]:
    """``dagster sensor start NAME`` / ``dagster schedule start NAME`` (as the UI's toggle)."""
    return ["dagster", kind, "start", name, "-w", workspace]


def readme_production_commands() -> list[str]:
    """The command lines of the README's "Running it in production on one machine"."""
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index(README_SECTION)
    end = text.index("\n## ", start + len(README_SECTION))
    blocks = re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def _executable(argv: list[str]) -> list[str]:
    return [str(BIN / argv[0]), *argv[1:]]


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
        if not (home / "dagster.yaml").exists():
            shutil.copy(instance_yaml, home / "dagster.yaml")
        logs = (
            home.parent / f"{home.name}_process_logs"
        )  # outside DAGSTER_HOME, which Dagster manages
        logs.mkdir(exist_ok=True)
        deployment = cls(home=home, env={**os.environ, **env, "DAGSTER_HOME": str(home)}, logs=logs)
        shipped = WORKSPACE_TEMPLATE.read_text()
        assert "port: 4000" in shipped and f"location_name: {LOCATION}" in shipped
        (home / "workspace.yaml").write_text(
            shipped.replace("port: 4000", f"port: {deployment.code_port}")
        )
        # Create the instance's storage here, once: the code server and the daemon starting
        # together on an empty SQLite home would both run its migrations ("more than one head").
        deployment.instance.get_runs(limit=1)
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

    @property
    def workspace_file(self) -> str:
        return str(self.home / "workspace.yaml")

    def start_code_server(self, module: str = "etl_assets.definitions") -> None:
        self._start("code_server", _executable(code_server_command(self.code_port, module)))

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
        self._start("daemon", _executable(daemon_command(self.workspace_file)))

    def switch_on(self, kind: str, name: str) -> None:
        """Start a sensor or schedule with the CLI, as an operator would (the UI's toggle does the same)."""
        done = subprocess.run(
            _executable(instigator_start_command(kind, name, self.workspace_file)),
            env=self.env, cwd=self.home, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    def start_webserver(self, timeout: float = 180.0) -> int:
        port = free_port()
        process = self._start(
            "webserver", _executable(webserver_command(self.workspace_file, port))
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

    def assert_location_loaded(self) -> None:
        """Fail with the code location's own load error, not later as an empty UI.

        A code server answers pings even when importing the definitions failed; the webserver
        then shows "no assets" and a browser test would only time out looking for them.
        """
        data = self.graphql(
            "{ workspaceOrError { ... on Workspace { locationEntries { name"
            " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )
        entries = {e["name"]: e["locationOrLoadError"] for e in data["workspaceOrError"]["locationEntries"]}
        assert LOCATION in entries, entries
        loaded = entries[LOCATION]
        assert loaded and loaded["__typename"] == "RepositoryLocation", (
            f"code location {LOCATION} failed to load: {loaded}\n" + self.log_tail("code_server")
        )

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
