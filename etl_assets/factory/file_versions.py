"""Which version of each source file a materialization read, and what has landed since.

Every raw materialization of a file source records, per partition, the files it read: path,
size, modification time and a content hash (blake2b of local files; the ETag of objects in S3).
The landing sensor compares what is in the landing folder with these records, so a partition
already built from exactly that file (by the demo, the UI, a backfill or another sensor) does not
run again, and a file that was only touched (new mtime, same bytes) does not either.

The per-file state lives in the materializations, not in the sensor's cursor, so the cursor
stays small however many files land.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    MetadataValue,
    PartitionsDefinition,
)
from upath import UPath

from etl_assets.lib.paths import expand_source_paths, is_local, relative_to_root, resolve_root
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.spec import SourceSpec

#: Materialization metadata key: ``{path: {size, mtime_ns, blake2b | etag}}`` of the files read.
VERSIONS_METADATA_KEY = "etl_assets/source_files"

#: Records are fetched in batches of this many partitions (keeps SQL ``IN`` lists short).
_LOOKUP_BATCH = 500
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileVersion:
    """One version of one landed file, as listed (no content read)."""

    path: str
    size: int
    mtime_ns: int
    #: When the file last appeared or changed here: max(mtime, ctime) locally, so a file moved
    #: into the folder with an old mtime (``mv`` keeps it) still counts as new.
    changed_ns: int
    partition_key: str | None
    #: Object stores' content tag (S3 ETag); None for local files.
    etag: str | None = None
    #: Where the file is, for hashing its content on demand.
    location: UPath | None = None

    @property
    def fingerprint(self) -> str:
        """A short name of this version for run keys: the ETag, else size and mtime."""
        return f"etag-{self.etag}" if self.etag else f"{self.size}-{self.mtime_ns}"

    @property
    def version_id(self) -> str:
        """``path@fingerprint``: names this version of this file (run keys, the sensor's cursor)."""
        return f"{self.path}@{self.fingerprint}"

    def recorded(self) -> dict[str, Any]:
        """What a materialization records about this version (hashes the content locally)."""
        entry: dict[str, Any] = {"size": self.size, "mtime_ns": self.mtime_ns}
        if self.etag:
            entry["etag"] = self.etag
        elif self.location is not None and is_local(self.location):
            entry["blake2b"] = content_hash(self.location)
        return entry

    def matches(self, recorded: Mapping[str, Any] | None) -> bool:
        """Whether ``recorded`` (from a materialization) names this same content.

        Same size and mtime: the same file. Otherwise the content hash (or ETag) decides, so a
        file touched without changing its bytes still matches.
        """
        if not recorded or recorded.get("size") != self.size:
            return False
        if recorded.get("mtime_ns") == self.mtime_ns and recorded.get("etag") == self.etag:
            return True
        if self.etag and recorded.get("etag"):
            return recorded["etag"] == self.etag
        digest = recorded.get("blake2b")
        if digest and self.location is not None and is_local(self.location):
            return content_hash(self.location) == digest
        return False


def content_hash(path: UPath) -> str:
    """blake2b (128-bit) of a local file's bytes, read in 1 MiB chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path.path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stat(path: UPath, label: str, partition_key: str | None) -> FileVersion:
    if is_local(path):
        info = path.stat()
        mtime_ns = int(info.st_mtime_ns)
        changed_ns = max(mtime_ns, int(getattr(info, "st_ctime_ns", 0)))
        return FileVersion(
            label, int(info.st_size), mtime_ns, changed_ns, partition_key, location=path
        )
    details = path.fs.info(path.path)
    etag = str(details.get("ETag") or details.get("etag") or "").strip('"') or None
    modified = details.get("LastModified") or details.get("mtime")
    mtime_ns = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
    return FileVersion(
        label, int(details.get("size") or 0), mtime_ns, mtime_ns, partition_key, etag, path
    )


def _template_regex(path_template: str) -> re.Pattern[str]:
    before, after = path_template.split("{partition}", 1)
    return re.compile(re.escape(before) + r"(?P<partition>[^/]+)" + re.escape(after) + r"$")


def landed_files(
    source: SourceSpec, files: SourceFiles, partitions_def: PartitionsDefinition | None
) -> list[FileVersion]:
    """Files currently matching the source's path, with their partition key when partitioned.

    Only metadata is read (no content). Files whose name does not parse as a valid partition
    key are skipped (and never run).
    """
    assert source.path is not None
    root, template, label_prefix = files.locate(source.path)
    base = resolve_root(root)
    pattern = template.replace("{partition}", "*") if source.partitioned else template
    regex = _template_regex(template) if source.partitioned else None
    try:
        paths = expand_source_paths(base, pattern)
    except FileNotFoundError:
        return []
    found: list[FileVersion] = []
    for path in paths:
        relative = relative_to_root(base, path)
        key: str | None = None
        if regex is not None:
            match = regex.search(relative)
            if (
                match is None
                or partitions_def is None
                or not partitions_def.has_partition_key(match["partition"])
            ):
                continue
            key = match["partition"]
        found.append(_stat(path, label_prefix + relative, key))
    return found


def files_read(
    source: SourceSpec, files: SourceFiles, partition_keys: Sequence[str] | None
) -> list[FileVersion]:
    """The files a read of ``partition_keys`` (None: unpartitioned) opens, as the reader finds them."""
    assert source.path is not None
    root, template, label_prefix = files.locate(source.path)
    base = resolve_root(root)
    patterns = (
        [(template, None)]
        if partition_keys is None
        else [(template.replace("{partition}", key), key) for key in partition_keys]
    )
    found: list[FileVersion] = []
    for pattern, key in patterns:
        try:
            paths = expand_source_paths(base, pattern)
        except (FileNotFoundError, ValueError):
            continue  # the read itself reports a missing file or a bad path, with the source's name
        found.extend(
            _stat(path, label_prefix + relative_to_root(base, path), key) for path in paths
        )
    return found


def record_source_versions(
    context: AssetExecutionContext,
    source: SourceSpec,
    files: SourceFiles,
    partition_keys: Sequence[str] | None,
) -> None:
    """Attach to this materialization (each partition's event in a range run) the file versions read.

    Called before the read: if a file changes while it is read, the recorded version is the
    older one, so the sensor sees a difference and builds the partition again.
    """
    by_partition: dict[str | None, dict[str, Any]] = {key: {} for key in (partition_keys or [None])}
    for version in files_read(source, files, partition_keys):
        by_partition.setdefault(version.partition_key, {})[version.path] = version.recorded()
    for key, versions in by_partition.items():
        metadata = {VERSIONS_METADATA_KEY: MetadataValue.json(versions)}
        if key is None:
            context.add_asset_metadata(metadata)
        else:
            context.add_asset_metadata(metadata, partition_key=key)


def _versions_of(record: Any) -> dict[str, Any]:
    materialization = record.asset_materialization
    value = materialization.metadata.get(VERSIONS_METADATA_KEY) if materialization else None
    data = getattr(value, "data", None)
    return dict(data) if isinstance(data, Mapping) else {}


def recorded_versions(
    instance: DagsterInstance, asset_key: AssetKey, partition_keys: Iterable[str] | None
) -> dict[str | None, dict[str, Any]]:
    """File versions recorded by the latest materialization of each partition (None: unpartitioned).

    Two queries per batch: the latest storage id of each partition, then those events only.
    Partitions never materialized (or materialized before versions were recorded) map to {}.
    """
    if partition_keys is None:
        event = instance.get_latest_materialization_event(asset_key)
        if event is None or event.asset_materialization is None:
            return {None: {}}
        value = event.asset_materialization.metadata.get(VERSIONS_METADATA_KEY)
        data = getattr(value, "data", None)
        return {None: dict(data) if isinstance(data, Mapping) else {}}
    keys = sorted(set(partition_keys))
    found: dict[str | None, dict[str, Any]] = {key: {} for key in keys}
    for start in range(0, len(keys), _LOOKUP_BATCH):
        batch = keys[start : start + _LOOKUP_BATCH]
        ids = instance.event_log_storage.get_latest_storage_id_by_partition(
            asset_key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(batch)
        )
        if not ids:
            continue
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, storage_ids=list(ids.values())), limit=len(ids)
        ).records
        for record in records:
            partition = record.partition_key
            if partition is not None:
                found[partition] = _versions_of(record)
    return found
