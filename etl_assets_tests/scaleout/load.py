"""What a fleet run costs the shared services: event-log rows, Postgres connections, broker
commands and S3 requests, measured on the real servers of the topology test and the benchmark."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections import Counter
from pathlib import Path

from etl_assets_tests.scaleout.redis_server import RedisServer
from etl_assets_tests.servers.postgres import PostgresServer


def redis_command_count(redis: RedisServer) -> int:
    """Total commands the broker has processed (``INFO stats``: total_commands_processed)."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
        sock.sendall(f"AUTH {redis.password}\r\nINFO stats\r\n".encode())
        data = b""
        while b"total_commands_processed" not in data or not data.endswith(b"\r\n"):
            data += sock.recv(65536)
    line = next(x for x in data.decode().splitlines() if x.startswith("total_commands_processed:"))
    return int(line.split(":")[1])


class LoadMeter:
    """Starts moto's request recorder and reads counters before and after a backfill."""

    def __init__(
        self,
        postgres: PostgresServer,
        database: str,
        redis: RedisServer,
        s3_endpoint: str,
        recording: Path,
    ) -> None:
        # the recorder of the in-process moto server writes here (default: the current folder)
        from moto.moto_api import recorder

        recorder._location = str(recording)  # moto has no setter for it
        self.postgres, self.database, self.redis, self.s3_endpoint = (
            postgres,
            database,
            redis,
            s3_endpoint,
        )
        self.started = time.monotonic()
        self.redis_before = redis_command_count(redis)
        self.rows_before = self._event_rows()
        self.connections_peak = 0
        self._moto("reset-recording", "POST")
        self._moto("start-recording", "POST")

    def _moto(self, action: str, method: str) -> bytes:
        request = urllib.request.Request(
            f"{self.s3_endpoint}/moto-api/recorder/{action}", method=method
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    def _event_rows(self) -> int:
        try:
            return int(self.postgres.sql("SELECT count(*) FROM event_logs", dbname=self.database))
        except Exception:  # the instance's tables do not exist before its first use
            return 0

    def sample(self) -> None:
        count = self.postgres.sql(
            f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.database}'"
        )
        self.connections_peak = max(self.connections_peak, int(count))

    def totals(self) -> dict[str, float]:
        self._moto("stop-recording", "POST")
        recording = self._moto("download-recording", "GET").decode()
        methods = Counter(entry["method"] for entry in recorded_requests(recording))
        return {
            "seconds": round(time.monotonic() - self.started, 1),
            "event_log_rows": self._event_rows() - self.rows_before,
            "pg_connections_peak": self.connections_peak,
            "redis_commands": redis_command_count(self.redis) - self.redis_before,
            "s3_requests": sum(methods.values()),
            **{f"s3_{method.lower()}": count for method, count in sorted(methods.items())},
        }


def recorded_requests(recording: str) -> list[dict]:
    """The requests of moto's recording: one JSON object per line, except that requests served
    at the same moment by two threads can land on one line, one object right after the other."""
    decoder = json.JSONDecoder()
    entries: list[dict] = []
    for line in recording.splitlines():
        position, line = 0, line.strip()
        while position < len(line):
            entry, position = decoder.raw_decode(line, position)
            entries.append(entry)
            while position < len(line) and line[position].isspace():
                position += 1
    return entries
