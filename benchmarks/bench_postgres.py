"""PostgreSQL IO manager throughput and peak memory against ``psql \\copy`` of the same rows.

One script run measures, on a throwaway local PostgreSQL 15 (started here, as in the tests):

- writes of a 1M-row, 12-column frame with mixed types and ~2% nulls:
  ``psql \\copy`` of the same rows as CSV (the baseline), the IO manager's unpartitioned
  write (stage + swap), its partitioned write (10 partitions replaced: delete + COPY, against
  ``psql -1`` doing the same DELETE and ``\\copy`` in one transaction), psycopg 3 binary
  ``COPY`` fed row by row from the frame, pandas ``to_sql`` (SQLAlchemy + psycopg 3, on a
  sample, reported as rows/s), and optionally dlt (``--dlt``: installed into its own venv);
- reads: the whole table (split over 2 connections, the default, and on 1) and one
  partition back to a DataFrame with exact dtypes, against ``psql \\copy (SELECT ...) TO``
  a CSV file.

Each case runs in its own subprocess under GNU time, so its peak RSS is its own. The cases
of a group (baseline and ours) run interleaved, one round after another, ``--repeat`` rounds,
so drifting machine load hits both alike; figures are medians (every repeat is printed too).
Ratios are throughput relative to the baseline of the same group (>1 = faster than ``\\copy``).

    .venv/bin/python benchmarks/bench_postgres.py [--rows 1000000] [--repeat 5] [--dlt]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = 12
PARTS = 10
DLT_VENV = Path(tempfile.gettempdir()) / "etl-assets-bench-dlt-venv"
DLT_PIN = "dlt[postgres]==1.31.0"


def generate(rows: int, seed: int = 20240101) -> pd.DataFrame:
    """1M x 12 with ints, nullable ints, floats, a decimal, bool, text, a category, a UTC
    timestamp and a date; about 2% nulls in the nullable columns; plus ``_partition`` (10 keys)."""
    rng = np.random.default_rng(seed)

    def nulls() -> np.ndarray:
        return rng.random(rows) < 0.02

    user = pd.array(rng.integers(1, 50_000, rows), dtype="Int64")
    user[nulls()] = pd.NA
    qty = pd.array(rng.integers(1, 20, rows), dtype="Int32")
    qty[nulls()] = pd.NA
    amount = np.round(rng.gamma(2.0, 30.0, rows), 2)
    amount[nulls()] = np.nan
    cents = rng.integers(0, 10_000_000, rows)
    price = pa.array(
        [
            None if n else f"{c // 100}.{c % 100:02d}"
            for c, n in zip(cents.tolist(), nulls().tolist(), strict=True)
        ]
    ).cast(pa.decimal128(12, 2))
    member = pd.array(rng.random(rows) < 0.3, dtype="boolean")
    member[nulls()] = pd.NA
    country = pd.array(
        rng.choice(["DE", "FR", "NL", "US", "GB", "ES", "IT", "PL"], rows), dtype="str"
    )
    country[nulls()] = None
    comment = pd.array(
        rng.choice(["gift", "first order, via app", 'said "great"', "retour", "ok"], rows),
        dtype="str",
    )
    comment[nulls()] = None
    frame = pd.DataFrame(
        {
            "event_id": np.arange(1, rows + 1, dtype=np.int64),
            "user_id": user,
            "country": country,
            "device": pd.Categorical(rng.choice(["ios", "android", "web", "tv"], rows)),
            "amount": amount,
            "quantity": qty,
            "price": pd.array(price, dtype=pd.ArrowDtype(pa.decimal128(12, 2))),
            "is_member": member,
            "event_time": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 365 * 86400, rows), unit="s"),
            "event_date": pd.array(
                (np.datetime64("2024-01-01") + rng.integers(0, 365, rows)).astype("datetime64[D]"),
                dtype=pd.ArrowDtype(pa.date32()),
            ),
            "comment": comment,
            "category": pd.array(
                rng.choice([f"cat_{i:02d}" for i in range(40)], rows), dtype="str"
            ),
            "_partition": pd.array([f"p{i % PARTS:02d}" for i in range(rows)], dtype="str"),
        }
    )
    frame["event_time"] = frame["event_time"].dt.as_unit("us")
    assert len(frame.columns) == COLUMNS + 1  # + _partition
    return frame.sort_values("_partition", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------- cases


def _resource(port: int):
    """The resource, with its drivers imported (one-time process start-up is not timed)."""
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import psycopg  # noqa: F401

    from etl_assets.lib.resources.postgres import PostgresResource

    return PostgresResource(host="127.0.0.1", port=port, dbname="bench", sslmode="disable")


def _frame(work: Path) -> pd.DataFrame:
    from etl_assets.lib.io.convert import table_to_frame

    return table_to_frame(pq.read_table(work / "frame.parquet"))


def case_ours_write(work: Path, port: int) -> dict:
    from etl_assets.lib.io.convert import frame_to_table
    from etl_assets.lib.io.postgres import TableName, replace_table

    frame = _frame(work).drop(columns=["_partition"])
    started = time.perf_counter()
    result = replace_table(
        _resource(port), TableName("bench", "ours"), frame_to_table(frame), "bench"
    )
    return {"seconds": time.perf_counter() - started, "rows": result.rows_written}


def case_ours_write_partitioned(work: Path, port: int) -> dict:
    from etl_assets.lib.io.convert import frame_to_table
    from etl_assets.lib.io.postgres import TableName, write_partitions

    frame = _frame(work)
    keys = sorted(frame["_partition"].unique())
    pg = _resource(port)
    started = time.perf_counter()
    result = write_partitions(
        pg, TableName("bench", "ours_parts"), frame_to_table(frame), keys, "bench"
    )
    return {"seconds": time.perf_counter() - started, "rows": result.rows_written}


def case_psycopg_binary_copy(work: Path, port: int) -> dict:
    import psycopg

    frame = _frame(work).drop(columns=["_partition"])
    pg = _resource(port)
    types = [
        "int8",
        "int8",
        "text",
        "text",
        "float8",
        "int4",
        "numeric",
        "bool",
        "timestamptz",
        "date",
        "text",
        "text",
    ]
    started = time.perf_counter()
    columns = [
        frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame.columns
    ]
    with psycopg.connect(**pg.connect_kwargs()) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE bench.psycopg")
        with cursor.copy("COPY bench.psycopg FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_to_sql(work: Path, port: int, rows: int) -> dict:
    from sqlalchemy import create_engine

    frame = _frame(work).drop(columns=["_partition"]).head(rows)
    frame["device"] = frame["device"].astype("str")
    frame["price"] = frame["price"].astype(object)
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench")
    started = time.perf_counter()
    frame.to_sql(
        "to_sql", engine, schema="bench", if_exists="replace", index=False, chunksize=10_000
    )
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_ours_read(work: Path, port: int, connections: int = 2) -> dict:
    from etl_assets.lib.io.postgres import TableName, read_table

    pg = _resource(port)
    started = time.perf_counter()
    frame = read_table(pg, TableName("bench", "ours"), read_connections=connections)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_ours_read_one_connection(work: Path, port: int) -> dict:
    return case_ours_read(work, port, connections=1)


def case_ours_read_partition(work: Path, port: int) -> dict:
    from etl_assets.lib.io.postgres import TableName, read_table

    pg = _resource(port)
    started = time.perf_counter()
    frame = read_table(pg, TableName("bench", "ours_parts"), ["p03"])
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


CASES = {
    "ours_write": case_ours_write,
    "ours_write_partitioned": case_ours_write_partitioned,
    "psycopg_binary_copy": case_psycopg_binary_copy,
    "ours_read": case_ours_read,
    "ours_read_one_connection": case_ours_read_one_connection,
    "ours_read_partition": case_ours_read_partition,
}

DLT_SCRIPT = """
import sys, time, json
import dlt, pyarrow.parquet as pq
port, path, fmt = int(sys.argv[1]), sys.argv[2], sys.argv[4]
table = pq.read_table(path).drop_columns(["_partition"])
pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.postgres(
    f"postgresql://postgres:unused@127.0.0.1:{port}/bench"), dataset_name="dlt_bench",
    pipelines_dir=sys.argv[3])  # the bench server trusts local connections; dlt insists on a password
