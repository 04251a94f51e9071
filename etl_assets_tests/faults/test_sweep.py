"""Which leftovers of killed writers the next write removes (see ``storage.sweep_stale_temps``).

The kill tests show the whole path; these pin the decisions the moto server cannot show (it
reports every multipart upload as started in 2010).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from upath import UPath

from etl_assets.lib.io.formats import ParquetFormat
from etl_assets.lib.io.storage import (
    STALE_TEMP_SECONDS,
    read_table,
    stale_uploads,
    sweep_stale_temps,
    write_table,
)


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


@dataclass(frozen=True)
class _SweepingParquet(ParquetFormat):
    """Parquet whose writer sweeps its own folder half-way, as another run's write would."""

    def write_file(self, table: pa.Table, local_file: str) -> None:
        super().write_file(table, local_file)
        folder = UPath(os.path.dirname(local_file))
        assert sweep_stale_temps(folder) == 0  # our file is locked: a live writer's
        assert sweep_stale_temps(folder, older_than_s=0) == 0  # however old it looks
        assert os.path.exists(local_file)


def test_a_sweep_during_a_write_keeps_the_writers_files(tmp_path: Path) -> None:
    path = UPath(tmp_path) / "t.parquet"
    write_table(_SweepingParquet(), pa.table({"a": [1, 2, 3]}), path)
    assert read_table(ParquetFormat(), path)["a"].to_pylist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
