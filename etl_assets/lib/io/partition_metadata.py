"""Per-partition metadata for range runs, shared by every IO manager.

Dagster copies one output's metadata to every partition event of a single-run backfill; the
partition-scoped asset metadata written here overrides that for the keys given, so each
partition's event shows its own figures.
"""

from __future__ import annotations

from dagster import OutputContext


def record_rows_per_partition(context: OutputContext, rows: dict[str, int]) -> None:
    """Give each partition's materialization event its own row count in a range run.

    Only possible inside a real step; an OutputContext built by hand for a unit test has no
    step context, and then the run-level metadata is all there is.
    """
    step_context = getattr(context, "_step_context", None)
    if step_context is None or not context.has_asset_key:
        return
    for key, count in rows.items():
        step_context.add_asset_metadata(
            {"dagster/row_count": count, "partition_rows": count},
            asset_key=context.asset_key,
            partition_key=key,
        )