started = time.perf_counter()
kwargs = {} if fmt == "default" else {"loader_file_format": fmt}
info = pipeline.run(table, table_name="events", write_disposition="replace", **kwargs)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": table.num_rows}))
"""


# ---------------------------------------------------------------------------------- runner


def timed(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall time and peak RSS (GNU time %M, KiB) of one command; its JSON result if it prints one."""
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *args],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    result: dict = {"wall_seconds": wall}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if lines:
        result.update(json.loads(lines[-1]))
    result["peak_rss_mb"] = round(peak_kib / 1024, 1)
    return result


def run_case(name: str, work: Path, port: int, extra: list[str] | None = None) -> dict:
    return timed(
        [
            sys.executable,
            __file__,
            "--case",
            name,
            "--work",
            str(work),
            "--port",
            str(port),
            *(extra or []),
        ]
    )


def psql(port: int, command: str) -> list[str]:
    from etl_assets_tests.servers.postgres import PG_BIN

    return [str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
            "-U", "postgres", "-d", "bench", "-c", command]  # fmt: skip


def median(results: list[dict]) -> dict:
    """The median run (by seconds) of the repeats, with every repeat's seconds beside it."""
    ordered = sorted(results, key=_seconds)
    middle = dict(ordered[(len(ordered) - 1) // 2])
    middle["all_seconds"] = [round(_seconds(r), 3) for r in results]
    middle["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in results)
    return middle


def interleaved(runs: dict[str, Callable[[], dict]], repeat: int) -> dict[str, dict]:
    """Each case once per round, rounds repeated: the machine's load drifts over a run, and
    alternating ours with the baseline lets both see the same drift. Medians per case."""
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            results[name].append(run())
    return {name: median(rs) for name, rs in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of interleaved runs")
    parser.add_argument("--to-sql-rows", type=int, default=100_000)
    parser.add_argument(
        "--dlt", action="store_true", help="also measure dlt (installs it into its own venv)"
    )
    parser.add_argument("--reads-only", action="store_true", help="skip the slow write rivals")
    parser.add_argument("--case")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

    if args.case:
        if args.case == "to_sql":
            print(json.dumps(case_to_sql(args.work, args.port, args.to_sql_rows)))
        else:
            print(json.dumps(CASES[args.case](args.work, args.port)))
        return

    from etl_assets_tests.servers.postgres import PostgresServer

    work = Path(tempfile.mkdtemp(prefix="etl-bench-pg-"))
    os.chmod(work, 0o755)
    frame = generate(args.rows)
    from etl_assets.lib.io.convert import frame_to_table

    pq.write_table(frame_to_table(frame), work / "frame.parquet")
    plain = pa.Table.from_pandas(frame.drop(columns=["_partition"]), preserve_index=False)
    csv_path = work / "frame.csv"
    pacsv.write_csv(plain, csv_path)
    print(
        f"data: {args.rows} rows x {COLUMNS} columns (+ _partition), CSV {csv_path.stat().st_size / 1e6:.0f} MB"
    )

    server = PostgresServer.start()
    report: dict[str, dict] = {}
    port = server.port
    try:
        server.sql("CREATE DATABASE bench")
        server.sql("CREATE SCHEMA bench", dbname="bench")

        def case(name: str, *extra: str) -> Callable[[], dict]:
            return lambda: run_case(name, work, port, list(extra))

        run_case("ours_write", work, port)  # creates bench.ours (first write: not timed)
        # The partitioned write replaces rows that exist: the first write creates and fills
        # bench.ours_parts (not timed), so every timed round deletes 1M rows as well.
        run_case("ours_write_partitioned", work, port)
        server.sql("CREATE TABLE bench.csv_copy (LIKE bench.ours)", dbname="bench")
        server.sql("ALTER TABLE bench.csv_copy DROP COLUMN _run_id", dbname="bench")
        server.sql("CREATE TABLE bench.psycopg (LIKE bench.csv_copy)", dbname="bench")
        server.sql("CREATE TABLE bench.csv_parts (LIKE bench.ours_parts)", dbname="bench")
        server.sql("ALTER TABLE bench.csv_parts DROP COLUMN _run_id", dbname="bench")
        server.sql("CREATE INDEX ON bench.csv_parts USING brin (_partition)", dbname="bench")
        columns = ", ".join(plain.column_names)
        parts_csv = work / "frame_parts.csv"
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), parts_csv)
        part_columns = ", ".join(frame.columns)
        keys = ", ".join(f"'{key}'" for key in sorted(frame["_partition"].unique()))
        copy_parts = f"\\copy bench.csv_parts ({part_columns}) FROM '{parts_csv}' WITH (FORMAT csv, HEADER true)"
        subprocess.run(psql(port, copy_parts), check=True)  # seed: the rounds replace these rows

        def replace_partitions() -> dict:
            """The hand-written equivalent of a partitioned write: in one transaction, delete
            the partitions' rows and \\copy the new ones in (same BRIN index on _partition)."""
            delete = f"DELETE FROM bench.csv_parts WHERE _partition IN ({keys})"
            command = psql(port, delete)
            command[command.index("-c") : command.index("-c")] = ["-1"]
            return {**timed([*command, "-c", copy_parts]), "rows": args.rows}

        def copy_in() -> dict:
            server.sql("TRUNCATE bench.csv_copy", dbname="bench")
            result = timed(
                psql(port, f"\\copy bench.csv_copy ({columns}) FROM '{csv_path}' WITH (FORMAT csv, HEADER true)")
            )  # fmt: skip
            return {**result, "rows": args.rows}

        report |= interleaved(
            {"psql_copy_in": copy_in, "ours_write": case("ours_write"),
             "psql_replace_partitions": replace_partitions,
             "ours_write_partitioned": case("ours_write_partitioned")},
            args.repeat,
        )  # fmt: skip
        if not args.reads_only:
            report["psycopg_binary_copy"] = median(
                [run_case("psycopg_binary_copy", work, port) for _ in range(2)]
            )
            report["pandas_to_sql"] = median(
                [run_case("to_sql", work, port, ["--to-sql-rows", str(args.to_sql_rows)])]
            )
        if args.dlt:
            report["dlt"] = measure_dlt(work, port, "default")
            report["dlt_csv"] = measure_dlt(work, port, "csv")
        out = work / "out.csv"
        partition_rows = int(
            server.sql(
                "SELECT count(*) FROM bench.ours_parts WHERE _partition = 'p03'", dbname="bench"
            )
        )

        def copy_out(where: str, rows: int) -> Callable[[], dict]:
            table = "bench.ours_parts" if where else "bench.ours"
            command = f"\\copy (SELECT {columns} FROM {table}{where}) TO '{out}' WITH (FORMAT csv)"
            return lambda: {**timed(psql(port, command)), "rows": rows}

        report |= interleaved(
            {"psql_copy_out": copy_out("", args.rows), "ours_read": case("ours_read"),
             "ours_read_one_connection": case("ours_read_one_connection"),
             "psql_copy_out_partition": copy_out(" WHERE _partition = 'p03'", partition_rows),
             "ours_read_partition": case("ours_read_partition")},
            args.repeat,
        )  # fmt: skip
    finally:
        server.stop()
    print_report(report)
    (work / "report.json").write_text(json.dumps(report, indent=2))
    print(f"\nraw results: {work / 'report.json'}")


def measure_dlt(work: Path, port: int, file_format: str) -> dict:
    """dlt loading the same Arrow table (its own venv; ``file_format`` "default" or e.g. "csv")."""
    python = DLT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", DLT_PIN, "pyarrow==26.0.1", "pandas"],
            check=True,
        )
    script = work / "dlt_case.py"
    script.write_text(DLT_SCRIPT)
    args = [
        str(python),
        str(script),
        str(port),
        str(work / "frame.parquet"),
        str(work / "dlt"),
        file_format,
    ]
    return timed(args, env={"RUNTIME__LOG_LEVEL": "WARNING"})


def _seconds(result: dict) -> float:
    return result.get("seconds", result["wall_seconds"])


def print_report(report: dict[str, dict]) -> None:
    def rate(name: str) -> float:
        return report[name]["rows"] / _seconds(report[name])

    print(
        f"\n{'case':28} {'rows':>9} {'median s':>8} {'rows/s':>11} {'vs copy':>9} "
        f"{'peak MB':>8}  every repeat (s)"
    )
    groups = {
        "psql_copy_in": [
            "psql_copy_in",
            "ours_write",
            "psycopg_binary_copy",
            "pandas_to_sql",
            "dlt",
            "dlt_csv",
        ],
        "psql_replace_partitions": ["psql_replace_partitions", "ours_write_partitioned"],
        "psql_copy_out": ["psql_copy_out", "ours_read", "ours_read_one_connection"],
        "psql_copy_out_partition": ["psql_copy_out_partition", "ours_read_partition"],
    }
    for baseline, names in groups.items():
        for name in names:
            if name not in report:
                continue
            r = report[name]
            print(
                f"{name:28} {r['rows']:>9} {_seconds(r):>8.2f} {rate(name):>11.0f} "
                f"{rate(name) / rate(baseline):>8.2f}x {r['peak_rss_mb']:>8.0f}  "
                f"{r.get('all_seconds', '')}"
            )
        print()


if __name__ == "__main__":
    main()
