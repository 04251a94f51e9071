"""A pipeline run in its own process, so a test can SIGKILL it mid-write.

Loads the code location exactly as a deployment does (``etl_assets.definitions``, configured by
the ``ETL_ASSETS_*`` environment) and materializes one asset partition on the instance in
``DAGSTER_HOME``, in process (the writer is this process: killing its PID kills the write).

Usage: ``python -m etl_assets_tests.faults.run_pipeline <asset key> <partition key>``

``ETL_ASSETS_FAULTS_S3_PART_BYTES`` (tests only) lowers s3fs's multipart part size, so a file
of a few MiB is uploaded in several parts like a table over 100 MiB is in production (s3fs
uses one PUT below twice its 50 MiB part size); the test can then watch the upload in progress.
"""

from __future__ import annotations

import os
import sys


def _lower_multipart_threshold(part_bytes: int) -> None:
    import s3fs.core

    original = s3fs.core.calculate_chunksize

    def calculate_chunksize(filesize: int, chunksize: int | None = None, **kwargs: object) -> int:
        return original(filesize, chunksize=chunksize or part_bytes, **kwargs)  # type: ignore[arg-type]

    s3fs.core.calculate_chunksize = calculate_chunksize


def main(asset_key: str, partition_key: str) -> int:
    part_bytes = os.environ.get("ETL_ASSETS_FAULTS_S3_PART_BYTES")
    if part_bytes:
        _lower_multipart_threshold(int(part_bytes))
    from dagster import AssetKey, DagsterInstance

    from etl_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            asset_selection=[AssetKey.from_user_string(asset_key)],
            raise_on_error=False,
        )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
