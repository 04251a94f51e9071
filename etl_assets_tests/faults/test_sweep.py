"""Which leftovers of killed writers the next write removes (see ``storage.sweep_stale_temps``).

The kill tests show the whole path; these pin the decisions the moto server cannot show (it
reports every multipart upload as started in 2010).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from etl_assets.lib.io.storage import STALE_TEMP_SECONDS, stale_uploads


def _upload(key: str, age_s: float) -> dict:
    return {
        "Key": key,
        "UploadId": key,
        "Initiated": datetime.now(UTC) - timedelta(seconds=age_s),
    }


def test_only_old_uploads_of_the_folder_itself_are_stale() -> None:
    prefix = "warehouse/p/raw/events/"
    uploads = [
        _upload(prefix + "2024-01-01.parquet", STALE_TEMP_SECONDS + 60),  # a dead writer's
        _upload(prefix + "2024-01-02.parquet", 5),  # maybe a live writer's: kept
        _upload(prefix + "eu/2024-01-01.parquet", STALE_TEMP_SECONDS + 60),  # another folder
        _upload("warehouse/p/raw/events.parquet", STALE_TEMP_SECONDS + 60),  # not under it
    ]
    cutoff = time.time() - STALE_TEMP_SECONDS
    assert [u["Key"] for u in stale_uploads(uploads, prefix, cutoff)] == [
        prefix + "2024-01-01.parquet"
    ]
