"""Export assets: ``exports:`` entries of a spec -> ``<pipeline>/export/<name>``.
# No `from __future__ import annotations` here: Dagster reads these annotations at definition time.

Each export asset reads a clean table or an aggregate and POSTs its rows to an ingestion API
with :func:`etl_assets.lib.exports.post_rows`. It stores nothing itself (its materialization is
the record of what was delivered: batches sent, duplicates, failures). A partitioned table is
sent one partition at a time, each with its own idempotency namespace (asset key + partition),
so rerunning a partition alone or inside a range sends the same batch keys.

Failed batches fail the step after every batch was tried. When every failure was transient the
step's ``RetryPolicy`` may rerun it (the delivered batches are deduplicated by their keys);
otherwise it fails with ``Failure(allow_retries=False)``.
"""

import time
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    RetryPolicy,
    asset,
)

from etl_assets.factory.attempt_counters import add_attempt_counts
from etl_assets.factory.keys import agg_key, clean_key, export_key
from etl_assets.factory.network import NETWORK_RETRY_POLICY, classified_errors
from etl_assets.factory.partitions import partitioning
from etl_assets.lib.exports import LoadReport, post_rows
from etl_assets.lib.resources.http import HttpClientResource
from etl_assets.lib.sources.http.source import auth_headers, client_for
from etl_assets.lib.spec import PARTITION_COLUMN, PipelineSpec
from etl_assets.lib.spec.models import HttpSourceOptions
from etl_assets.lib.telemetry import record_rows, traced_step


def _upstream(spec: PipelineSpec, name: str) -> tuple[Any, bool]:
    export = spec.exports[name]
    if export.layer == "clean":
        return clean_key(spec.pipeline, export.table), spec.is_clean_partitioned(export.table)
    return agg_key(spec.pipeline, export.table), spec.aggregates[export.table].partitioned


def build_export_asset(
    spec: PipelineSpec,
    name: str,
    partitions_def: PartitionsDefinition | None,
    retry_policy: RetryPolicy | None = NETWORK_RETRY_POLICY,
) -> AssetsDefinition:
    export = spec.exports[name]
    options = export.http
    upstream, partitioned = _upstream(spec, name)
    key = export_key(spec.pipeline, name)
    # the source machinery's retry/rate-limit options, reused as they are
    limits = HttpSourceOptions(url=options.url, retry=options.retry, rate_limit=options.rate_limit)

    @asset(
        key=key,
        group_name=spec.pipeline,
        description=export.description
        or f"Rows of {export.source} POSTed to {options.url} in batches of {options.batch_size}.",
        ins={"table": AssetIn(key=upstream)},
        kinds={"pandas", "http"},
        metadata={"export_url": options.url, "batch_size": options.batch_size},
        retry_policy=retry_policy,
        **partitioning(partitioned, partitions_def),
    )
    @traced_step(spec.pipeline, "export", key)
    def export_asset(
        context: AssetExecutionContext, table: pd.DataFrame, http_client: HttpClientResource
    ) -> MaterializeResult:
        started = time.perf_counter()
        client = client_for(limits, http_client.get_client().configured(fresh_stats=True))
        client.log = context.log
        with classified_errors(f"export {name!r}"):
            auth = auth_headers(options.auth, name=name)
        parts = (
            list(table.groupby(PARTITION_COLUMN, sort=True, observed=True))
            if partitioned and PARTITION_COLUMN in table
            else [(None, table)]
        )
        report = LoadReport(url=options.url)
        for partition, rows in parts:
            rows = rows.drop(columns=[PARTITION_COLUMN], errors="ignore")
            namespace = key.to_user_string() + (f"@{partition}" if partition is not None else "")
            part_report = post_rows(
                rows,
                options.url,
                client,
                batch_size=options.batch_size,
                namespace=namespace,
                headers=options.headers,
                auth=auth,
                records_field=options.records_field,
                duplicate_statuses=tuple(options.duplicate_statuses),
            )
            report.batches.extend(part_report.batches)
        record_rows(rows_in=len(table), rows_out=report.rows_delivered)
        metadata: dict[str, Any] = {
            **report.as_metadata(),
            # summed over the step's attempts (a retried export resends every batch)
            **add_attempt_counts(context, "http", client.stats.as_metadata()),
            "step_attempts": context.retry_number + 1,
            "duration_s": MetadataValue.float(round(time.perf_counter() - started, 4)),
        }
        if report.failed:
            metadata["failed_batches"] = MetadataValue.json(
                [
                    {
                        "batch": b.index,
                        "first_row": b.first_row,
                        "rows": b.rows,
                        "status": b.http_status,
                        "error": b.error,
                    }
                    for b in report.failed[:20]
                ]
            )
            transient = all(b.transient for b in report.failed)
            raise Failure(
                description=(
                    f"export {name!r}: {len(report.failed)} of {len(report.batches)} batch(es) failed "
                    f"({report.rows_failed} rows); {report.failure_summary()}"
                    + ("" if transient else " (terminal: not retried)")
                ),
                metadata=metadata,
                allow_retries=transient,
            )
        return MaterializeResult(metadata=metadata)

    return export_asset


__all__ = ["build_export_asset"]
