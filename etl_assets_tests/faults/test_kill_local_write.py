"""SIGKILL a run while it writes a table file locally (Parquet, CSV, JSON Lines).

The previous version must stay intact and be what readers get; the half-written temporary file
must be invisible to readers and listings and removed by the next write; the rerun must store
exactly the new rows, once.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from etl_assets_tests.faults.harness import (
    BIG_ROWS,
    DAY,
    SMALL_ROWS,
    Workspace,
    kill_when,
    land_events,
)

EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("storage", sorted(EXTENSIONS))
def test_kill_during_file_write_keeps_previous_and_rerun_stores_one_copy(
    tmp_path: Path, storage: str
) -> None:
    workspace = Workspace(tmp_path, storage=storage)
    folder = Path(workspace.warehouse_root) / "faults" / "raw" / "events"
    data_name = DAY + EXTENSIONS[storage]
    temp_of_data = re.compile(rf"^\.{re.escape(data_name)}\.[0-9a-f]{{12}}\.locked\.tmp$")

    land_events(workspace.data_root, DAY, SMALL_ROWS, seed=1)
    workspace.materialize()
    before = workspace.load()
    files_before = _digests(folder)
    assert len(before) == SMALL_ROWS

    land_events(workspace.data_root, DAY, BIG_ROWS, seed=2)
    run = workspace.start_run()

    def writing() -> list[str]:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if temp_of_data.match(e.name) and e.stat().st_size > 0]

    partial = kill_when(run, writing, f"a partly written temporary {data_name}")
    assert run.process.returncode == -9

    # the kill left the half-written temporary file: proof it came mid-write
    leftovers = sorted(p.name for p in folder.iterdir() if p.name not in files_before)
    assert partial[0] in leftovers, leftovers
    # readers and listings see exactly the previous version, byte for byte and frame for frame
    assert _visible(folder) == sorted(files_before)
    assert {n: d for n, d in _digests(folder).items() if n in files_before} == files_before
    pd.testing.assert_frame_equal(workspace.load(), before)

    workspace.materialize()
    after = workspace.load()
    assert len(after) == BIG_ROWS
    assert after["event_id"].is_unique
    assert sorted(after["event_id"].astype("int64")) == list(
        range(20_000_000, 20_000_000 + BIG_ROWS)
    )
    # one copy: the same files as before (data + sidecar); the killed run's temporary files
    # were removed by the rerun (nobody held their lock any more)
    assert sorted(p.name for p in folder.iterdir()) == sorted(files_before)
    print(
        f"\n{storage}: rows before {len(before)}, killed mid-write with {leftovers} left, "
        f"rows after rerun {len(after)}, distinct event_id {after['event_id'].nunique()}, "
        f"data files {len([n for n in _visible(folder) if n == data_name])}"
    )
