"""Span, attribute and metric names of etl_assets' telemetry (no OpenTelemetry import here).

Names follow OpenTelemetry's conventions: span names are ``<operation> <target>`` of low
cardinality (the asset key or source name, never a partition), attributes are namespaced by the
library (``etl_assets.*``) and by Dagster for Dagster's own identifiers (``dagster.*``), and
counters are monotonic sums in ``{row}``.
"""

from __future__ import annotations

#: Tracer and meter name (the instrumentation scope).
SCOPE = "etl_assets"

# ------------------------------------------------------------------ span names (prefix + target)
STEP_SPAN = "materialize"  # "materialize shop/clean/orders": one per asset step
SOURCE_SPAN = "read source"  # "read source orders": one per source read
WRITE_SPAN = "write"  # "write shop/clean/orders": one per output stored by an IO manager
LOAD_SPAN = "load"  # "load shop/raw/orders": one per input loaded by an IO manager

# ------------------------------------------------------------------ attributes
PIPELINE = "etl_assets.pipeline"
LAYER = "etl_assets.layer"
ASSET_KEY = "etl_assets.asset_key"
SOURCE = "etl_assets.source"
FORMAT = "etl_assets.format"
STORAGE_URI = "etl_assets.storage.uri"
ROWS = "etl_assets.rows"
BYTES = "etl_assets.bytes"
FILES = "etl_assets.files"
PARTITION_KEY = "etl_assets.partition.key"
PARTITION_RANGE = "etl_assets.partition.range"
PARTITION_COUNT = "etl_assets.partition.count"
ROWS_IN = "etl_assets.rows_in"
ROWS_OUT = "etl_assets.rows_out"
ROWS_REJECTED = "etl_assets.rows_rejected"
ROWS_DEDUPLICATED = "etl_assets.rows_deduplicated"
ROWS_DROPPED = "etl_assets.rows_dropped"
RUN_ID = "dagster.run_id"
STEP_KEY = "dagster.step_key"

# ------------------------------------------------------------------ counters (unit {row})
#: counter name -> (step attribute it mirrors, description)
COUNTERS: dict[str, tuple[str, str]] = {
    "etl_assets.rows.in": (ROWS_IN, "Rows that entered an asset step (read or loaded)."),
    "etl_assets.rows.out": (ROWS_OUT, "Rows an asset step produced (stored in its main output)."),
    "etl_assets.rows.rejected": (ROWS_REJECTED, "Rows moved to a rejected table."),
    "etl_assets.rows.deduplicated": (
        ROWS_DEDUPLICATED,
        "Duplicate rows removed (and counted) by dedup.",
    ),
    "etl_assets.rows.dropped": (ROWS_DROPPED, "Rows dropped by a declared null policy."),
}
#: Attributes carried by every counter point (bounded: no partition, no run id).
COUNTER_ATTRIBUTES = (PIPELINE, LAYER, ASSET_KEY)
