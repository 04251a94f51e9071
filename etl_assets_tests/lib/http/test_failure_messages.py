"""HTTP failures say what failed: the circuit breaker names the page that failed and why."""

from __future__ import annotations

import random

import pytest

from etl_assets.lib.sources.http import (
    CircuitOpenError,
    ClientSettings,
    HttpClient,
    RetrySettings,
    iter_pages,
)
from etl_assets.lib.spec.models import HttpPaginationSpec
from etl_assets_tests.servers.http import FaultServer, Recorded, Reply


def test_open_circuit_names_the_page_that_failed_and_why(http_server: FaultServer) -> None:
    def api(request: Recorded) -> Reply:
        if request.query["page"] == "1":
            return Reply(200, {"data": [{"id": 1}, {"id": 2}]})
        return Reply(503, {"error": "overloaded"})

    http_server.route("GET", "/items", api)
    http = HttpClient(
        ClientSettings(
            timeout_s=1,
            retry=RetrySettings(max_attempts=5, backoff_base_s=0.001, backoff_max_s=0.002),
            breaker_threshold=3,
            breaker_reset_s=60,
        ),
        sleep=lambda _s: None,
        rng=random.Random(1),
    )
    pagination = HttpPaginationSpec.model_validate(
        {"type": "page", "size_param": "per_page", "size": 2}
    )
    with pytest.raises(CircuitOpenError) as caught:
        list(
            iter_pages(
                http,
                http_server.url("/items"),
                params={},
                headers={},
                pagination=pagination,
                record_path="data",
            )
        )
    message = str(caught.value)
    failed_page = http_server.url("/items") + "?per_page=2&page=2"
    assert f"the last GET {failed_page}: HTTP 503" in message, message
    assert "3 consecutive failures" in message
    assert caught.value.url == f"GET {failed_page}"
    assert len(http_server.hits("/items")) == 4  # page 1, then page 2 three times

    # a later request to another URL of the host is refused without a call, and still says why
    with pytest.raises(CircuitOpenError) as later:
        http.get_json(http_server.url("/other"))
    assert f"the last GET {failed_page}: HTTP 503" in str(later.value)
    assert f"GET {http_server.url('/other')} not sent" in str(later.value)
    assert len(http_server.hits("/other")) == 0
