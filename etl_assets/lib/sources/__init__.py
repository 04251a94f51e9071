"""File sources: CSV, JSON, JSON Lines, Parquet and plain text, read into one pandas frame.

:func:`read_source` is what the generated raw assets call (through the ``SourceFiles``
resource) and what a hand-written ``@asset`` can call directly.

Columns of the returned frame, in this order:

* the data columns: CSV and text as text (pandas ``str``; the raw layer keeps what landed),
  JSON with JSON types, Parquet with its own types;
* ``_source_file`` (``str``): the file relative to the data root; ``archive.zip!member.csv``
  for a member of a zip archive with several members;
* ``_source_row`` (``int64``): the record's place in that file. CSV: the data record (1 = the
  first record after the header; a quoted field spanning lines is one record). JSON: position
  in the list of records. JSON Lines and text: the line number. Parquet: the row;
* ``_parse_error`` (``str``; CSV, JSON and JSON Lines): null, or why the row was rejected (its data columns are
  then null) — the clean step routes such rows to the rejected table;
* ``_partition`` (``str``, partitioned sources only): the partition key of the row's file.

Several files (a glob, a folder, several partitions or a zip with several members) are read in
path order and concatenated. Files may have different column sets: the result has the union of
their columns (in order of first appearance) with nulls where a file lacks a column. Nothing is
logged about it; the schema checks downstream are where a changed layout is reported.

Every error is a :class:`SourceError` (a ``ValueError``); problems in one file are
:class:`SourceReadError`, whose message starts with the file and row or line.

:func:`read_source_physical` returns the same frame together with what each file's reader
counted of its physical input (:class:`~etl_assets.lib.sources.physical.PhysicalInput`: bytes,
lines, the rows they must produce), for the conservation checks; readers that count nothing
contribute nothing. The returned frame carries no ``attrs`` (they would end up, or fail to
serialise, in the stored file's metadata).
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from upath import UPath

from etl_assets.lib.paths import (
    PathOutsideRootError,
    SourceFileNotFoundError,
    expand_source_paths,
    relative_to_root,
    resolve_root,
    split_url,
)
from etl_assets.lib.sources.csv import read_csv_file
from etl_assets.lib.sources.errors import (
    PartitionFileNotFoundError,
    SourceError,
    SourceNotFoundError,
    SourcePathError,
    SourceReadError,
)
from etl_assets.lib.sources.files import (
    PARSE_ERROR_COLUMN,
    SOURCE_FILE_COLUMN,
    SOURCE_ROW_COLUMN,
    SourceFile,
    constant_strings,
    expand_archives,
    infer_compression,
)
from etl_assets.lib.sources.json import read_json_file, read_jsonl_file
from etl_assets.lib.sources.parquet import read_parquet_file
from etl_assets.lib.sources.physical import PHYSICAL_ATTR, PhysicalInput, physical_of
from etl_assets.lib.sources.text import read_text_file
from etl_assets.lib.spec import PARTITION_COLUMN, SourceSpec

__all__ = [
    "LINEAGE_COLUMNS",
    "PARSE_ERROR_COLUMN",
    "PARTITION_COLUMN",
    "SOURCE_FILE_COLUMN",
    "SOURCE_ROW_COLUMN",
    "PartitionFileNotFoundError",
    "SourceError",
    "SourceNotFoundError",
    "SourcePathError",
    "SourceRead",
    "SourceReadError",
    "read_source",
    "read_source_physical",
    "source_files",
]

#: Columns added by the reader, in the order they follow the data columns.
LINEAGE_COLUMNS = (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN, PARSE_ERROR_COLUMN, PARTITION_COLUMN)

FileReader = Callable[[SourceFile, SourceSpec], pd.DataFrame]

_READERS: dict[str, FileReader] = {
    "csv": read_csv_file,
    "json": read_json_file,
    "jsonl": read_jsonl_file,
    "parquet": read_parquet_file,
    "text": read_text_file,
}

# A key goes into a path: no separators, no glob characters, no "." or "..".
_BAD_KEY = re.compile(r"[/\\*?\[\]]|^\.{1,2}$|^$")


def source_files(
    spec: SourceSpec,
    root: str | os.PathLike[str] | UPath,
    pattern: str,
    *,
    name: str,
    partition_key: str | None = None,
    label_prefix: str = "",
) -> list[SourceFile]:
    """The readable units ``pattern`` names under ``root``: files in path order, zip members split.

    ``label_prefix`` goes before each file's path relative to ``root`` in its label (a URL
    source's bucket, so ``_source_file`` holds the object's full URL).
    """
    try:
        paths = expand_source_paths(root, pattern)
    except PathOutsideRootError as error:
        raise SourcePathError(f"source {name!r}: {error}") from None
    except SourceFileNotFoundError as error:
        if partition_key is not None:
            raise PartitionFileNotFoundError(
                f"source {name!r}, partition {partition_key!r}: {error}",
                partition_key=partition_key,
                path=pattern,
            ) from None
        raise SourceNotFoundError(f"source {name!r}: {error}") from None
    base = resolve_root(root)
    units: list[SourceFile] = []
    for path in paths:
        units.extend(
            expand_archives(
                path,
                label_prefix + relative_to_root(base, path),
                infer_compression(path, spec.compression),
            )
        )
    return units


@dataclass(frozen=True)
class SourceRead:
    """A source's frame and, per file read, its reader's physical count (see the module docstring)."""

    frame: pd.DataFrame
    physical: list[PhysicalInput]


def _read_files(
    files: list[SourceFile],
    spec: SourceSpec,
    physical: list[PhysicalInput],
    partition_key: str | None = None,
) -> list[pd.DataFrame]:
    """Each unit read by the format's reader; I/O and decompression failures name the file.

    Each reader's :class:`PhysicalInput` is appended to ``physical`` (with the partition key)
    and removed from the frame here, before concatenation would drop it.
    """
    reader = _READERS[spec.format]
    frames = []
    for file in files:
        try:
            frame = reader(file, spec)
            found = physical_of(frame)
            if found is not None:
                physical.append(replace(found, partition=partition_key))
            frame.attrs.pop(PHYSICAL_ATTR, None)
            frames.append(frame)
        except SourceError:
            raise
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as error:
            hint = ""
            if file.compression != "none":
                hint = (
                    f" (is it really {file.compression}-compressed? set compression: none if not)"
                )
            raise SourceReadError(file.label, f"cannot read: {error}{hint}") from error
    return frames


def _with_partition(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    frame[PARTITION_COLUMN] = pd.Series(
        constant_strings(key, len(frame)).to_pandas().array, index=frame.index
    )
    return frame


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate in order; union of columns; data columns first, then lineage in fixed order."""
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    data = [column for column in combined.columns if column not in LINEAGE_COLUMNS]
    lineage = [column for column in LINEAGE_COLUMNS if column in combined.columns]
    order = data + lineage
    if list(combined.columns) != order:
        combined = combined[order]
    return combined


