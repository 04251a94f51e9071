"""A throwaway PostgreSQL 15 server for tests and benchmarks, started on 127.0.0.1.

Tests run as root in CI and PostgreSQL refuses to run as root, so the server runs as an
unprivileged system user (created once with ``useradd --system``) through ``runuser``. The data
directory and the Unix socket live in a fresh temporary folder owned by that user; the server
listens on a free TCP port of 127.0.0.1 only, with ``trust`` authentication for the superuser
``postgres`` and password (md5/scram) authentication for roles that tests create themselves.

Stop it with :meth:`PostgresServer.stop` (``pg_ctl -m fast stop``, then the PID if needed).
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
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("ETL_ASSETS_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "etl_assets_pg"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_os_user() -> None:
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            check=False,  # another xdist worker may have created it meanwhile
            capture_output=True,
        )
        pwd.getpwnam(OS_USER)


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """One running server; ``port``, ``host`` and ``superuser`` are what clients need."""

    port: int = 0
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    folder: Path = field(default_factory=Path)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder / "sock"

    @classmethod
    def start(cls, port: int | None = None) -> PostgresServer:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): run `make install-postgres`"
            )
        folder = Path(tempfile.mkdtemp(prefix="etl-assets-pg-"))
        server = cls(port=port or free_port(), folder=folder)
        if os.geteuid() == 0:
            _ensure_os_user()
            entry = pwd.getpwnam(OS_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        _run_as_user(["mkdir", "-p", str(server.socket_dir)])
        _run_as_user(
            [str(PG_BIN / "initdb"), "-D", str(server.data_dir), "-U", server.superuser,
             "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--no-sync", "--locale=C"]
        )  # fmt: skip
        # Roles other than the superuser must give their password: lets tests prove auth works.
        hba = server.data_dir / "pg_hba.conf"
        _run_as_user(
            ["sh", "-c",
             f"printf 'local all all trust\\nhost all postgres 127.0.0.1/32 trust\\n"
             f"host all all 127.0.0.1/32 scram-sha-256\\n' > {hba}"]
        )  # fmt: skip
        server._pg_ctl(
            "start",
            "-w",
            "-t",
            "30",
            "-l",
            str(server.folder / "server.log"),
            "-o",
            server._options(),
        )
        return server

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )

    def _pg_ctl(self, *args: str) -> None:
        _run_as_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), *args])

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def restart(self, mode: str = "fast") -> None:
        """Stop (terminating every connection) and start again on the same port."""
        self._pg_ctl("stop", "-m", mode, "-w")
        self._pg_ctl(
            "start", "-w", "-t", "30", "-l", str(self.folder / "server.log"), "-o", self._options()
        )

    def stop(self) -> None:
        pid = self.pid()
        try:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "20")
        except subprocess.CalledProcessError:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGQUIT)
                    time.sleep(0.5)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(
        self, dbname: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        auth = user or self.superuser
        if password:
            auth += f":{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run one statement as the superuser through psql; returns its unaligned output."""
        done = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.host,
             "-p", str(self.port), "-U", self.superuser, "-d", dbname, "-c", statement],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()


def _run_as_user(args: list[str]) -> None:
    done = subprocess.run(_as_server_user(args), capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
