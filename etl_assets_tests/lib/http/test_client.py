"""The HTTP client against a real local server that injects faults."""

from __future__ import annotations

import random
import time

import pytest

from etl_assets.lib.sources.http import (
    CircuitBreaker,
    CircuitOpenError,
    ClientSettings,
    HttpClient,
    MalformedResponseError,
    RetryAfterTooLongError,
    RetrySettings,
    TerminalHttpError,
    TokenBucket,
    TransientHttpError,
    parse_retry_after,
)
from etl_assets_tests.servers.http import FaultServer, Reply

OK = Reply(200, {"ok": True})


class Sleeps(list):
    """Records requested delays; really sleeps at most ``cap`` seconds so tests stay fast."""

    def __init__(self, cap: float = 0.01):
        super().__init__()
        self.cap = cap

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(min(seconds, self.cap))


def client(sleeps: Sleeps | None = None, **settings) -> HttpClient:
    retry = RetrySettings(
        max_attempts=settings.pop("max_attempts", 4),
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        max_retry_after_s=settings.pop("max_retry_after_s", 10),
    )
    defaults = {"timeout_s": 0.3, "retry": retry, "breaker_threshold": 50}
    return HttpClient(
        ClientSettings(**{**defaults, **settings}),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(1),
    )


def test_429_waits_for_retry_after(http_server: FaultServer) -> None:
    http_server.script("GET", "/r", Reply(429, {"error": "slow down"}, {"Retry-After": "2"}), OK)
    sleeps = Sleeps()
    data, _ = client(sleeps).get_json(http_server.url("/r"))
    assert data == {"ok": True}
    assert len(http_server.hits("/r")) == 2
    assert sleeps == [2.0]  # the server's delay, not the (much shorter) backoff


def test_500_burst_retried_with_exponential_backoff_and_jitter(http_server: FaultServer) -> None:
    http_server.script("GET", "/b", Reply(500), Reply(502), Reply(503), OK)
    sleeps = Sleeps()
    http = client(sleeps, max_attempts=5)
    data, _ = http.get_json(http_server.url("/b"))
    assert data == {"ok": True} and len(http_server.hits("/b")) == 4
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        full = min(0.05, 0.01 * 2 ** (attempt - 1))
        assert full / 2 <= delay <= full
    assert http.stats.requests == 4 and http.stats.retries == 3


def test_retries_are_bounded(http_server: FaultServer) -> None:
    http_server.script("GET", "/down", Reply(500, {"error": "boom"}))
    with pytest.raises(TransientHttpError, match=r"gave up after 4 attempt\(s\); last: HTTP 500"):
        client().get_json(http_server.url("/down"))
    assert len(http_server.hits("/down")) == 4


