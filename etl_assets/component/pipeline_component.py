"""``etl_assets.PipelineComponent``: a pipeline spec as a Dagster Component.

Any ``dg`` project adopts a pipeline with a ``defs.yaml``::

    type: etl_assets.PipelineComponent
    attributes:
      spec: pipeline.yaml          # a spec file (or a folder of them) beside this defs.yaml

or with the spec inline under ``attributes.pipeline``. It yields exactly what the repo's own code
location yields for that spec (the repo loads ``pipelines/`` through this class too): assets
``[pipeline, layer, table]``, their checks, the pipeline's job, schedule and landing sensors,
and the shared resources (IO managers, source files, HTTP client, embedding model, PostgreSQL
when configured). Dagster's own ``post_processing`` block of ``defs.yaml`` changes the
generated assets' attributes (group, tags, automation condition) without code.
"""

# No `from __future__ import annotations`: Resolvable reads the dataclass fields' real types.
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dagster import Definitions
from dagster.components import Component, ComponentLoadContext, Resolvable, scaffold_with

from etl_assets.component.scaffolder import PipelineComponentScaffolder
from etl_assets.component.settings import StorageSettings, storage_settings
from etl_assets.component.shared import shared_definitions
from etl_assets.lib.spec import PipelineSpec, SpecError, SpecIssue, load_specs, parse_spec


def inline_spec(pipeline: dict[str, Any], defs_file: Path) -> PipelineSpec:
    """Validate a spec written inline in ``defs.yaml``; problems name ``pipeline.<field>``."""
    try:
        return parse_spec(yaml.safe_dump(pipeline, sort_keys=False), file=defs_file)
    except SpecError as exc:  # lines of the re-dumped text would mislead: name the field only
        raise SpecError(
            [
                SpecIssue(defs_file, None, f"attributes.pipeline.{i.field}".rstrip("."), i.message)
                for i in exc.issues
            ]
        ) from None


def pipeline_definitions(specs: Sequence[PipelineSpec], settings: StorageSettings) -> Definitions:
    """Assets, checks, jobs, schedules and sensors of ``specs`` plus the shared resources."""
    from etl_assets.factory import (
        build_pipeline_definitions,
        is_shared_storage,
        location_executor_spec,
        uses_postgres,
    )
    from etl_assets.factory.network import NETWORK_RETRY_POLICY

    if settings.postgres_host is None:
        needing = [spec.pipeline for spec in specs if uses_postgres(spec)]
        if needing:
            raise ValueError(
                f"pipeline(s) {', '.join(needing)} use PostgreSQL (storage or source 'postgres') but "
                "no PostgreSQL is configured: set ETL_ASSETS_POSTGRES_HOST (see README 'PostgreSQL')"
            )
    remote = any("://" in str(root) for root in (settings.data_root, settings.warehouse))
    shared = is_shared_storage(settings.data_root, settings.warehouse)
    # Steps that talk to a server (object store or database) retry transient failures.
    per_pipeline = [
        build_pipeline_definitions(spec, NETWORK_RETRY_POLICY, remote or uses_postgres(spec), shared)
        for spec in specs
    ]
    return Definitions.merge(*per_pipeline, shared_definitions(settings, location_executor_spec(specs)))


@scaffold_with(PipelineComponentScaffolder)
@dataclass
class PipelineComponent(Component, Resolvable):
    """Dagster assets, checks, job, schedule and sensors from an etl_assets pipeline spec.

    ``dg scaffold defs etl_assets.PipelineComponent shop`` writes ``defs.yaml``, a starter
    ``pipeline.yaml`` beside it and a sample CSV under the project's ``data/`` folder.

    Attributes:
        spec: path of a pipeline spec file, or of a folder of ``*.yaml`` specs, relative to the
            folder of this ``defs.yaml`` (an absolute path is taken as is).
        pipeline: the spec inline, instead of ``spec``.
        data_root: root that source paths are relative to; relative to the project root.
            Default: ``$ETL_ASSETS_DATA_ROOT``, else ``data/`` of the project.
        warehouse: where tables are stored. Default: ``$ETL_ASSETS_WAREHOUSE``, else
            ``<data_root>/warehouse``. Either may be an ``s3://bucket/prefix`` URL.

    Components of one project share their resources (IO managers by key), so they must agree
    on ``data_root`` and ``warehouse``.
    """

    spec: str | None = None
    pipeline: dict[str, Any] | None = None
    data_root: str | None = None
    warehouse: str | None = None

    def specs(self, context: ComponentLoadContext) -> list[PipelineSpec]:
        defs_file = context.path / "defs.yaml"
        if (self.spec is None) == (self.pipeline is None):
            raise SpecError(
                [
                    SpecIssue(
                        defs_file,
                        None,
                        "attributes",
                        "give either 'spec' (a file) or 'pipeline' (inline), not both",
                    )
                ]
            )
        if self.pipeline is not None:
            return [inline_spec(self.pipeline, defs_file)]
        return load_specs([context.path / Path(self.spec or "").expanduser()])

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        settings = storage_settings(context.project_root, self.data_root, self.warehouse)
        return pipeline_definitions(self.specs(context), settings)
