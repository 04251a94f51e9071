"""Dagster resources shared by the generated assets and users' own assets."""

from etl_assets.lib.resources.source_files import SourceFiles

__all__ = ["SourceFiles"]