def read_source(
    spec: SourceSpec,
    root: str | os.PathLike[str] | UPath,
    *,
    name: str,
    partition_keys: Sequence[str] | None = None,
    url_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Read a declared file source under ``root`` into one frame (see the module docstring).

    The same as :func:`read_source_physical` without the physical counts.
    """
    return read_source_physical(
        spec, root, name=name, partition_keys=partition_keys, url_options=url_options
    ).frame


def read_source_physical(
    spec: SourceSpec,
    root: str | os.PathLike[str] | UPath,
    *,
    name: str,
    partition_keys: Sequence[str] | None = None,
    url_options: dict[str, Any] | None = None,
) -> SourceRead:
    """Read a declared file source under ``root``: its frame and each file's physical count.

    ``name`` is the source's name in the pipeline (used in messages). ``partition_keys`` are
    required for a partitioned source (one file per key: ``{partition}`` in the path is
    replaced by the key) and refused otherwise.

    A URL path (``s3://bucket/prefix/*.csv``) is read from that bucket instead of ``root``,
    with the fsspec options ``url_options`` (endpoint, credentials), by default those of
    ``root`` when it is on the same protocol.
    """
    if spec.path is None:
        raise SourceError(
            f"source {name!r} is format {spec.format}, not a file source: read it with its own reader"
        )
    template = spec.path
    label_prefix = ""
    url = split_url(template)
    if url is not None:
        options = url_options
        if options is None and isinstance(root, UPath) and str(root).startswith(url[0].split("://")[0]):
            options = dict(root.storage_options)
        root, template = UPath(url[0], **(options or {})), url[1]
        label_prefix = url[0] + "/"
    if not spec.partitioned:
        if partition_keys is not None:
            raise SourceError(
                f"source {name!r} is not partitioned (path {spec.path!r}); partition_keys must not be given"
            )
        physical: list[PhysicalInput] = []
        files = source_files(spec, root, template, name=name, label_prefix=label_prefix)
        return SourceRead(_combine(_read_files(files, spec, physical)), physical)

    if isinstance(partition_keys, str) or not partition_keys:
        raise SourceError(
            f"source {name!r} is partitioned (path {spec.path!r}): a non-empty list of partition_keys is required"
        )
    frames: list[pd.DataFrame] = []
    physical = []
    for key in partition_keys:
        if _BAD_KEY.search(key):
            raise SourceError(f"source {name!r}: partition key {key!r} cannot be used in a path")
        pattern = template.replace("{partition}", key)
        files = source_files(
            spec, root, pattern, name=name, partition_key=key, label_prefix=label_prefix
        )
        frames.extend(
            _with_partition(frame, key) for frame in _read_files(files, spec, physical, key)
        )
    return SourceRead(_combine(frames), physical)
