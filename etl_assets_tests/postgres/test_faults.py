"""Faults that must lose nothing: server restart mid-load, a write raising halfway, concurrent
runs on different partitions; and which errors are worth a retry."""

from __future__ import annotations

import threading

import pandas as pd
import psycopg
import pytest
from dagster import DailyPartitionsDefinition, RetryPolicy, asset, materialize

from etl_assets.lib.io.convert import frame_to_table
from etl_assets.lib.io.postgres import (
    PostgresIOManager,
    RetryablePostgresError,
    TableName,
    is_retryable,
    raise_classified,
    read_table,
    replace_table,
    write_partitions,
)
from etl_assets.lib.io.postgres import writer as writer_module
from etl_assets.lib.resources.postgres import PostgresConnectionError, PostgresResource
from etl_assets_tests.postgres.frames import mixed_frame
from etl_assets_tests.servers.postgres import free_port

pytestmark = pytest.mark.xdist_group("postgres")

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def _counts(pg, table: str) -> dict[str, tuple[int, str]]:
    with pg.connection() as conn:
        rows = conn.execute(
            f"SELECT _partition, count(*), string_agg(DISTINCT _run_id, ',') FROM {table} GROUP BY 1"
        ).fetchall()
    return {key: (count, runs) for key, count, runs in rows}


def _days(keys: list[str], rows: int) -> pd.DataFrame:
    return pd.concat([mixed_frame(rows, k) for k in keys], ignore_index=True)


def test_server_restart_mid_load_then_retry_leaves_one_copy(pg, postgres_server):
    target = TableName("f", "restart")
    write_partitions(pg, target, frame_to_table(_days(DAYS, 10)), DAYS, "first")
    big = _days(DAYS[1:], 20_000)
    with pytest.raises(Exception) as caught:
        write_partitions(
            pg,
            target,
            frame_to_table(big),
            DAYS[1:],
            "second",
            before_commit=postgres_server.restart,
        )
    assert is_retryable(caught.value), repr(caught.value)
    # nothing of the failed load is visible; every partition still holds exactly its rows
    assert _counts(pg, "f.restart") == {d: (10, "first") for d in DAYS}
    write_partitions(pg, target, frame_to_table(big), DAYS[1:], "retry")
    assert _counts(pg, "f.restart") == {
        DAYS[0]: (10, "first"),
        DAYS[1]: (20_000, "retry"),
        DAYS[2]: (20_000, "retry"),
    }


def test_swap_raising_halfway_leaves_table_as_it_was(pg):
    target = TableName("f", "swap")
    replace_table(pg, target, frame_to_table(mixed_frame(7)), "old")

    def boom() -> None:
        raise RuntimeError("injected failure after COPY")

    with pytest.raises(RuntimeError, match="injected"):
        replace_table(pg, target, frame_to_table(mixed_frame(50)), "new", before_commit=boom)
    pd.testing.assert_frame_equal(read_table(pg, target), mixed_frame(7))
    with pg.connection() as conn:
        staged = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'f'").fetchone()
    assert staged == (1,)  # no staging table left behind


def test_asset_write_raising_halfway_keeps_partition(pg, monkeypatch):
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
    rows = {"n": 5}

    @asset(key=["f", "clean", "orders"], partitions_def=days, io_manager_key="io")
    def orders(context) -> pd.DataFrame:
        return mixed_frame(rows["n"], context.partition_key)

    io = PostgresIOManager(postgres=pg)
    assert materialize([orders], partition_key="2024-01-02", resources={"io": io}).success
    real = writer_module.comment_statement

    def failing(*args, **kwargs):  # the schema note is written after the COPY, in the transaction
        raise RuntimeError("injected failure halfway through the write")

    # the stored note looks stale, so the write rewrites it after the COPY ... and fails there
    monkeypatch.setattr(writer_module, "comment_text", lambda schema: "stale")
    monkeypatch.setattr(writer_module, "comment_statement", failing)
    rows["n"] = 9
    result = materialize(
        [orders], partition_key="2024-01-02", resources={"io": io}, raise_on_error=False
    )
    assert not result.success
    assert "injected failure" in result.failure_data_for_node("f__clean__orders").error.to_string()
    monkeypatch.setattr(writer_module, "comment_statement", real)
    back = read_table(pg, TableName("f", "clean_orders"), ["2024-01-02"])
    pd.testing.assert_frame_equal(back, mixed_frame(5, "2024-01-02"))


