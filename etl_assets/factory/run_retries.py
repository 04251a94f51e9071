"""Run retries (``run_retries`` in dagster.yaml) for transient failures only.

Dagster's daemon re-executes a failed run from its failure when the instance enables
``run_retries``. Whether it does is decided when the run-failure event is stored, from the run's
tags then: ``dagster/retry_on_asset_or_op_failure=false`` makes a run that failed in a step not
be retried. A blocking check that fails (bad data) fails its step with
``DagsterAssetCheckFailedError``; re-running it cannot succeed, so the failure hook here tags the
run at that moment. Any other step failure (a file not there yet, a lost connection, a killed
worker) is retried once, as configured.
"""

from __future__ import annotations

from dagster import AssetsDefinition, HookContext, failure_hook
from dagster._core.errors import DagsterAssetCheckFailedError
from dagster._core.storage.tags import RETRY_ON_ASSET_OR_OP_FAILURE_TAG

#: Tag set on a run in which a blocking check failed (tells why it was not retried).
BLOCKED_BY_CHECK_TAG = "etl_assets/blocked_by_check"


def _failed_on_blocking_check(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, DagsterAssetCheckFailedError):
            return True
        error = error.__cause__
    return False


@failure_hook(name="no_run_retry_after_blocking_check")
def no_run_retry_after_blocking_check(context: HookContext) -> None:
    """Mark the run as not to be retried when the step failed on a blocking check."""
    if context.instance is None or not _failed_on_blocking_check(context.op_exception):
        return
    context.instance.add_run_tags(
        context.run_id, {RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false", BLOCKED_BY_CHECK_TAG: "true"}
    )


def with_run_retry_hooks(assets: list[AssetsDefinition]) -> list[AssetsDefinition]:
    """Every asset with the hook attached (it applies in any job: sensor, backfill, UI)."""
    return [asset.with_hooks({no_run_retry_after_blocking_check}) for asset in assets]
