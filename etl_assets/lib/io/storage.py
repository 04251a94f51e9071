"""Put one table file (and its schema sidecar) in place atomically, and read it back exactly.

Writes never touch the target until the new bytes are complete:

- local paths: the data (and sidecar) are written to hidden temporary files in the target's own
  folder (``.<name>.<token>.locked.tmp``, same file system) and ``os.replace``d over the targets;
- object stores (S3, GCS, Azure): the files are written to a local staging folder, then
  uploaded with one PUT each (s3fs: under 100 MiB) or one multipart upload (larger); S3 makes
  the object visible only when the PUT or the upload's completion succeeds, whole, so the
  previous object stays until then;
- other fsspec file systems: uploaded to a temporary name beside the target, then ``mv``.

If the writer raises part-way, the temporary files are removed and the previous version stays.
A process killed mid-write (SIGKILL, OOM, a lost machine) cannot clean up: its temporary files
(or open multipart upload) stay, invisible to readers and listings (hidden names no reader
asks for; uploads are not objects). The next write into the same folder removes them
(:func:`sweep_stale_temps`): a writer holds an exclusive ``flock`` on each of its temporary
files for as long as it writes them, the kernel drops the lock when the process dies, so a
temporary file nobody holds a lock on is a dead writer's however young, while a concurrent
writer's file is never touched. S3 has no such lock: open uploads are aborted once an hour old.

The sidecar is published before the data, and carries the data's size so a reader can tell if
the two ever come from different writes (see ``sidecar.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
import uuid

import pandas as pd
import pyarrow as pa
from upath import UPath

from etl_assets.lib.io.convert import conform, frame_to_table, table_to_frame
from etl_assets.lib.io.formats import FileFormat, ParquetFormat
from etl_assets.lib.io.paths import has_atomic_put, local_name
from etl_assets.lib.io.sidecar import (
    SIDECAR_SUFFIX,
    check_size,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

#: Local temporary files: locked by their writer while written (swept when unlocked) ...
_LOCKED_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.locked\.tmp$")
#: ... and the unlocked names of earlier versions (swept by age only: their writer may live).
_UNLOCKED_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
#: Temporary files that cannot be locked (unlocked names, a file system without ``flock``)
#: and S3 multipart uploads are left alone until they are this old.
STALE_TEMP_SECONDS = 3600
_STAGE_PREFIX = "etl_assets_io_"


def _temp_name(name: str, token: str) -> str:
    """A remote temporary name (file systems without an atomic PUT)."""
    return f".{name}.{token}.tmp"


def _locked_temp_name(name: str, token: str) -> str:
    return f".{name}.{token}.locked.tmp"


def _claim_temp_files(paths: list[str]) -> list[int]:
    """Create each temporary file and hold an exclusive lock on it (see the module docstring);
    returns the descriptors, to close once the files are published or removed.

    Each file is created and locked under the unlocked pattern (``.<name>.<token>.tmp``, which
    a sweep removes only when an hour old), then renamed to its ``.locked.tmp`` name: a sweep
    can never see a locked name before its lock is taken.
    """
    held: list[int] = []
    creating = ""
    try:
        for path in paths:
            creating = path.removesuffix(".locked.tmp") + ".tmp"
            descriptor = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            held.append(descriptor)
            with contextlib.suppress(OSError):  # no locks on this file system: swept by age
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.rename(creating, path)
    except BaseException:
        for ours in (creating, *paths):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ours)
        _release(held)
        raise
    return held


def _release(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)  # also drops the lock


def write_table(fmt: FileFormat, table: pa.Table, path: UPath) -> int:
    """Replace the file at ``path`` with ``table``; returns the data file's size in bytes."""
    token = uuid.uuid4().hex[:12]
    local = local_name(path)
    if local is not None:
        folder = os.path.dirname(local)
        os.makedirs(folder, exist_ok=True)
        stage = folder
    else:
        stage = tempfile.mkdtemp(prefix=_STAGE_PREFIX)
    data_tmp = os.path.join(stage, _locked_temp_name(path.name, token))
    sidecar_tmp = os.path.join(stage, _locked_temp_name(path.name + SIDECAR_SUFFIX, token))
    claimed = _claim_temp_files([data_tmp, sidecar_tmp] if fmt.has_sidecar else [data_tmp])
    try:
        fmt.write_file(table, data_tmp)
        size = os.path.getsize(data_tmp)
        staged = [(data_tmp, path)]
        if fmt.has_sidecar:
            write_sidecar(
                table.schema, rows=table.num_rows, data_bytes=size, local_file=sidecar_tmp
            )
            staged.insert(0, (sidecar_tmp, sidecar_path(path)))
        _publish(staged, token)
        return size
    finally:
        for leftover in (data_tmp, sidecar_tmp):
            if os.path.exists(leftover):
                os.unlink(leftover)
        _release(claimed)
        if local is None:
            shutil.rmtree(stage, ignore_errors=True)