def test_slow_reply_times_out_and_is_retried(
    http_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.script("GET", "/slow", Reply(200, {"late": True}, delay_s=1.0), OK)
    data, _ = client().get_json(http_server.url("/slow"))
    assert data == {"ok": True}
    assert len(http_server.hits("/slow")) == 2
    assert "no reply within 0.3s" in caplog.text


def test_malformed_json_is_terminal_and_located(http_server: FaultServer) -> None:
    http_server.script("GET", "/bad", Reply(200, b'{"items": [1, 2'))
    with pytest.raises(
        MalformedResponseError,
        match=r"not valid JSON at line 1 column 16 .*starts with '\{\"items\": \[1, 2'",
    ):
        client().get_json(http_server.url("/bad"))
    assert len(http_server.hits("/bad")) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_terminal_and_not_retried(http_server: FaultServer, status: int) -> None:
    http_server.script("GET", "/no", Reply(status, {"error": "nope"}))
    with pytest.raises(TerminalHttpError, match=f"HTTP {status}") as raised:
        client().get_json(http_server.url("/no"), headers={"Authorization": "Bearer s3cr3t-token"})
    assert len(http_server.hits("/no")) == 1
    assert "s3cr3t" not in str(raised.value)
    assert raised.value.status == status


def test_circuit_breaker_stops_hammering_a_dead_service(http_server: FaultServer) -> None:
    http_server.script("GET", "/dead", Reply(503))
    http = client(max_attempts=10, breaker_threshold=3, breaker_reset_s=0.3)
    with pytest.raises(CircuitOpenError, match="3 consecutive failures"):
        http.get_json(http_server.url("/dead"))
    assert len(http_server.hits("/dead")) == 3  # not 10
    with pytest.raises(CircuitOpenError):  # a later call does not touch the network
        http.get_json(http_server.url("/dead"))
    assert len(http_server.hits("/dead")) == 3
    time.sleep(0.35)  # half-open: one trial request, which fails and reopens the circuit
    with pytest.raises(CircuitOpenError):
        http.get_json(http_server.url("/dead"))
    assert len(http_server.hits("/dead")) == 4
    http_server.script("GET", "/dead", OK)  # the service comes back
    time.sleep(0.35)
    assert http.get_json(http_server.url("/dead"))[0] == {"ok": True}
    assert http.breaker(http_server.url("/dead")).state == "closed"


def test_connection_refused_is_transient(http_server: FaultServer) -> None:
    url = http_server.url("/gone")
    http_server.stop()
    with pytest.raises(TransientHttpError, match="connection failed"):
        client(max_attempts=2).get_json(url)
    http_server.start = lambda: None  # type: ignore[method-assign]


def test_connection_failure_reason_carries_no_exception_text(
    http_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    # urllib3's text embeds the path ("...with url: /hooks/<token>"); the reason must not
    url = http_server.url("/hooks/PATH-TOKEN-42")
    http_server.stop()
    with pytest.raises(TransientHttpError) as raised:
        client(max_attempts=2).request("POST", url, data=b"{}")
    message = str(raised.value)
    assert "connection failed (ConnectionError: ConnectionRefusedError: Connection refused)" in message
    assert message.count("PATH-TOKEN-42") == 1  # in the URL the client names, not in the reason
    assert "Max retries" not in message and "with url" not in message
    assert "with url" not in caplog.text and caplog.text.count("PATH-TOKEN-42") == 1
    http_server.start = lambda: None  # type: ignore[method-assign]


def test_retry_after_longer_than_allowed_fails_fast(http_server: FaultServer) -> None:
    http_server.script("GET", "/later", Reply(503, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(RetryAfterTooLongError, match="Retry-After 3600s, longer than the 10s") as caught:
        client(sleeps).get_json(http_server.url("/later"))
    assert sleeps == [] and len(http_server.hits("/later")) == 1
    assert isinstance(caught.value, TerminalHttpError)  # a step retry would be refused too
    assert caught.value.retry_after_s == 3600 and caught.value.status == 503


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(
        10.0
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_token_bucket_schedule() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(10, 2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0.1, 0.1, 0.1])
    now[0] += 1.0  # idle: refills to capacity, not beyond
    assert [bucket.acquire() for _ in range(3)] == pytest.approx([0, 0, 0.1])


def test_rate_limit_applies_to_real_requests(http_server: FaultServer) -> None:
    http_server.script("GET", "/r", OK)
    sleeps = Sleeps(cap=1.0)  # the bucket's own clock is real: really wait
    http = client(sleeps, rate_per_s=20.0, burst=1)
    for _ in range(5):
        http.get_json(http_server.url("/r"))
    assert http.bucket is not None and http.bucket.waited_s > 0
    assert len(sleeps) >= 3 and all(
        0 < s <= 0.0501 for s in sleeps
    )  # about 1/20 s between requests
    assert http.stats.requests == 5


def test_breaker_states_with_a_fake_clock() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 10, clock=lambda: now[0])
    breaker.record_failure()
    breaker.before_request("x")
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.before_request("x")
    now[0] = 10
    breaker.before_request("x")  # the one trial
    with pytest.raises(CircuitOpenError):
        breaker.before_request("x")  # a second caller while the trial is out
    breaker.record_success()
    assert breaker.state == "closed"
