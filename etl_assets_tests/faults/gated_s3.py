"""A moto S3 server whose multipart uploads can be held after their first part.

Killing a client "during an upload" by watching the server races with the client: by the time
a part shows up in ``list_parts`` the other parts (and the completion) may be on the wire
already. Holding every part after the first at the server makes the moment certain: part 1 is
stored, the client waits for the others, the test kills it, and the held requests are then
answered with an error without reaching moto (their client is gone).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import pytest
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from etl_assets_tests.servers.s3 import FAKE_CREDENTIALS, S3Server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PartGate:
    """Holds ``UploadPart`` requests with a part number above 1 until :meth:`open`, then
    answers them 503; requests after that pass through."""

    def __init__(self, timeout_s: float) -> None:
        self._opened = threading.Event()
        self._lock = threading.Lock()
        self._timeout_s = timeout_s
        self.held = 0

    def open(self) -> None:
        self._opened.set()

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            part = query.get("partNumber", ["1"])[0]
            if environ.get("REQUEST_METHOD") == "PUT" and part != "1" and not self._opened.is_set():
                with self._lock:
                    self.held += 1
                self._opened.wait(self._timeout_s)
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"held by the test until its client was killed"]
            return app(environ, start_response)

        return gated


class _GatedMotoServer(ThreadedMotoServer):
    def __init__(self, gate: PartGate) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self._gate = gate

    def _server_entry(self) -> None:  # moto's own, with the gate in front of the app
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address,
            self._port,
            self._gate.wrap(app),
            True,
            request_handler=MotoRequestHandler,
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@contextmanager
def gated_s3_server(gate: PartGate) -> Iterator[S3Server]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        server = _GatedMotoServer(gate)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield S3Server(endpoint_url=f"http://{host}:{port}")
        finally:
            gate.open()
            server.stop()
