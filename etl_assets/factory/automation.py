"""Jobs, schedules and landing-folder sensors of a pipeline."""


import json
import re
from dataclasses import dataclass

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    JobDefinition,
    RetryPolicy,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from etl_assets.factory.executors import executor_for
from etl_assets.factory.graph import sensor_targets
from etl_assets.lib.paths import expand_source_paths, is_local, resolve_under
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import PipelineSpec, SourceSpec

#: Tag on sensor-started runs naming the file that triggered them.
FILE_TAG = "etl_assets/file"


def pipeline_job_name(spec: PipelineSpec) -> str:
    return f"{spec.pipeline}_job"


def build_pipeline_job(
    spec: PipelineSpec,
    partitions_def: TimeWindowPartitionsDefinition | None,
    op_retry_policy: RetryPolicy | None = None,
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
        executor_def=executor_for(spec.executor),
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


@dataclass(frozen=True)
class LandedFile:
    relative_path: str
    size: int
    mtime_ns: int
    partition_key: str | None
    #: Object stores' content tag (S3 ETag): names the version better than size and mtime.
    etag: str | None = None

    @property
    def fingerprint(self) -> str:
        """Content address of this version of the file: a changed file gets a new one."""
        if self.etag:
            return f"etag-{self.etag}"
        return f"{self.size}-{self.mtime_ns}"

    @property
    def run_key(self) -> str:
        return f"{self.relative_path}@{self.fingerprint}"


def _template_regex(path_template: str) -> re.Pattern[str]:
    before, after = path_template.split("{partition}", 1)
    return re.compile(re.escape(before) + r"(?P<partition>[^/]+)" + re.escape(after) + r"$")


def landed_files(source: SourceSpec, files: SourceFiles, partitions_def: TimeWindowPartitionsDefinition | None) -> list[LandedFile]:
    """Files currently matching the source's path, with their partition key when partitioned.

    Files whose name does not parse as a valid partition key are skipped (and never run).
    """
    root, template, label_prefix = files.locate(source.path)
    pattern = template.replace("{partition}", "*") if source.partitioned else template
    root = resolve_under(root, "")
    root_text = str(root).rstrip("/")
    regex = _template_regex(template) if source.partitioned else None
    found: list[LandedFile] = []
    try:
        paths = expand_source_paths(root, pattern)
    except FileNotFoundError:
        return []
    for path in paths:
        relative = str(path)[len(root_text):].lstrip("/")
        key: str | None = None
        if regex is not None:
            match = regex.search(relative)
            if match is None or partitions_def is None or not partitions_def.has_partition_key(match["partition"]):
                continue
            key = match["partition"]
        if is_local(path):
            info = path.stat()
            mtime_ns = int(getattr(info, "st_mtime_ns", 0) or float(getattr(info, "st_mtime", 0)) * 1e9)
            found.append(LandedFile(label_prefix + relative, int(info.st_size), mtime_ns, key))
            continue
        details = path.fs.info(path.path)
        etag = str(details.get("ETag") or details.get("etag") or "").strip('"') or None
        modified = details.get("LastModified") or details.get("mtime")
        mtime_ns = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
        found.append(LandedFile(label_prefix + relative, int(details.get("size") or 0), mtime_ns, key, etag))
    return found


def build_landing_sensor(
    spec: PipelineSpec, name: str, partitions_def: TimeWindowPartitionsDefinition | None
) -> SensorDefinition:
    """Start one run per new or changed file; the cursor maps each path to its last fingerprint.

    The run key is the file's content address (path, size, mtime; the ETag on S3), so Dagster
    itself also refuses a second run for the same version of a file even if the cursor were lost.
    The source path may be under the data root (local or S3) or an ``s3://`` URL.
    """
    source = spec.sources[name]
    targets = sensor_targets(spec, name)

    @sensor(
        name=f"{spec.pipeline}_{name}_landing",
        target=AssetSelection.assets(*targets),
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.STOPPED,
        description=f"Runs {name} and what is built from it when a file matching {source.path!r} lands or changes.",
    )
    def landing_sensor(context: SensorEvaluationContext, source_files: SourceFiles) -> SensorResult:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests: list[RunRequest] = []
        for landed in landed_files(source, source_files, partitions_def):
            if seen.get(landed.relative_path) == landed.fingerprint:
                continue
            seen[landed.relative_path] = landed.fingerprint
            requests.append(
                RunRequest(
                    run_key=landed.run_key,
                    partition_key=landed.partition_key,
                    tags={FILE_TAG: landed.relative_path},
                )
            )
        return SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return landing_sensor
