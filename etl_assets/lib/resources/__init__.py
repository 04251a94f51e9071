"""Dagster resources shared by the generated assets and users' own assets."""

from etl_assets.lib.resources.s3 import S3Config, is_s3_url, s3_storage_options, storage_path
from etl_assets.lib.resources.source_files import SourceFiles

__all__ = ["S3Config", "SourceFiles", "is_s3_url", "s3_storage_options", "storage_path"]
