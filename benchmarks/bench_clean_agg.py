"""Measure clean + aggregate against DuckDB on the same 1M-row CSV (not a test: no assertions).

    .venv/bin/python etl_assets_tests/lib/transforms/bench_clean_agg.py [--rows N] [--repeat K] [--profile]

The input comes from ``benchmarks/datagen.py`` (12 mixed-type columns, ~2% nulls, ~1% duplicate
rows, fixed seed), written once under ``/tmp/etl_assets_transforms_bench``. Each figure is the
best of ``--repeat`` runs in this process; ``ARROW_DEFAULT_MEMORY_POOL=system`` is set.

* DuckDB typed: one SQL query reading the CSV with declared column types, dropping rows with a
  null required column, deduplicating on the key (``QUALIFY row_number() OVER (PARTITION BY
  event_id) = 1``) and grouping. DuckDB ordered: the same, but keeping the first row in file
  order as ``clean_table`` does (``ORDER BY`` a row number).
* DuckDB text: reads every column as VARCHAR and ``TRY_CAST``s, which is what our path does (a
  bad value becomes a rejected row instead of failing the query).
* ours: pyarrow reads the CSV as all-strings (+ lineage columns) -> pandas -> ``clean_table`` ->
  ``aggregate``; reported without and with the read.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from datagen import COLUMNS, write_csv  # noqa: E402

from etl_assets.lib.spec import AggregateSpec, CleanSpec  # noqa: E402
from etl_assets.lib.transforms import aggregate, clean_table  # noqa: E402

WORK = Path("/tmp/etl_assets_transforms_bench")

# The same clean and aggregate specs as the foundation benchmark, so the figures compare.
from run_foundation import AGG_SPEC as AGG  # noqa: E402
from run_foundation import CLEAN_SPEC as CLEAN  # noqa: E402

TYPES = {
    "event_id": "BIGINT", "user_id": "BIGINT", "country": "VARCHAR", "device": "VARCHAR", "amount": "DOUBLE",
    "quantity": "BIGINT", "discount": "DOUBLE", "is_member": "BOOLEAN", "event_time": "TIMESTAMPTZ",
    "event_date": "DATE", "category": "VARCHAR", "comment": "VARCHAR",
}
GROUPED = """
SELECT country, device, count(*) AS events, sum(amount) AS revenue, avg(amount) AS mean_amount,
       count(DISTINCT user_id) AS users, max(quantity) AS max_qty
FROM kept GROUP BY country, device ORDER BY country, device
"""


def duckdb_sql(path: Path, *, text: bool, ordered: bool) -> str:
    if text:
        select = ", ".join(f"TRY_CAST(trim({name}) AS {kind}) AS {name}" for name, kind in TYPES.items())
        source = f"read_csv('{path}', header=true, nullstr='', all_varchar=true)"
    else:
        select = "*"
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in TYPES.items())
        source = f"read_csv('{path}', header=true, nullstr='', columns={{{columns}}})"
    number = ", row_number() OVER () AS rn" if ordered else ""
    order = " ORDER BY rn" if ordered else ""
    return (
        f"WITH typed AS (SELECT {select}{number} FROM {source}), "
        "kept AS (SELECT * FROM typed WHERE event_id IS NOT NULL AND user_id IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY event_id{order}) = 1)" + GROUPED
    )


def read_strings(path: Path) -> pd.DataFrame:
    """What the CSV source hands over: every column as text, plus the lineage columns."""
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(COLUMNS, pa.large_string()), strings_can_be_null=True, null_values=[""]
        ),
    )
    table = table.append_column("_source_file", pa.repeat(pa.scalar(path.name, pa.large_string()), table.num_rows))
    table = table.append_column("_source_row", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    return table.to_pandas()


def dirty_copy(path: Path, fraction: float) -> Path:
    """The same CSV with ``fraction`` of the int, float, bool, datetime and date values replaced by junk."""
    target = path.with_name(f"{path.stem}_dirty{fraction:g}.csv")
    if target.exists():
        return target
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())))
    rng = np.random.default_rng(99)
    junk = {"user_id": "12a", "amount": "1,5", "quantity": "n/a", "is_member": "maybe", "event_time": "2024-02-30T10:00:00Z", "event_date": "2024-13-01"}
    for column, bad in junk.items():
        values = table[column].to_numpy(zero_copy_only=False).astype(object)
        values[rng.random(len(values)) < fraction] = bad
        table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.string()))
    pacsv.write_csv(table, target)
    return target


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one clean+aggregate run")
    parser.add_argument("--dirty", type=float, default=0.0, help="fraction of junk values in six columns (DuckDB typed is skipped: it would fail)")
    args = parser.parse_args()

    import duckdb

    path = write_csv(WORK / f"events_{args.rows}.csv", args.rows)
    if args.dirty:
        path = dirty_copy(path, args.dirty)
    clean_spec, agg_spec = CleanSpec.model_validate(CLEAN), AggregateSpec.model_validate(AGG)
    connection = duckdb.connect()

    def query(sql: str) -> Callable[[], list]:
        return lambda: connection.execute(sql).fetchall()

    text_s, text_rows = best_of(args.repeat, query(duckdb_sql(path, text=True, ordered=True)))
    if args.dirty:
        typed_s = ordered_s = float("nan")
        typed_rows = text_rows
    else:
        typed_s, typed_rows = best_of(args.repeat, query(duckdb_sql(path, text=False, ordered=False)))
        ordered_s, _ = best_of(args.repeat, query(duckdb_sql(path, text=False, ordered=True)))
    read_s, raw = best_of(args.repeat, lambda: read_strings(path))

    phases: dict[str, float] = {}

    def ours() -> pd.DataFrame:
        started = time.perf_counter()
        cleaned = clean_table(raw, clean_spec, table="events")
        middle = time.perf_counter()
        result = aggregate(cleaned.clean, agg_spec)
        phases["clean"], phases["aggregate"] = middle - started, time.perf_counter() - middle
        assert cleaned.stats.conserved()
        return result.frame

    ours_s, frame = best_of(args.repeat, ours)
    rejected = clean_table(raw, clean_spec, table="events").stats.rows_rejected
    check = pd.DataFrame(typed_rows, columns=list(frame.columns))
    same = bool(
        (frame["events"].to_numpy() == check["events"].to_numpy()).all()
        and (frame["users"].to_numpy() == check["users"].to_numpy()).all()
        and np.allclose(frame["revenue"].to_numpy(dtype=float), check["revenue"].to_numpy(dtype=float))
    )
    threads = connection.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"rows={args.rows} dirty={args.dirty} rejected={rejected} cpus={os.cpu_count()} duckdb_threads={threads} results_match_duckdb={same}")
    print(f"duckdb typed, keep any duplicate : {typed_s:7.3f} s")
    print(f"duckdb typed, keep first in file : {ordered_s:7.3f} s")
    print(f"duckdb varchar + TRY_CAST, first : {text_s:7.3f} s")
    print(f"ours: read CSV as strings        : {read_s:7.3f} s")
    print(f"ours: clean_table + aggregate    : {ours_s:7.3f} s  (last run: clean {phases['clean']:.3f} s, aggregate {phases['aggregate']:.3f} s)")
    for label, baseline in (("typed", typed_s), ("typed first", ordered_s), ("varchar", text_s)):
        print(
            f"ratio duckdb {label:<11} / ours: {baseline / ours_s:5.2f}x excluding read, "
            f"{baseline / (ours_s + read_s):5.2f}x including read"
        )

    # one process runs every engine: this is the peak of the whole run (the largest of them)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        ours()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