def _publish(staged: list[tuple[str, UPath]], token: str) -> None:
    """Move finished local files onto their targets, in order (sidecar first, data last)."""
    for local_file, target in staged:
        target_local = local_name(target)
        if target_local is not None:
            os.replace(local_file, target_local)
            continue
        fs = target.fs
        if has_atomic_put(target):
            fs.put_file(local_file, target.path)
            continue
        fs.makedirs(target.parent.path, exist_ok=True)
        remote_tmp = target.with_name(_temp_name(target.name, token)).path
        try:
            fs.put_file(local_file, remote_tmp)
            fs.mv(remote_tmp, target.path)
        finally:
            if fs.exists(remote_tmp):
                fs.rm(remote_tmp)


def sweep_stale_temps(folder: UPath, older_than_s: float | None = None) -> int:
    """Remove what killed writers left for ``folder``; returns how many things were removed.

    - a local folder: its temporary files no process holds a lock on (the writer is gone); a
      file that cannot be locked is removed once older than ``older_than_s``;
    - an S3 folder: multipart uploads of its objects started more than ``older_than_s`` ago
      (S3 has no lock to ask: a younger one may be a live writer's, and aborting it would fail
      that run), and the local staging folders of killed writers (see :func:`write_table`).

    ``older_than_s`` defaults to :data:`STALE_TEMP_SECONDS`. Cleaning is best effort: an S3
    error here (no permission to list uploads, say) is ignored and the write goes on.
    """
    cutoff = time.time() - (STALE_TEMP_SECONDS if older_than_s is None else older_than_s)
    local = local_name(folder)
    if local is not None:
        return _sweep_folder(local, cutoff)
    if folder.protocol not in ("s3", "s3a"):
        return 0
    return _abort_stale_uploads(folder, cutoff) + _sweep_staging_folders(cutoff)


def _sweep_folder(local: str, cutoff: float) -> int:
    if not os.path.isdir(local):
        return 0
    removed = 0
    with os.scandir(local) as entries:
        for entry in entries:
            locked = bool(_LOCKED_TEMP.match(entry.name))
            if (locked or _UNLOCKED_TEMP.match(entry.name)) and entry.is_file(
                follow_symlinks=False
            ):
                removed += _remove_if_abandoned(entry.path, cutoff, locked)
    return removed


