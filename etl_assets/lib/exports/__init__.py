"""Exports: an asset's rows sent to another system (an HTTP ingestion API)."""

from etl_assets.lib.exports.http import BatchResult, ExportError, LoadReport, batch_key, post_rows

__all__ = ["BatchResult", "ExportError", "LoadReport", "batch_key", "post_rows"]