def test_two_runs_on_different_partitions_at_once(pg):
    target = TableName("f", "concurrent")  # does not exist yet: both runs race to create it
    both_copied = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def run(day: str, run_id: str, rows: int) -> None:
        resource = PostgresResource(host=pg.host, port=pg.port, dbname=pg.dbname, sslmode="disable")
        try:
            write_partitions(
                resource, target, frame_to_table(mixed_frame(rows, day)), [day], run_id,
                before_commit=both_copied.wait,
            )  # fmt: skip
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=("2024-01-01", "run-a", 300)),
        threading.Thread(target=run, args=("2024-01-02", "run-b", 500)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert _counts(pg, "f.concurrent") == {
        "2024-01-01": (300, "run-a"),
        "2024-01-02": (500, "run-b"),
    }


def test_classification_of_real_errors(pg, postgres_server, postgres_db):
    with pg.connection() as conn:
        conn.execute("CREATE TABLE ser (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO ser VALUES (1, 0)")
    # serialization failure between two SERIALIZABLE transactions
    one = psycopg.connect(**pg.connect_kwargs())
    two = psycopg.connect(**pg.connect_kwargs())
    try:
        for conn in (one, two):
            conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            conn.execute("SELECT v FROM ser WHERE id = 1").fetchone()
        one.execute("UPDATE ser SET v = 1 WHERE id = 1")
        one.commit()
        with pytest.raises(psycopg.Error) as serialization:
            two.execute("UPDATE ser SET v = 2 WHERE id = 1")
        assert serialization.value.sqlstate == "40001"
        assert is_retryable(serialization.value)
        with pytest.raises(RetryablePostgresError) as wrapped:
            raise_classified(serialization.value)
        assert wrapped.value.__cause__ is serialization.value
        two.rollback()
        with pytest.raises(psycopg.Error) as bad_sql:
            two.execute("SELEC 1")
        assert not is_retryable(bad_sql.value)
        with pytest.raises(psycopg.errors.SyntaxError):
            raise_classified(bad_sql.value)
        two.rollback()
        with pytest.raises(psycopg.Error) as missing:
            two.execute("SELECT * FROM no_such_table")
        assert not is_retryable(missing.value)
        two.rollback()
    finally:
        one.close()
        two.close()
    role = "cls_" + postgres_db
    postgres_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'right'")
    wrong = PostgresResource(
        host=pg.host, port=pg.port, user=role, password="wrong", dbname=pg.dbname, sslmode="disable"
    )
    with pytest.raises(PostgresConnectionError) as auth, wrong.connection():
        pass
    assert not is_retryable(auth.value)
    nobody = PostgresResource(
        host="127.0.0.1", port=free_port(), sslmode="disable", connect_timeout=2
    )
    with pytest.raises(PostgresConnectionError) as refused, nobody.adbc_connection():
        pass
    assert is_retryable(refused.value)


def test_restart_during_asset_write_is_retried_by_retry_policy(pg, postgres_server, monkeypatch):
    """A run whose write loses the server is retried by Dagster; one copy of the partition."""
    days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
    restarts = []

    @asset(
        key=["f", "clean", "retried"],
        partitions_def=days,
        io_manager_key="io",
        retry_policy=RetryPolicy(max_retries=2),
    )
    def retried(context) -> pd.DataFrame:
        return mixed_frame(12, context.partition_key)

    io = PostgresIOManager(postgres=pg)
    assert materialize([retried], partition_key="2024-01-02", resources={"io": io}).success
    real_statement, real_text = writer_module.comment_statement, writer_module.comment_text

    def restart_once(*args, **kwargs):  # after the COPY, before commit, on the first attempt
        if not restarts:
            restarts.append(True)
            postgres_server.restart()
        return real_statement(*args, **kwargs)

    monkeypatch.setattr(writer_module, "comment_text", lambda schema: "stale")
    monkeypatch.setattr(writer_module, "comment_statement", restart_once)
    result = materialize([retried], partition_key="2024-01-02", resources={"io": io})
    monkeypatch.setattr(writer_module, "comment_statement", real_statement)
    monkeypatch.setattr(writer_module, "comment_text", real_text)
    assert result.success and restarts == [True]
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" in kinds
    assert _counts(pg, "f.clean_retried") == {"2024-01-02": (12, result.run_id)}


def test_readers_never_see_an_empty_or_half_swapped_table(pg):
    """While the table is swapped again and again, every read sees one whole version."""
    target = TableName("f", "readers")
    sizes = [1_000, 3_000, 2_000, 4_000]
    replace_table(pg, target, frame_to_table(mixed_frame(sizes[0])), "v0")
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            with psycopg.connect(**pg.connect_kwargs(), autocommit=True) as conn:
                while not done.is_set():
                    row = conn.execute(
                        "SELECT count(*), count(DISTINCT _run_id) FROM f.readers"
                    ).fetchone()
                    seen.append(row)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version, size in enumerate(sizes[1:], start=1):
            replace_table(pg, target, frame_to_table(mixed_frame(size)), f"v{version}")
    finally:
        done.set()
        thread.join(30)
    assert not errors, errors
    assert seen and all(count in sizes and runs == 1 for count, runs in seen), set(seen)