def _abort_stale_uploads(folder: UPath, cutoff: float) -> int:
    """Abort multipart uploads of objects directly in ``folder`` started before ``cutoff``.

    A writer killed mid-upload (tables over 100 MiB go up in parts) leaves its upload open:
    invisible to readers and listings, but its parts are stored (and billed) until aborted.
    A bucket lifecycle rule (``AbortIncompleteMultipartUpload``) does the same for the whole
    bucket; this covers the table folders being written even without one.
    """
    fs = folder.fs
    bucket, key, _ = fs.split_path(folder.path)
    prefix = key.rstrip("/") + "/" if key else ""
    aborted = 0
    try:
        listing = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
        for upload in stale_uploads(listing.get("Uploads", []), prefix, cutoff):
            fs.call_s3(
                "abort_multipart_upload", Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            aborted += 1
    except Exception:  # best effort (see sweep_stale_temps); the write itself reports real trouble
        return aborted
    return aborted


def stale_uploads(uploads: list[dict], prefix: str, cutoff: float) -> list[dict]:
    """The uploads (``ListMultipartUploads`` entries) of objects directly under ``prefix``
    that were started before ``cutoff`` (seconds since the epoch)."""
    return [
        upload
        for upload in uploads
        if upload["Key"].startswith(prefix)
        and "/" not in upload["Key"][len(prefix) :]
        and upload["Initiated"].timestamp() < cutoff
    ]


def _sweep_staging_folders(cutoff: float) -> int:
    """Remove the local staging folders (``etl_assets_io_*`` in the temp folder) of writers
    killed while writing or uploading: a folder is removed only when it held temporary files
    and every one was abandoned (each writer stages in its own folder and locks its files
    before writing; a live writer's folder keeps its locked files, an empty one is left)."""
    removed = 0
    with os.scandir(tempfile.gettempdir()) as entries:
        stages = [e.path for e in entries if e.name.startswith(_STAGE_PREFIX) and e.is_dir()]
    for stage in stages:
        swept = _sweep_folder(stage, cutoff)
        if swept:
            removed += swept
            with contextlib.suppress(OSError):  # not empty: a file we could not remove
                os.rmdir(stage)
    return removed


def _remove_if_abandoned(path: str, cutoff: float, locked: bool) -> int:
    """Remove the temporary file ``path`` if its writer is gone: no lock held on a ``locked``
    name (or, where a lock cannot tell, last modified before ``cutoff``)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # published or removed meanwhile
        return 0
    try:
        try:
            if not locked:
                raise OSError("an earlier version's name: its writer took no lock")
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # a live writer holds it
        except OSError:  # no lock to ask: fall back to age
            if os.fstat(descriptor).st_mtime >= cutoff:
                return 0
        # the writer may have renamed it and let go just before our lock: only remove the
        # same file under the same name
        try:
            if os.stat(path).st_ino != os.fstat(descriptor).st_ino:
                return 0
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return 1
    finally:
        os.close(descriptor)


def _source(path: UPath, expected_bytes: int | None) -> str | pa.NativeFile:
    """What the format reader should read: a local file name, or the remote bytes in memory."""
    local = local_name(path)
    if local is not None:
        if expected_bytes is not None:
            check_size(path, expected_bytes, os.path.getsize(local))
        return local
    data = path.read_bytes()
    if expected_bytes is not None:
        check_size(path, expected_bytes, len(data))
    return pa.BufferReader(data)


def read_table(fmt: FileFormat, path: UPath, *, use_threads: bool = True) -> pa.Table:
    """The table stored at ``path``, with its original Arrow types and pandas metadata."""
    if fmt.has_sidecar:
        schema, size = read_sidecar(path)
        return conform(fmt.read_file(_source(path, size), schema, use_threads=use_threads), schema)
    if not exists(path):
        raise FileNotFoundError(f"{path} does not exist")
    local = local_name(path)
    if local is not None:
        table = fmt.read_file(local, None, use_threads=use_threads)  # type: ignore[arg-type]
    else:
        with path.open("rb") as handle:
            table = fmt.read_file(handle, None, use_threads=use_threads)  # type: ignore[arg-type]
    return conform(table, table.schema)


def read_schema(fmt: FileFormat, path: UPath) -> pa.Schema:
    """The stored schema alone (cheap: the sidecar, or the Parquet footer)."""
    if fmt.has_sidecar:
        return read_sidecar(path)[0]
    assert isinstance(fmt, ParquetFormat)
    local = local_name(path)
    if local is not None:
        return fmt.read_schema(local)
    with path.open("rb") as handle:
        return fmt.read_schema(handle)


def write_frame(fmt: FileFormat, frame: pd.DataFrame, path: UPath) -> int:
    return write_table(fmt, frame_to_table(frame), path)


def read_frame(fmt: FileFormat, path: UPath) -> pd.DataFrame:
    return table_to_frame(read_table(fmt, path))


def exists(path: UPath) -> bool:
    local = local_name(path)
    return os.path.exists(local) if local is not None else path.exists()
