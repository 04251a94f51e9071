"""Alert sensors posting to a local webhook server: a real failing run, a real failing check."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    EventRecordsFilter,
    Output,
    SensorResult,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    materialize,
)

import etl_assets.definitions
from etl_assets.defs.alerts import (
    CHECK_FAILURE_SENSOR,
    RUN_FAILURE_SENSOR,
    WEBHOOK_ENV,
    AlertWebhook,
    build_check_failure_sensor,
    build_run_failure_sensor,
)
from etl_assets_tests.servers.http import FaultServer, Reply

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")
HOOK = "/hooks/T0KEN-SECRET"


@asset(key=["shop", "clean", "orders"], partitions_def=DAYS)
def broken(context) -> pd.DataFrame:
    raise ValueError("column 'amount' of row 7: expected a number, got 'abc'\nmore detail")


@asset(
    key=["shop", "agg", "totals"],
    check_specs=[
        AssetCheckSpec("row_conservation", asset=["shop", "agg", "totals"], blocking=True)
    ],
)
def checked():
    yield Output(pd.DataFrame({"v": [1]}))
    yield AssetCheckResult(
        check_name="row_conservation",
        passed=False,
        severity=AssetCheckSeverity.ERROR,
        description="10 rows in but 9 out",
    )


def webhook(server: FaultServer) -> AlertWebhook:
    return AlertWebhook(
        url=server.url(HOOK), ui_base_url="http://ui.example:3000", backoff_base_s=0.001
    )


def test_run_failure_posts_pipeline_asset_partition_error_and_link(
    http_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.script("POST", HOOK, Reply(503), Reply(200, {"ok": True}))  # one hiccup: retried
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [broken], partition_key="2024-01-03", instance=instance, raise_on_error=False
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE)
        context = build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR,
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"alert_webhook": webhook(http_server)},
        ).for_run_failure()
        build_run_failure_sensor()(context)
    posts = http_server.hits(HOOK)
    assert len(posts) == 2
    body = posts[-1].json()
    assert (
        body["pipeline"] == "shop"
        and body["asset"] == "shop/clean/orders"
        and body["partition"] == "2024-01-03"
    )
    assert body["error"] == "ValueError: column 'amount' of row 7: expected a number, got 'abc'"
    assert body["run_url"] == f"http://ui.example:3000/runs/{result.run_id}"
    assert body["text"].startswith(
        "etl_assets run failed: pipeline shop, asset shop/clean/orders, partition 2024-01-03: ValueError"
    )
    assert "T0KEN-SECRET" not in caplog.text  # the retry warning names the host only


def evaluator(instance: DagsterInstance, server: FaultServer):
    sensor_def = build_check_failure_sensor()

    def evaluate(cursor: str | None) -> SensorResult:
        context = build_sensor_context(
            instance=instance, cursor=cursor, resources={"alert_webhook": webhook(server)}
        )
        result = sensor_def(context)
        assert isinstance(result, SensorResult)
        return result

    return evaluate


def test_check_failure_posted_once(http_server: FaultServer) -> None:
    http_server.script("POST", HOOK, Reply(200, {"ok": True}))
    with DagsterInstance.ephemeral() as instance:
        evaluate = evaluator(instance, http_server)
        start = evaluate(None)  # first tick: sets the cursor, posts nothing
        materialize([checked], instance=instance, raise_on_error=False)
        first = evaluate(start.cursor)
        assert len(http_server.hits(HOOK)) == 1
        again = evaluate(first.cursor)
        assert len(http_server.hits(HOOK)) == 1 and again.cursor == first.cursor
        materialize([checked], instance=instance, raise_on_error=False)  # fails again: a new alert
        evaluate(again.cursor)
    bodies = [r.json() for r in http_server.hits(HOOK)]
    assert len(bodies) == 2
    assert bodies[0]["kind"] == "check_failure" and bodies[0]["asset"] == "shop/agg/totals"
    assert bodies[0]["error"] == "check row_conservation (ERROR): 10 rows in but 9 out"


def test_first_tick_does_not_replay_history(http_server: FaultServer) -> None:
    http_server.script("POST", HOOK, Reply(200, {"ok": True}))
    with DagsterInstance.ephemeral() as instance:
        evaluate = evaluator(instance, http_server)
        old = materialize([checked], instance=instance, raise_on_error=False)  # before enabling
        records = instance.event_log_storage.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION),
            limit=1,
            ascending=False,
        )
        first = evaluate(None)
        assert first.cursor == str(records[0].storage_id)  # the latest check evaluation
        assert http_server.hits(HOOK) == []
        assert evaluate(first.cursor).cursor == first.cursor and http_server.hits(HOOK) == []
        new = materialize([checked], instance=instance, raise_on_error=False)
        evaluate(first.cursor)
    assert [r.json()["run_id"] for r in http_server.hits(HOOK)] == [new.run_id]
    assert old.run_id != new.run_id


def test_failed_post_mid_batch_keeps_the_alerts_already_posted(http_server: FaultServer) -> None:
    replies = iter([Reply(200, {"ok": True}), Reply(400, {"error": "bad"})])
    http_server.route("POST", HOOK, lambda _: next(replies, Reply(200, {"ok": True})))
    with DagsterInstance.ephemeral() as instance:
        evaluate = evaluator(instance, http_server)
        start = evaluate(None)
        runs = [
            materialize([checked], instance=instance, raise_on_error=False).run_id for _ in range(3)
        ]
        failing = evaluate(start.cursor)  # run 1 posted, run 2 refused (400, not retried)
        assert len(http_server.hits(HOOK)) == 2
        assert failing.skip_reason is not None
        assert "did not accept the alert" in failing.skip_reason.skip_message
        assert "1 alert(s) posted" in failing.skip_reason.skip_message
        evaluations = instance.event_log_storage.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION),
            ascending=True,
        )
        assert failing.cursor == str(evaluations[0].storage_id)  # run 1's alert is done
        done = evaluate(failing.cursor)  # runs 2 and 3, each once
        assert done.cursor == str(evaluations[-1].storage_id) and done.skip_reason is None
    posted = [r.json()["run_id"] for r in http_server.hits(HOOK)]
    assert posted == [runs[0], runs[1], runs[1], runs[2]]  # only the refused alert is re-sent


def test_webhook_down_fails_the_tick_without_leaking_the_url(http_server: FaultServer) -> None:
    http_server.script("POST", HOOK, Reply(500))
    from etl_assets.defs.alerts import Alert

    alert = Alert("run_failure", "p", None, None, "boom", "r1", "http://ui/runs/r1")
    with pytest.raises(
        RuntimeError, match=r"alert webhook http://127.0.0.1 did not accept the alert"
    ) as raised:
        AlertWebhook(url=http_server.url(HOOK), backoff_base_s=0.001, max_attempts=2).post(alert)
    assert "T0KEN" not in str(raised.value)
    assert len(http_server.hits(HOOK)) == 2


def test_unreachable_webhook_leaks_no_token_to_logs_or_errors(
    http_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    from etl_assets.defs.alerts import Alert

    url = http_server.url("/services/T000/B000/SECRETTOKEN123?sig=QUERYSECRET")
    http_server.stop()  # a closed port: urllib3's error text names the request path
    http_server.start = lambda: None  # type: ignore[method-assign]
    alert = Alert("run_failure", "p", None, None, "boom", "r1", "http://ui/runs/r1")
    with caplog.at_level("WARNING"), pytest.raises(RuntimeError) as raised:
        AlertWebhook(url=url, backoff_base_s=0, max_attempts=2).post(alert)
    assert "retry 1/1" in caplog.text and "Connection refused" in caplog.text  # it did log
    texts = [caplog.text, str(raised.value), repr(raised.value)]
    texts += [str(e) for e in (raised.value.__cause__, raised.value.__context__) if e]
    for text in texts:
        assert (
            "SECRETTOKEN123" not in text and "QUERYSECRET" not in text and "/services" not in text
        )


@pytest.mark.parametrize("configured", [False, True])
def test_alerts_included_only_when_a_webhook_is_configured(
    monkeypatch: pytest.MonkeyPatch, configured: bool
) -> None:
    if configured:
        monkeypatch.setenv(WEBHOOK_ENV, "http://127.0.0.1:9/hook")
    else:
        monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    try:
        module = importlib.reload(etl_assets.definitions)
        names = {s.name for s in module.defs.sensors or []}
        assert (RUN_FAILURE_SENSOR in names) is configured and (
            CHECK_FAILURE_SENSOR in names
        ) is configured
        assert ("alert_webhook" in (module.defs.resources or {})) is configured
    finally:
        monkeypatch.undo()
        importlib.reload(etl_assets.definitions)
