"""Alert sensors: a failed run, and a failed asset check, each posted once to the webhook.

- ``etl_assets_run_failure_alert`` (``@run_failure_sensor``, every job of the code location):
  pipeline, the failed step's asset, the partition, the error's first line, a link to the run.
- ``etl_assets_check_failure_alert``: reads the event log for asset check evaluations that did
  not pass since its cursor (the last storage id handled, returned in ``SensorResult``), so
  each failed check is posted once, with the check's own description as the error. Its first
  tick (no cursor) posts nothing: it sets the cursor to the latest check evaluation's storage
  id, so enabling it on an instance with history does not replay every past failure.

Both write the message to the sensor's log too, so it is in Dagster even when no one reads the
chat. When posting fails, the run failure sensor's tick fails and Dagster retries the alert;
the check sensor keeps the alerts already posted (its cursor moves to the last one), reports
the failure in its log and as the tick's skip reason, and tries the failed alert again at the
next tick.
"""

from __future__ import annotations

from dagster import (
    AssetCheckEvaluation,
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from etl_assets.defs.alerts.message import Alert, asset_from_step, pipeline_of, run_url, short_error
from etl_assets.defs.alerts.webhook import AlertWebhook

RUN_FAILURE_SENSOR = "etl_assets_run_failure_alert"
CHECK_FAILURE_SENSOR = "etl_assets_check_failure_alert"
_BATCH = 200
_WRAPPERS = {
    "DagsterExecutionStepExecutionError",
    "RetryRequestedFromPolicy",
    "DagsterUserCodeExecutionError",
}


def partition_of(tags: dict[str, str]) -> str | None:
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


def run_failure_alert(context: RunFailureSensorContext, webhook: AlertWebhook) -> Alert:
    """The alert for a failed run: the first failed step names the asset and the error."""
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    failed = step_failures[0] if step_failures else None
    if failed is not None and failed.step_failure_data is not None:
        error = failed.step_failure_data.error
        # Dagster wraps the user's exception (step execution error, retries exhausted): unwrap
        while error is not None and error.cause is not None and error.cls_name in _WRAPPERS:
            error = error.cause
        message = error.message if error is not None else failed.message
    else:
        message = context.failure_event.message
    asset = asset_from_step(failed.step_key if failed is not None else None)
    extra = f" (+{len(step_failures) - 1} more failed step(s))" if len(step_failures) > 1 else ""
    return Alert(
        kind="run_failure",
        pipeline=pipeline_of(asset, run.job_name),
        asset=asset,
        partition=partition_of(dict(run.tags)),
        error=short_error(message) + extra,
        run_id=run.run_id,
        run_url=run_url(webhook.ui_base_url, run.run_id),
    )


def build_run_failure_sensor() -> SensorDefinition:
    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        monitor_all_code_locations=False,
        default_status=DefaultSensorStatus.RUNNING,
        description="Posts a short message (pipeline, asset, partition, error, run link) to the alert webhook.",
    )
    def run_failure(context: RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
        alert = run_failure_alert(context, alert_webhook)
        context.log.error(alert.text)
        alert_webhook.post(alert)

    return run_failure


def build_check_failure_sensor(minimum_interval_seconds: int = 30) -> SensorDefinition:
    @sensor(
        name=CHECK_FAILURE_SENSOR,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Posts each failed asset check (asset, partition, check, description, run link) to the alert webhook.",
    )
    def check_failure(
        context: SensorEvaluationContext, alert_webhook: AlertWebhook
    ) -> SensorResult:
        storage = context.instance.event_log_storage
        if not context.cursor:
            # first tick (sensor just enabled, maybe on an instance with history): start from
            # now, so past failures are not replayed as a burst of stale alerts
            latest = storage.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION),
                limit=1,
                ascending=False,
            )
            start = latest[0].storage_id if latest else 0
            return SensorResult(
                cursor=str(start),
                skip_reason=f"alerting on check evaluations after event storage id {start}",
            )
        after = int(context.cursor)
        # the storage's query (the instance-level one is deprecated; no fetch_* for check events)
        records = storage.get_event_records(
            EventRecordsFilter(
                event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after
            ),
            limit=_BATCH,
            ascending=True,
        )
        cursor = after
        posted = 0
        for record in records:
            event = record.event_log_entry.dagster_event
            evaluation = event.event_specific_data if event is not None else None
            if not isinstance(evaluation, AssetCheckEvaluation) or evaluation.passed:
                cursor = record.storage_id
                continue
            run = context.instance.get_run_by_id(record.run_id)
            asset = evaluation.asset_key.to_user_string()
            alert = Alert(
                kind="check_failure",
                pipeline=asset.split("/", 1)[0],
                asset=asset,
                partition=evaluation.partition or (partition_of(dict(run.tags)) if run else None),
                error=short_error(
                    f"check {evaluation.check_name} ({evaluation.severity.value}): "
                    f"{evaluation.description or 'did not pass'}"
                ),
                run_id=record.run_id,
                run_url=run_url(alert_webhook.ui_base_url, record.run_id),
            )
            context.log.error(alert.text)
            try:
                alert_webhook.post(alert)
            except RuntimeError as error:  # what AlertWebhook.post raises (URL-free message)
                # keep what was posted: the cursor stops just before this alert, which the
                # next tick tries again; the tick reports the failure as its skip reason
                message = (
                    f"{error}; {posted} alert(s) posted this tick, the rest (from event "
                    f"storage id {record.storage_id}) is tried again at the next tick"
                )
                context.log.error(message)
                return SensorResult(cursor=str(cursor), skip_reason=message)
            posted += 1
            cursor = record.storage_id
        return SensorResult(cursor=str(cursor))

    return check_failure
