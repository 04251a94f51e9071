"""Two runs, each its own process, writing the same PostgreSQL table at the same time.

The test holds the ledger row(s) of the partition(s) locked, so both runs get through their
DELETE and COPY and then wait in their transactions; once both wait, it lets go. That makes
the overlap certain instead of likely: different partitions must not mix, and the same
partition written twice at once must end with exactly one copy (the later run's).
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from etl_assets.lib.resources.postgres import PostgresResource
from etl_assets_tests.faults.harness import WAIT_SECONDS, Run, Workspace, land_events

pytestmark = pytest.mark.xdist_group("postgres")

DAY1, DAY2 = "2024-01-01", "2024-01-02"
TABLE = "faults.raw_events"
LEDGER = "faults._etl_partitions"
OLD_ROWS, NEW_ROWS = 1_000, 30_000


def _slices(pg: PostgresResource) -> dict[str, tuple[int, int, list[str]]]:
    """partition -> (rows, distinct event_id, run ids)"""
    with pg.connection() as conn:
        rows = conn.execute(
            f"SELECT _partition, count(*), count(DISTINCT event_id), "
            f"array_agg(DISTINCT _run_id) FROM {TABLE} GROUP BY 1"
        ).fetchall()
    return {key: (count, distinct, sorted(runs)) for key, count, distinct, runs in rows}


def _ledger(pg: PostgresResource) -> dict[str, int]:
    with pg.connection() as conn:
        rows = conn.execute(f"SELECT partition_key, rows FROM {LEDGER}").fetchall()
    return dict(rows)


def _wait_for_waiters(pg: PostgresResource, runs: list[Run], gate_pid: int) -> list[list[int]]:
    """Until every run's session waits for a lock (in its transaction, past DELETE and COPY,
    or queued behind the other run); returns who blocks each waiting session."""
    deadline = time.monotonic() + WAIT_SECONDS
    with psycopg.connect(**pg.connect_kwargs(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            blockers = [
                list(row[0])
                for row in conn.execute(
                    "SELECT pg_blocking_pids(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()"
                )
            ]
            # a run may wait a moment on the other's short locks (table setup) before it
            # reaches the gate: done when every run waits, or one waits for the gate and the
            # rest for runs that wait for it
            if len(blockers) >= len(runs) and any(gate_pid in pids for pids in blockers):
                return blockers
            ended = [r for r in runs if r.process.poll() is not None]
            if ended:
                raise AssertionError(f"a run ended before both waited:\n{ended[0].output()}")
            time.sleep(0.02)
    raise AssertionError(f"fewer than {len(runs)} runs waiting after {WAIT_SECONDS} s")


def _overlapping_runs(workspace: Workspace, pg: PostgresResource, days: list[str]) -> int:
    """Start one run per day, hold them (ledger rows locked) until both are mid-transaction,
    release, and require both to succeed; returns how many runs waited for the gate itself
    (the others waited for a run)."""
    gate = psycopg.connect(**pg.connect_kwargs())
    runs: list[Run] = []
    try:
        gate.execute(
            f"SELECT 1 FROM {LEDGER} WHERE partition_key = ANY(%s) FOR UPDATE", (sorted(set(days)),)
        )
        runs += [workspace.start_run(day, name=f"run{i}") for i, day in enumerate(days)]
        try:
            blockers = _wait_for_waiters(pg, runs, gate.info.backend_pid)
        finally:
            gate.rollback()
        for run in runs:
            assert run.wait() == 0, run.output()
        return sum(gate.info.backend_pid in pids for pids in blockers)
    finally:
        gate.close()
        for run in runs:
            run.kill()


def test_concurrent_runs_on_different_partitions_do_not_mix(
    tmp_path: Path, pg: PostgresResource
) -> None:
    workspace = Workspace(tmp_path, storage="postgres", postgres=pg)
    for day, seed in ((DAY1, 1), (DAY2, 2)):
        land_events(workspace.data_root, day, OLD_ROWS, seed=seed)
        workspace.materialize(day)
    before = _slices(pg)
    assert {k: v[:2] for k, v in before.items()} == {
        DAY1: (OLD_ROWS, OLD_ROWS),
        DAY2: (OLD_ROWS, OLD_ROWS),
    }
    one = land_events(workspace.data_root, DAY1, NEW_ROWS, seed=3)
    two = land_events(workspace.data_root, DAY2, NEW_ROWS // 2, seed=4)

    # both transactions were open at once, neither waiting for the other
    assert _overlapping_runs(workspace, pg, [DAY1, DAY2]) == 2

    after = _slices(pg)
    assert {k: v[:2] for k, v in after.items()} == {
        DAY1: (NEW_ROWS, NEW_ROWS),
        DAY2: (NEW_ROWS // 2, NEW_ROWS // 2),
    }
    # each partition holds its own run's rows only, and the runs differ
    assert len(after[DAY1][2]) == len(after[DAY2][2]) == 1 and after[DAY1][2] != after[DAY2][2]
    with pg.connection() as conn:
        ids = dict(
            conn.execute(
                f"SELECT _partition, array_agg(event_id) FROM {TABLE} GROUP BY 1"
            ).fetchall()
        )
    assert sorted(int(i) for i in ids[DAY1]) == sorted(one["event_id"].to_pylist())
    assert sorted(int(i) for i in ids[DAY2]) == sorted(two["event_id"].to_pylist())
    assert _ledger(pg) == {DAY1: NEW_ROWS, DAY2: NEW_ROWS // 2}
    print(f"\npostgres, different partitions: before {before}, after {after}")


def test_same_partition_written_by_two_runs_at_once_ends_with_one_copy(
    tmp_path: Path, pg: PostgresResource
) -> None:
    workspace = Workspace(tmp_path, storage="postgres", postgres=pg)
    land_events(workspace.data_root, DAY1, OLD_ROWS, seed=1)
    workspace.materialize(DAY1)
    before = _slices(pg)
    assert before[DAY1][:2] == (OLD_ROWS, OLD_ROWS)
    landed = land_events(workspace.data_root, DAY1, NEW_ROWS, seed=3)

    # the second run waited for the first (its partition lock) before touching the rows
    assert _overlapping_runs(workspace, pg, [DAY1, DAY1]) == 1

    after = _slices(pg)
    # one copy: every event once, from one run (the one that committed last)
    assert after == {DAY1: (NEW_ROWS, NEW_ROWS, after[DAY1][2])}
    assert len(after[DAY1][2]) == 1 and after[DAY1][2] != before[DAY1][2]
    with pg.connection() as conn:
        stored = sorted(int(r[0]) for r in conn.execute(f"SELECT event_id FROM {TABLE}"))
    assert stored == sorted(landed["event_id"].to_pylist())
    assert _ledger(pg) == {DAY1: NEW_ROWS}
    print(f"\npostgres, same partition twice at once: before {before}, after {after}")
