"""Where file sources are read from.

A resource (not a module-level constant) so that the root is chosen by resource config:
a local folder in development, ``s3://bucket/prefix`` in production, a temporary folder in tests.
A source whose path is itself a URL (``s3://bucket/prefix/*.csv``) is read from there, with the
same ``s3`` settings (endpoint, region, credentials).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field
from upath import UPath

from etl_assets.lib.paths import expand_source_paths, is_local, resolve_under, split_url
from etl_assets.lib.remote_errors import classified_storage_errors
from etl_assets.lib.resources.s3 import S3Config, s3_storage_options, storage_path
from etl_assets.lib.sources import SourceRead, read_source_physical
from etl_assets.lib.sources.errors import SourceError
from etl_assets.lib.spec import SourceSpec
from etl_assets.lib.telemetry import source_read


class SourceFiles(ConfigurableResource):
    """Reads declared file sources under one root folder; paths outside the root are refused."""

    root: str = Field(description="Folder (or s3://bucket/prefix) that source paths are relative to.")
    s3: S3Config | None = Field(
        default=None,
        description="Endpoint, region and credentials for s3:// roots and s3:// source paths.",
    )

    def root_path(self) -> UPath:
        return storage_path(self.root, self.s3)

    def read(self, spec: SourceSpec, *, name: str, partition_keys: Sequence[str] | None = None) -> pd.DataFrame:
        """The source's rows (see :meth:`read_physical`)."""
        return self.read_physical(spec, name=name, partition_keys=partition_keys).frame

    def read_physical(
        self, spec: SourceSpec, *, name: str, partition_keys: Sequence[str] | None = None
    ) -> SourceRead:
        """The frame and each file's physical count (for the conservation checks).

        On an object store, failures name the endpoint, the object and the cause, and those no
        retry can fix (access denied, a refused connection) are ``Failure(allow_retries=False)``
        (see ``lib/remote_errors.py``)."""
        location = self._shown_location(spec)
        with source_read(name, spec.format, lambda: location, partition_keys) as traced:
            read = self._read_classified(spec, name, partition_keys, location)
            traced(rows=len(read.frame), bytes=sum(p.bytes for p in read.physical), files=len(read.physical))
            return read

    def _read_classified(
        self, spec: SourceSpec, name: str, partition_keys: Sequence[str] | None, location: UPath
    ) -> SourceRead:
        if is_local(location):
            return self._read(spec, name, partition_keys)
        with classified_storage_errors(
            f"reading source {name!r}",
            location,
            terminal=(PermissionError, FileNotFoundError),
            passthrough=(SourceError,),
        ):
            return self._read(spec, name, partition_keys)

    def _read(self, spec: SourceSpec, name: str, partition_keys: Sequence[str] | None) -> SourceRead:
        return read_source_physical(
            spec,
            self.root_path(),
            name=name,
            partition_keys=partition_keys,
            url_options=s3_storage_options(self.s3),
        )

    def _shown_location(self, spec: SourceSpec) -> UPath:
        """Where the source's files are, for messages (its path, template or glob as written)."""
        if spec.path is None:
            return self.root_path()
        root, relative, _ = self.locate(spec.path)
        return UPath(str(root).rstrip("/") + "/" + relative, **root.storage_options) if relative else root

    def resolve(self, relative: str) -> UPath:
        return resolve_under(self.root_path(), relative)

    def expand(self, pattern: str) -> list[UPath]:
        return expand_source_paths(self.root_path(), pattern)

    def locate(self, path: str) -> tuple[UPath, str, str]:
        """Where a source path is listed: (root, path under it, label prefix).

        A relative path lives under this resource's root (labels relative to it); a URL path
        under its bucket, labelled with the full URL.
        """
        url = split_url(path)
        if url is None:
            return self.root_path(), path, ""
        return storage_path(url[0], self.s3), url[1], url[0] + "/"
