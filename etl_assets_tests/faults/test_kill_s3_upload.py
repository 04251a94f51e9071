"""SIGKILL a run while it uploads a Parquet table to S3 (moto server), mid multipart upload.

s3fs sends a file under 100 MiB with one PUT (which S3 applies whole or not at all) and a
larger one as a multipart upload; the run here lowers the part size to 1 MiB so its 5 MB file
takes the multipart path (S3 refuses parts under 5 MiB only when an upload is completed, and
this one never is). The moto server stores part 1 and holds the
others (``gated_s3``), and the run is killed once part 1 is stored and a part is held: mid
upload for certain, with the completion never sent.
The previous object must stay intact and readable, no partial object may appear, and a rerun
must store exactly the new rows in one object. The killed run's open upload (invisible to
readers, but its parts are stored) and its local staging folder are removed by the rerun.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from etl_assets_tests.faults.gated_s3 import PartGate, gated_s3_server
from etl_assets_tests.faults.harness import (
    BIG_ROWS,
    DAY,
    SMALL_ROWS,
    WAIT_SECONDS,
    Workspace,
    kill_when,
    land_events,
)
from etl_assets_tests.servers.s3 import S3Bucket

PART_BYTES = 2**20


@pytest.fixture
def gate() -> PartGate:
    return PartGate(timeout_s=WAIT_SECONDS)


@pytest.fixture
def gated_bucket(gate: PartGate) -> Iterator[S3Bucket]:
    with gated_s3_server(gate) as server:
        name = f"test-{uuid.uuid4().hex[:16]}"
        server.client().create_bucket(Bucket=name)
        yield S3Bucket(server, name)


def test_kill_during_multipart_upload_keeps_previous_object(
    tmp_path: Path, gated_bucket: S3Bucket, gate: PartGate, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_bucket = gated_bucket
    workspace = Workspace(
        tmp_path,
        storage="parquet",
        warehouse=f"{s3_bucket.url}/warehouse",
        s3=s3_bucket.server.config(),
        extra_env={"ETL_ASSETS_FAULTS_S3_PART_BYTES": str(PART_BYTES)},
    )
    client = s3_bucket.server.client()
    key = f"warehouse/faults/raw/events/{DAY}.parquet"

    def digests() -> dict[str, str]:
        return {
            k: hashlib.sha256(
                client.get_object(Bucket=s3_bucket.name, Key=k)["Body"].read()
            ).hexdigest()
            for k in s3_bucket.keys()  # noqa: SIM118 (a listing, not a dict)
        }

    land_events(workspace.data_root, DAY, SMALL_ROWS, seed=1)
    workspace.materialize()
    before = workspace.load()
    objects_before = digests()
    assert list(objects_before) == [key]

    land_events(workspace.data_root, DAY, BIG_ROWS, seed=2)
    run = workspace.start_run()

    def uploading() -> list[dict]:
        uploads = client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", [])
        for upload in uploads:
            parts = client.list_parts(
                Bucket=s3_bucket.name, Key=upload["Key"], UploadId=upload["UploadId"]
            ).get("Parts", [])
            if parts and gate.held:
                return [upload]
        return []

    killed_upload = kill_when(
        run, uploading, "a multipart upload with part 1 stored and a part held"
    )[0]
    assert run.process.returncode == -9
    gate.open()  # the held parts are answered 503 (their client is gone); later ones pass
    assert killed_upload["Key"] == key

    # no partial object, no temporary object: the previous object, byte for byte and frame
    # for frame
    assert digests() == objects_before
    pd.testing.assert_frame_equal(workspace.load(), before)

    staging = tmp_path / "tmp"  # the killed run's TMPDIR: its staged file is still there
    staged = [p.name for p in staging.glob("etl_assets_io_*/*")]
    assert len(staged) == 1, staged
    assert re.match(rf"^\.{DAY}\.parquet\.[0-9a-f]{{12}}\.locked\.tmp$", staged[0]), staged

    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # the rerun on the same machine
    workspace.materialize()
    after = workspace.load()
    assert len(after) == BIG_ROWS
    assert after["event_id"].is_unique
    assert sorted(after["event_id"].astype("int64")) == list(
        range(20_000_000, 20_000_000 + BIG_ROWS)
    )
    assert s3_bucket.keys() == [key]  # one copy
    assert not list(staging.glob("etl_assets_io_*"))  # the dead writer's staging folder is gone
    # the killed upload was aborted by the rerun's sweep: moto reports every upload as started
    # in 2010, so it is past the one-hour cutoff (on S3 a young one, maybe a live writer's,
    # is kept until then; see test_sweep.py)
    assert not client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", [])
    print(
        f"\ns3 parquet: rows before {len(before)}, killed during upload {killed_upload['UploadId'][:12]}, "
        f"rows after rerun {len(after)}, distinct event_id {after['event_id'].nunique()}, "
        f"objects {len(s3_bucket.keys())}"
    )
