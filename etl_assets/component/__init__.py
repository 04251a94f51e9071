"""etl_assets as a Dagster Component: ``etl_assets.PipelineComponent`` (see its docstring)."""

from etl_assets.component.pipeline_component import PipelineComponent, pipeline_definitions
from etl_assets.component.scaffolder import PipelineComponentScaffolder

__all__ = ["PipelineComponent", "PipelineComponentScaffolder", "pipeline_definitions"]
