"""Where file sources are read from.

A resource (not a module-level constant) so that the root is chosen by resource config:
a local folder in development, ``s3://bucket/prefix`` in production, a temporary folder in tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field
from upath import UPath

from etl_assets.lib.paths import expand_source_paths, resolve_under
from etl_assets.lib.sources import read_source
from etl_assets.lib.spec import SourceSpec


class SourceFiles(ConfigurableResource):
    """Reads declared file sources under one root folder; paths outside the root are refused."""

    root: str = Field(description="Folder (or s3://bucket/prefix) that source paths are relative to.")

    def read(self, spec: SourceSpec, *, name: str, partition_keys: Sequence[str] | None = None) -> pd.DataFrame:
        return read_source(spec, self.root, name=name, partition_keys=partition_keys)

    def resolve(self, relative: str) -> UPath:
        return resolve_under(self.root, relative)

    def expand(self, pattern: str) -> list[UPath]:
        return expand_source_paths(self.root, pattern)
