"""Put one table file (and its schema sidecar) in place atomically, and read it back exactly.

Writes never touch the target until the new bytes are complete:

- local paths: the data (and sidecar) are written to hidden temporary files in the target's own
  folder (``.<name>.<token>.tmp``, same file system) and ``os.replace``d over the targets;
- object stores (S3, GCS, Azure): the files are written locally, then uploaded with one PUT each,
  which either replaces the object whole or leaves it as it was;
- other fsspec file systems: uploaded to a temporary name beside the target, then ``mv``.

If the writer raises part-way, the temporary files are removed and the previous version stays.
A process killed mid-write cannot clean up; :func:`sweep_stale_temps` removes such leftovers
on a later write. The sidecar is published before the data, and carries the data's size so a
reader can tell if the two ever come from different writes (see ``sidecar.py``).
"""

from __future__ import annotations

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

_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
STALE_TEMP_SECONDS = 3600


def _temp_name(name: str, token: str) -> str:
    return f".{name}.{token}.tmp"


def write_table(fmt: FileFormat, table: pa.Table, path: UPath) -> int:
    """Replace the file at ``path`` with ``table``; returns the data file's size in bytes."""
    token = uuid.uuid4().hex[:12]
    local = local_name(path)
    if local is not None:
        folder = os.path.dirname(local)
        os.makedirs(folder, exist_ok=True)
        stage = folder
    else:
        stage = tempfile.mkdtemp(prefix="etl_assets_io_")
    data_tmp = os.path.join(stage, _temp_name(path.name, token))
    sidecar_tmp = os.path.join(stage, _temp_name(path.name + SIDECAR_SUFFIX, token))
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


def sweep_stale_temps(folder: UPath, older_than_s: float = STALE_TEMP_SECONDS) -> int:
    """Remove temporary files a killed writer left in a local ``folder``; returns how many.

    Only names of our temporary pattern older than ``older_than_s`` are touched, so a write in
    progress elsewhere keeps its file.
    """
    local = local_name(folder)
    if local is None or not os.path.isdir(local):
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    with os.scandir(local) as entries:
        for entry in entries:
            if _TEMP_NAME.match(entry.name) and entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


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
