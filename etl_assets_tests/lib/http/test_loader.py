"""The batched HTTP loader against a local ingestion server that dedups by idempotency key."""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
import pyarrow as pa
import pytest

from etl_assets.lib.exports import ExportError, batch_key, post_rows
from etl_assets.lib.exports.http import batch_payload
from etl_assets.lib.sources.http import ClientSettings, HttpClient, RetrySettings
from etl_assets_tests.servers.http import FaultServer, Reply
from etl_assets_tests.servers.ingest import Ingest


def client() -> HttpClient:
    retry = RetrySettings(max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.002)
    return HttpClient(ClientSettings(timeout_s=2, retry=retry), rng=random.Random(0))


FRAME = pd.DataFrame(
    {
        "id": pd.array(range(40), dtype="Int64"),
        "name": pd.array([f"r{i}" if i % 7 else None for i in range(40)], dtype="str"),
        "at": pd.date_range("2024-01-01", periods=40, freq="h", tz="UTC"),
    }
)


def test_batches_sent_once_even_when_a_reply_is_lost(http_server: FaultServer) -> None:
    ingest = Ingest(drop_after_apply={1, 3})
    http_server.route("POST", "/import", ingest)
    report = post_rows(
        FRAME, http_server.url("/import"), client(), batch_size=10, namespace="p/clean/t"
    )
    assert report.ok and report.rows_delivered == 40
    assert ingest.rows() == list(range(40))  # every row exactly once
    assert len(http_server.hits("/import")) == 6  # 4 batches + 2 retries of lost replies
    retried = [r.headers["idempotency-key"] for r in http_server.hits("/import")]
    assert len(set(retried)) == 4  # the retries carried the same key
    first = ingest.applied[report.batches[0].key][1]
    assert first == {"id": 1, "name": "r1", "at": "2024-01-01T01:00:00.000000Z"}
    assert ingest.applied[report.batches[0].key][0]["name"] is None


def test_rerunning_the_export_sends_the_same_keys(http_server: FaultServer) -> None:
    ingest = Ingest(duplicate_status=409)
    http_server.route("POST", "/import", ingest)
    first = post_rows(FRAME, http_server.url("/import"), client(), batch_size=10, namespace="ns")
    again = post_rows(FRAME, http_server.url("/import"), client(), batch_size=10, namespace="ns")
    assert [b.key for b in first.batches] == [b.key for b in again.batches]
    assert {b.outcome for b in again.batches} == {"duplicate"} and again.ok
    assert ingest.rows() == list(range(40))


def test_partial_failure_is_reported_per_batch(http_server: FaultServer) -> None:
    http_server.route("POST", "/import", Ingest(reject={2}))
    report = post_rows(FRAME, http_server.url("/import"), client(), batch_size=10)
    assert [b.outcome for b in report.batches] == ["sent", "sent", "failed", "sent"]
    assert report.rows_delivered == 30 and report.rows_failed == 10
    failed = report.failed[0]
    assert (
        failed.http_status == 422
        and not failed.transient
        and "row 20: bad value" in (failed.error or "")
    )
    with pytest.raises(
        ExportError, match=r"1 of 4 batch\(es\) .* failed \(10 rows\): batch 2 \(rows 20-29\)"
    ) as raised:
        report.raise_for_failures()
    assert raised.value.transient is False
    assert report.as_metadata()["batches_failed"] == 1


def test_service_down_fails_batches_as_transient(http_server: FaultServer) -> None:
    http_server.script("POST", "/import", Reply(503))
    report = post_rows(FRAME.head(15), http_server.url("/import"), client(), batch_size=10)
    assert [b.outcome for b in report.batches] == ["failed", "failed"]
    assert all(b.transient for b in report.failed)
    assert len(http_server.hits("/import")) == 5  # the breaker (5 failures) spared the last attempt


def test_keys_are_stable_and_distinct() -> None:
    assert batch_key("a", 0, b"x") == batch_key("a", 0, b"x")
    assert (
        len(
            {
                batch_key("a", 0, b"x"),
                batch_key("a", 1, b"x"),
                batch_key("b", 0, b"x"),
                batch_key("a", 0, b"y"),
            }
        )
        == 4
    )


def test_token_stripped_when_the_endpoint_redirects_to_another_origin(
    http_server: FaultServer,
) -> None:
    elsewhere = FaultServer()  # same host, another port: another origin
    elsewhere.start()
    try:
        http_server.script("POST", "/import", Reply(307, None, {"Location": elsewhere.url("/in")}))
        elsewhere.script("POST", "/in", Reply(201, {"ok": True}))
        report = post_rows(
            FRAME.head(3),
            http_server.url("/import"),
            client(),
            headers={"X-Trace": "t1"},
            auth={"X-Api-Key": "tok-123"},
        )
        assert report.ok
        assert http_server.hits("/import")[0].headers["x-api-key"] == "tok-123"
        landed = elsewhere.hits("/in")
        assert len(landed) == 1 and len(landed[0].json()) == 3  # the batch arrived
        assert "x-api-key" not in landed[0].headers and landed[0].headers["x-trace"] == "t1"
    finally:
        elsewhere.stop()


def test_payload_dates_and_instants_keep_their_form() -> None:
    frame = pd.DataFrame(
        {
            "day": pd.array([dt.date(2024, 3, 1), None], dtype=pd.ArrowDtype(pa.date32())),
            "day_obj": [dt.date(2024, 3, 2), None],
            "plus2": pd.to_datetime(["2024-01-01T10:00:00+02:00", None]).as_unit("us"),
            "berlin": pd.to_datetime(["2024-07-01 10:00:00.25", None])
            .tz_localize("Europe/Berlin")
            .as_unit("us"),
            "utc": pd.to_datetime(["2024-01-01 08:00", None]).tz_localize("UTC"),
            "naive": pd.to_datetime(["2024-01-01 10:00", None]),
        }
    )
    rows = json.loads(batch_payload(frame, "items"))["items"]
    assert rows[0] == {
        "day": "2024-03-01",
        "day_obj": "2024-03-02",
        "plus2": "2024-01-01T10:00:00.000000+02:00",  # the offset kept, not 08:00Z
        "berlin": "2024-07-01T10:00:00.250000+02:00",  # summer time
        "utc": "2024-01-01T08:00:00.000000Z",
        "naive": "2024-01-01T10:00:00.000000",
    }
    assert set(rows[1].values()) == {None}
    assert frame["plus2"].dtype == "datetime64[us, UTC+02:00]"  # the caller's frame untouched
