"""``dagster-celery worker`` processes standing for separate machines.

Each worker has its own working folder, its own ``TMPDIR`` and its own ``DAGSTER_HOME`` (a copy
of the fleet's instance file), so nothing local is shared with the other worker or the run.
Tasks run in the worker's main process (``--pool solo``): one step at a time per worker, and
its PID is the one recorded in the step's ``etl_assets/worker`` metadata and the one a test
kills to stand for a lost machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def worker_command(config_yaml: str, name: str | None, queues: list[str]) -> list[str]:
    """The documented worker command (docs/deploy.md), with a name and queues."""
    named = ["-n", name] if name else []
    # one -q with a comma-separated list: dagster-celery passes each -q on as celery's -Q, and
    # celery keeps only the last -Q it is given
    return ["dagster-celery", "worker", "start", "-A", "dagster_celery.app", "-y", config_yaml,
            "-i", "etl_assets.worker_preflight", *named,
            "-q", ",".join(queues), "--", "--pool", "solo"]  # fmt: skip


@dataclass
class CeleryWorker:
    name: str
    folder: Path
    process: subprocess.Popen

    @classmethod
    def start(
        cls,
        name: str,
        folder: Path,
        instance_yaml: Path,
        config: dict,
        env: dict[str, str],
        queues: list[str],
    ) -> CeleryWorker:
        home, tmp = folder / "dagster_home", folder / "tmp"
        for path in (home, tmp):
            path.mkdir(parents=True, exist_ok=True)
        shutil.copy(instance_yaml, home / "dagster.yaml")
        (folder / "celery.yaml").write_text(yaml.safe_dump(config))
        command = worker_command("celery.yaml", name, queues)
        log = open(folder / "worker.log", "wb")  # noqa: SIM115 - the worker keeps its copy
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            cwd=folder,
            env={**env, "DAGSTER_HOME": str(home), "TMPDIR": str(tmp), "PATH": f"{BIN}:{os.environ['PATH']}"},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        return cls(name=name, folder=folder, process=process)

    def log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def celery_pid(self) -> int | None:
        """The PID of the ``celery worker`` process the CLI started (its child)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            return None
        return pids[0] if pids else None

    def wait_ready(self, timeout: float = 180.0) -> int:
        """Wait for Celery's "ready." line; returns the celery worker's PID."""
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"worker {self.name} not ready after {timeout} s:\n{self.log()[-3000:]}"
                )
            time.sleep(0.5)
        pid = self.celery_pid()
        assert pid is not None, f"worker {self.name}: no celery process under the CLI"
        return pid

    def stop(self) -> None:
        """SIGTERM to the worker's session (CLI and celery), SIGKILL if it lingers."""
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=20)
                return
            except subprocess.TimeoutExpired:
                continue
