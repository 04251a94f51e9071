"""Jobs and schedules of a pipeline (landing sensors: :mod:`etl_assets.factory.landing_sensor`)."""


from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    JobDefinition,
    RetryPolicy,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from etl_assets.factory.executors import executor_for
from etl_assets.factory.landing_sensor import FILE_TAG, build_landing_sensor
from etl_assets.lib.spec import PipelineSpec

__all__ = ["FILE_TAG", "build_landing_sensor", "build_pipeline_job", "build_schedule", "pipeline_job_name"]


def pipeline_job_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}_job"


def build_pipeline_job(
    spec: PipelineSpec,
    partitions_def: TimeWindowPartitionsDefinition | None,
    op_retry_policy: RetryPolicy | None = None,
    shared_storage: bool = False,
) -> UnresolvedAssetJobDefinition:
    """Every asset of the pipeline; partitioned assets run for the requested partition(s).

    ``op_retry_policy`` retries failed steps (set when storage is remote; see factory.network).
    The executor is the spec's ``executor`` (see :mod:`etl_assets.factory.executors`).
    """
    return define_asset_job(
        name=pipeline_job_name(spec),
        selection=AssetSelection.groups(spec.pipeline),
        description=spec.description or f"All assets of pipeline {spec.pipeline}",
        op_retry_policy=op_retry_policy,
        executor_def=executor_for(spec.executor, shared_storage),
    )


def build_schedule(
    spec: PipelineSpec,
    job: UnresolvedAssetJobDefinition | JobDefinition,
    partitions_def: TimeWindowPartitionsDefinition | None,
) -> ScheduleDefinition | None:
    """Cron schedule; a partitioned pipeline runs its latest complete partition at each tick."""
    if spec.schedule is None:
        return None
    cron = spec.schedule

    @schedule(
        name=f"{spec.pipeline}_schedule",
        cron_schedule=cron.cron,
        execution_timezone=cron.timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING if cron.enabled else DefaultScheduleStatus.STOPPED,
        description=f"Runs pipeline {spec.pipeline} on '{cron.cron}' ({cron.timezone}).",
    )
    def pipeline_schedule(context: ScheduleEvaluationContext):
        if partitions_def is None:
            return RunRequest()
        complete = partitions_def.get_partition_keys(current_time=context.scheduled_execution_time)
        if not complete:
            return SkipReason("no complete partition yet at this tick")
        return RunRequest(partition_key=complete[-1])

    return pipeline_schedule
