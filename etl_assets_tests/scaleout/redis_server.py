"""A throwaway Redis (Debian's ``/usr/bin/redis-server``) on 127.0.0.1 and a free port: the broker.

Tests run as root in CI; the server runs as the unprivileged system user of the PostgreSQL
fixture (``runuser``), without persistence (``--save '' --appendonly no``), with a password so
tests can prove it never reaches logs or metadata. Stopped by PID.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from etl_assets_tests.servers.postgres import OS_USER, _ensure_os_user, free_port

REDIS_SERVER = Path(os.environ.get("ETL_ASSETS_REDIS_SERVER", "/usr/bin/redis-server"))


@dataclass
class RedisServer:
    port: int
    password: str
    folder: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, password: str) -> RedisServer:
        if not REDIS_SERVER.exists():
            raise RuntimeError(
                f"{REDIS_SERVER} missing: install Debian's redis-server (make install)"
            )
        folder = Path(tempfile.mkdtemp(prefix="etl-assets-redis-"))
        prefix: list[str] = []
        if os.geteuid() == 0:
            _ensure_os_user()
            entry = pwd.getpwnam(OS_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            prefix = ["runuser", "-u", OS_USER, "--"]
        port = free_port()
        config = folder / "redis.conf"  # the password in a file, not on a command line (ps)
        config.write_text(
            f"port {port}\nbind 127.0.0.1\nsave ''\nappendonly no\ndir {folder}\nrequirepass {password}\n"
        )
        os.chmod(config, 0o644)
        log = open(folder / "redis.log", "wb")  # noqa: SIM115 - closed below, the server keeps its copy
        process = subprocess.Popen(
            [*prefix, str(REDIS_SERVER), str(config)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder,
        )  # fmt: skip
        log.close()
        server = cls(port=port, password=password, folder=folder, process=process)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("redis-server exited:\n" + (folder / "redis.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                    if b"PONG" in sock.recv(100):
                        return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("redis-server did not answer within 30 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
