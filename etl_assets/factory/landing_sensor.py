"""Landing-folder sensors: run what a new or changed file feeds, and nothing already built.

At each tick the sensor lists the source's files (names, sizes and times only) and considers
those that appeared or changed since its high-water mark. Each candidate is compared with the
file version the latest materialization of its partition recorded (see
:mod:`etl_assets.factory.file_versions`); only partitions whose file differs are requested, and
contiguous partitions go into one range run (chunked by the pipeline's
``partitions.max_partitions_per_run``), so 30 files landing together make one run, not 30.

The cursor holds the high-water mark (the latest change time seen) and the few paths seen at
exactly that time: it stays a few bytes however many files have landed. A file whose run failed
is not requested again until it changes (a newer change time) or the run retry policy reruns it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory.file_versions import FileVersion, landed_files, recorded_versions
from etl_assets.factory.graph import sensor_targets
from etl_assets.factory.keys import raw_key
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import PipelineSpec

#: Tag on sensor-started runs naming the file that triggered them (the first, for a range).
FILE_TAG = "etl_assets/file"
#: Tag on sensor-started runs: how many landed files the run builds.
FILE_COUNT_TAG = "etl_assets/files"


@dataclass
class LandingCursor:
    """High-water mark of change times seen, and the file versions seen at exactly that time.

    Versions (path and fingerprint), not paths: S3 times have one-second resolution, and an
    object rewritten within the second keeps its time but not its ETag.
    """

    high_water_ns: int = 0
    at_high_water: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str | None) -> LandingCursor:
        if not text:
            return cls()
        data = json.loads(text)
        if not isinstance(data, dict) or "high_water_ns" not in data:
            return cls()  # a cursor of the former shape (one entry per file): start over
        return cls(int(data["high_water_ns"]), set(data.get("at_high_water", [])))

    def is_new(self, version: FileVersion) -> bool:
        if version.changed_ns != self.high_water_ns:
            return version.changed_ns > self.high_water_ns
        return version.version_id not in self.at_high_water

    def advanced(self, listed: Sequence[FileVersion]) -> LandingCursor:
        mark = max([self.high_water_ns, *(v.changed_ns for v in listed)])
        at_mark = {v.version_id for v in listed if v.changed_ns == mark}
        if mark == self.high_water_ns:
            at_mark |= self.at_high_water
        return LandingCursor(mark, at_mark)

    def dump(self) -> str:
        return json.dumps(
            {"high_water_ns": self.high_water_ns, "at_high_water": sorted(self.at_high_water)}
        )


def changed_files(
    candidates: Sequence[FileVersion], recorded: dict[str | None, dict[str, dict]]
) -> list[FileVersion]:
    """Candidates whose partition's latest materialization did not read this same content."""
    return [v for v in candidates if not v.matches(recorded.get(v.partition_key, {}).get(v.path))]


def contiguous_ranges(
    keys: Sequence[str], partitions_def: PartitionsDefinition, max_per_run: int | None
) -> list[list[str]]:
    """``keys`` in partition order, split where a partition is missing and every ``max_per_run``."""
    order = {key: index for index, key in enumerate(partitions_def.get_partition_keys())}
    ranges: list[list[str]] = []
    for key in sorted(set(keys), key=lambda k: order.get(k, -1)):
        current = ranges[-1] if ranges else None
        if (
            current is not None
            and order.get(key) == order.get(current[-1], -2) + 1
            and (max_per_run is None or len(current) < max_per_run)
        ):
            current.append(key)
        else:
            ranges.append([key])
    return ranges


def _run_key(files: Sequence[FileVersion]) -> str:
    """Content address of the files a run builds: the same versions never make a second run."""
    if len(files) == 1:
        return files[0].version_id
    names = "\n".join(sorted(f.version_id for f in files))
    return f"{len(files)} files@{hashlib.blake2b(names.encode(), digest_size=12).hexdigest()}"


def run_requests(
    changed: Sequence[FileVersion],
    partitions_def: PartitionsDefinition | None,
    max_per_run: int | None,
) -> list[RunRequest]:
    """One run per contiguous range of changed partitions (one run when unpartitioned)."""
    if not changed:
        return []
    if partitions_def is None or changed[0].partition_key is None:
        files = sorted(changed, key=lambda f: f.path)
        return [
            RunRequest(
                run_key=_run_key(files),
                tags={FILE_TAG: files[0].path, FILE_COUNT_TAG: str(len(files))},
            )
        ]
    by_key: dict[str, list[FileVersion]] = {}
    for version in changed:
        by_key.setdefault(str(version.partition_key), []).append(version)
    requests = []
    for keys in contiguous_ranges(list(by_key), partitions_def, max_per_run):
        files = sorted((f for key in keys for f in by_key[key]), key=lambda f: f.path)
        tags = {FILE_TAG: files[0].path, FILE_COUNT_TAG: str(len(files))}
        if len(keys) == 1:
            requests.append(RunRequest(run_key=_run_key(files), partition_key=keys[0], tags=tags))
        else:
            tags |= {
                ASSET_PARTITION_RANGE_START_TAG: keys[0],
                ASSET_PARTITION_RANGE_END_TAG: keys[-1],
            }
            requests.append(RunRequest(run_key=_run_key(files), tags=tags))
    return requests


def build_landing_sensor(
    spec: PipelineSpec, name: str, partitions_def: PartitionsDefinition | None
) -> SensorDefinition:
    """The landing sensor of source ``name``; STOPPED until switched on (UI, CLI or GraphQL).

    The source path may be under the data root (local or S3) or an ``s3://`` URL.
    """
    source = spec.sources[name]
    targets = sensor_targets(spec, name)
    asset_key = raw_key(spec.pipeline, name)
    max_per_run = spec.partitions.max_partitions_per_run if spec.partitions is not None else None

    @sensor(
        name=f"{spec.pipeline}_{name}_landing",
        target=AssetSelection.assets(*targets),
        minimum_interval_seconds=source.sensor_interval_seconds,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            f"Runs {name} and what is built from it when a file matching {source.path!r} lands or changes; "
            "skips partitions already built from the same file content."
        ),
    )
    def landing_sensor(context: SensorEvaluationContext, source_files: SourceFiles) -> SensorResult:
        cursor = LandingCursor.parse(context.cursor)
        listed = landed_files(source, source_files, partitions_def if source.partitioned else None)
        candidates = [v for v in listed if cursor.is_new(v)]
        requests: list[RunRequest] = []
        if candidates:
            partitions = {str(v.partition_key) for v in candidates} if source.partitioned else None
            recorded = recorded_versions(context.instance, asset_key, partitions)
            changed = changed_files(candidates, recorded)
            if not source.partitioned and changed:
                changed = listed  # an unpartitioned run reads every file of the source
            requests = run_requests(
                changed, partitions_def if source.partitioned else None, max_per_run
            )
            context.log.info(
                f"{len(candidates)} file(s) new or touched since the last tick; {len(changed)} not yet built "
                f"from this content; {len(requests)} run(s) requested"
            )
        return SensorResult(run_requests=requests, cursor=cursor.advanced(listed).dump())

    return landing_sensor
