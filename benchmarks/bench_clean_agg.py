"""Measure read + clean + aggregate against DuckDB on the same CSV (not a test: no assertions).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_clean_agg.py [--rows N] [--repeat K] [--dirty F] [--profile]

The input comes from ``benchmarks/datagen.py`` (12 mixed-type columns, ~2% nulls, ~1% duplicate
rows, fixed seed), written once under ``/tmp/etl_assets_transforms_bench``; ``--dirty F``
replaces a fraction ``F`` of the values of six typed columns with junk (``12a``, ``1,5``,
``n/a``, ``maybe``, ``2024-02-30T10:00:00Z``, ``2024-13-01``).

Every engine runs in its own interpreter (its peak RSS and CPU seconds, user + system of the
whole interpreter with its imports, are its own, from GNU time), the engines
take turns ``--repeat`` times and the median run of each is reported; the read is inside the
clock. ``ARROW_DEFAULT_MEMORY_POOL=system`` is set.

* ``duckdb_typed``: one SQL query reading the CSV with declared column types, dropping rows
  with a null required column, deduplicating on the key (any row of a duplicate group) and
  grouping. It does less than we do (a bad value fails the query, no rejected rows), so it is
  only run on clean data.
* ``duckdb_rejects``: the same work as ours. The CSV is read as text, every typed column is
  ``TRY_CAST`` from its trimmed text, and a row with a present value that does not cast or a
  missing required value is routed to a rejected table (source row, first reason kind, every
  reason joined by ``"; "`` with the quoted raw value, the raw values), fetched as Arrow; the
  kept rows keep the first row of each key in file order and are grouped.
* ``ours``: ``read_source`` (the CSV source as a pipeline reads it: text + lineage columns) ->
  ``clean_table`` (its default threads: Arrow's CPU count, at most 4) -> ``aggregate``.
* ``ours_serial`` (only when named in ``--engines``): the same with ``clean_table(threads=1)``.

The aggregate and the rejected-row count of every engine are compared (``results_match``).
``--profile`` adds a cProfile of one run of ours in this process, split by stage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from datagen import COLUMNS, write_csv  # noqa: E402

# The same clean and aggregate specs as the foundation benchmark, so the figures compare.
from run_foundation import AGG_SPEC as AGG  # noqa: E402
from run_foundation import CLEAN_SPEC as CLEAN  # noqa: E402

WORK = Path("/tmp/etl_assets_transforms_bench")

TYPES = {
    "event_id": "BIGINT", "user_id": "BIGINT", "country": "VARCHAR", "device": "VARCHAR", "amount": "DOUBLE",
    "quantity": "BIGINT", "discount": "DOUBLE", "is_member": "BOOLEAN", "event_time": "TIMESTAMPTZ",
    "event_date": "DATE", "category": "VARCHAR", "comment": "VARCHAR",
}
#: What our parser says after the quoted value, per DuckDB type.
MESSAGES = {
    "BIGINT": "is not an int", "DOUBLE": "is not a number", "BOOLEAN": "is not a boolean (true/t/yes/y/1 or false/f/no/n/0)",
    "TIMESTAMPTZ": "is not a datetime (ISO 8601)", "DATE": "is not a date (YYYY-MM-DD)",
}
REQUIRED = ("event_id", "user_id")
GROUPED = """
SELECT country, device, count(*) AS events, sum(amount) AS revenue, avg(amount) AS mean_amount,
       count(DISTINCT user_id) AS users, max(quantity) AS max_qty
FROM kept GROUP BY country, device ORDER BY country, device
"""
ENGINES = ("duckdb_typed", "duckdb_rejects", "ours")


def duckdb_typed_sql(path: Path) -> str:
    columns = ", ".join(f"'{name}': '{kind}'" for name, kind in TYPES.items())
    source = f"read_csv('{path}', header=true, nullstr='', columns={{{columns}}})"
    return (
        f"WITH kept AS (SELECT * FROM {source} WHERE event_id IS NOT NULL AND user_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY event_id) = 1)" + GROUPED
    )


def duckdb_rejects_sql(path: Path) -> tuple[str, str, str]:
    """(build the typed table with the raw text and a rejected flag, select the rejected rows with
    their reasons, aggregate the first row of each key among the kept)."""
    columns = ", ".join(
        f"\"{name}\" AS r_{name}, "
        + (f"nullif(trim(\"{name}\"), '')" if kind == "VARCHAR" else f"TRY_CAST(nullif(trim(\"{name}\"), '') AS {kind})")
        + f" AS \"{name}\""
        for name, kind in TYPES.items()
    )
    problems: list[tuple[str, str, str]] = []  # (condition, kind, reason), in our order
    for name, kind in TYPES.items():
        present = f"nullif(trim(r_{name}), '')"
        if kind != "VARCHAR":
            quoted = f"'''' || (CASE WHEN length(r_{name}) > 60 THEN left(r_{name}, 57) || '...' ELSE r_{name} END) || ''''"
            problems.append((f"({present} IS NOT NULL AND \"{name}\" IS NULL)", "coercion", f"'{name}: ' || {quoted} || ' {MESSAGES[kind]}'"))
        if name in REQUIRED:
            problems.append((f"({present} IS NULL)", "required", f"'{name}: required value is missing'"))
    rejected = " OR ".join(condition for condition, _, _ in problems)
    build = (
        f"CREATE OR REPLACE TEMP TABLE typed AS SELECT *, ({rejected}) AS rejected FROM ("
        f"SELECT rn, {columns} FROM (SELECT row_number() OVER () AS rn, * "
        f"FROM read_csv('{path}', header=true, nullstr='', all_varchar=true)))"
    )
    kind = "CASE " + " ".join(f"WHEN {c} THEN '{k}'" for c, k, _ in problems) + " END"
    reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN {r} END" for c, _, r in problems) + ")"
    rejects = (
        f"SELECT '{path.name}' AS _source_file, rn AS _source_row, {kind} AS _reason_kind, {reason} AS _reason, "
        + ", ".join(f"r_{name} AS \"{name}\"" for name in TYPES)
        + " FROM typed WHERE rejected ORDER BY rn"
    )
    kept = (
        "WITH kept AS (SELECT * FROM typed WHERE NOT rejected "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY rn) = 1)" + GROUPED
    )
    return build, rejects, kept


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


def input_file(rows: int, dirty: float) -> Path:
    """The CSV, hard-linked as ``<dir>/events.csv`` (the source refuses symbolic links leaving its root)."""
    path = write_csv(WORK / f"events_{rows}.csv", rows)
    if dirty:
        path = dirty_copy(path, dirty)
    folder = WORK / f"{path.stem}_src"
    folder.mkdir(exist_ok=True)
    link = folder / "events.csv"
    if not link.exists():
        os.link(path, link)
    return link


def _value(value: Any) -> Any:
    if value is None or value != value:
        return None
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return str(value) if not isinstance(value, (int, str)) else value


def _rows(frame: Any) -> list[list[Any]]:
    """Result rows as JSON-able lists (floats rounded: engines sum in different orders)."""
    return [[_value(v) for v in row] for row in frame]


def run_duckdb_typed(path: Path) -> dict:
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    rows = connection.execute(duckdb_typed_sql(path)).fetchall()
    return {"seconds": time.perf_counter() - started, "result": _rows(rows), "rejected": None}


def run_duckdb_rejects(path: Path) -> dict:
    import duckdb

    build, rejects, kept = duckdb_rejects_sql(path)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(build)
    rejected = connection.execute(rejects).to_arrow_table()
    rows = connection.execute(kept).fetchall()
    seconds = time.perf_counter() - started
    kinds = dict(zip(*np.unique(rejected["_reason_kind"].to_numpy(zero_copy_only=False), return_counts=True), strict=True))
    return {"seconds": seconds, "result": _rows(rows), "rejected": rejected.num_rows, "kinds": {k: int(v) for k, v in kinds.items()}}


def run_ours(path: Path, threads: int | None = None) -> dict:
    """``threads`` for clean_table (None: its default, Arrow's CPU count up to 4)."""
    from etl_assets.lib.sources import read_source
    from etl_assets.lib.spec import AggregateSpec, CleanSpec, SourceSpec
    from etl_assets.lib.transforms import aggregate, clean_table

    source = SourceSpec.model_validate({"format": "csv", "path": path.name})
    clean_spec, agg_spec = CleanSpec.model_validate(CLEAN), AggregateSpec.model_validate(AGG)
    started, cpu0 = time.perf_counter(), time.process_time()
    raw = read_source(source, path.parent, name="events")
    read, cpu1 = time.perf_counter(), time.process_time()
    cleaned = clean_table(raw, clean_spec, table="events", threads=threads)
    middle, cpu2 = time.perf_counter(), time.process_time()
    result = aggregate(cleaned.clean, agg_spec)
    ended, cpu3 = time.perf_counter(), time.process_time()
    assert cleaned.stats.conserved()
    kinds: dict[str, int] = {}
    if len(cleaned.rejected):
        kinds = {str(k): int(v) for k, v in cleaned.rejected["_reason_kind"].value_counts().items()}
    return {
        "seconds": ended - started, "read": read - started, "clean": middle - read, "aggregate": ended - middle,
        "cpu_stages": [cpu1 - cpu0, cpu2 - cpu1, cpu3 - cpu2],  # every thread of the process
        "result": _rows(result.frame.itertuples(index=False)), "rejected": cleaned.stats.rows_rejected, "kinds": kinds,
    }


def run_ours_serial(path: Path) -> dict:
    return run_ours(path, threads=1)


RUNNERS = {"duckdb_typed": run_duckdb_typed, "duckdb_rejects": run_duckdb_rejects, "ours": run_ours, "ours_serial": run_ours_serial}


def run_engine(engine: str, path: Path) -> dict:
    """One run of ``engine`` in a fresh interpreter; peak RSS from GNU time (see run_foundation)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", sys.executable, __file__, "--engine", engine, "--path", str(path)],
        capture_output=True, text=True, check=False, env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    peak, user, system = proc.stderr.strip().splitlines()[-1].split()
    result["peak_mib"] = int(peak) / 1024
    result["cpu"] = float(user) + float(system)  # the whole interpreter, imports included
    return result


def profile_ours(path: Path) -> None:
    """cProfile of one run of ours, with the time split by stage (cumulative seconds).

    The clean step runs with one thread here: cProfile only sees the calling thread, so the
    split is of CPU work, not of the wall time of the threaded run."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_ours(path, threads=1)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stages = {
        "read_source": "read_source",
        "clean_table": "clean_table",
        "  casts (coerce_array)": "coerce_array",
        "  null policies": "_apply_null_policy",
        "  dedup": "_drop_duplicates",
        "  to pandas": "_to_pandas",
        "  rejected frame": "rejected_frame",
        "aggregate": "aggregate",
    }
    cumulative: dict[str, float] = {}
    for (_, _, function), (_, _, _, cum, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if function in stages.values() and not any(caller[2] == function for caller in callers):
            cumulative[function] = cumulative.get(function, 0.0) + cum
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\nprofile of ours (one run, in process, clean with threads=1, {total:.3f} s under cProfile):")
    for label, function in stages.items():
        print(f"  {label:<24} {cumulative.get(function, 0.0):7.3f} s")
    stats.sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dirty", type=float, default=0.0, help="fraction of junk values in six columns (duckdb_typed is skipped: it would fail)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run of ours, split by stage")
    parser.add_argument("--engines", default="", help=f"comma-separated subset of {','.join(RUNNERS)} (default {','.join(ENGINES)})")
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # child process
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(RUNNERS[args.engine](Path(args.path))))
        return

    path = input_file(args.rows, args.dirty)
    engines = [e for e in (args.engines.split(",") if args.engines else ENGINES) if e in RUNNERS]
    if args.dirty:
        engines = [e for e in engines if e != "duckdb_typed"]
    runs: dict[str, list[dict]] = {engine: [] for engine in engines}
    for _ in range(max(args.repeat, 1)):
        for engine in engines:
            runs[engine].append(run_engine(engine, path))
    median = {engine: sorted(found, key=lambda r: r["seconds"])[(len(found) - 1) // 2] for engine, found in runs.items()}

    print(f"rows={args.rows} dirty={args.dirty} cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} repeat={args.repeat} (median run of each)")
    reference_name = "duckdb_rejects" if "duckdb_rejects" in median else next(iter(median))
    reference = median[reference_name]
    for engine, result in median.items():
        same = result["result"] == reference["result"] and (
            None in (result["rejected"], reference["rejected"]) or result["rejected"] == reference["rejected"]
        )
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs[engine])
        extra = ""
        if engine.startswith("ours"):
            cpu = result["cpu_stages"]
            extra = (
                f"  (read {result['read']:.3f}, clean {result['clean']:.3f}, aggregate {result['aggregate']:.3f};"
                f" cpu {cpu[0]:.3f}, {cpu[1]:.3f}, {cpu[2]:.3f})"
            )
        print(
            f"{engine:<15} {result['seconds']:7.3f} s  peak {result['peak_mib']:6.0f} MiB  cpu {result['cpu']:5.2f} s  rejected {result['rejected']}"
            f"  matches {reference_name}: {same}  [runs {times}]{extra}"
        )
        if result.get("kinds"):
            print(f"{'':<17}reason kinds: {result['kinds']}")
    if "ours" in median:
        for engine in engines:
            if engine != "ours":
                print(f"ratio {engine} / ours (read included): {median[engine]['seconds'] / median['ours']['seconds']:.2f}x")
    if args.profile:
        profile_ours(path)


if __name__ == "__main__":
    main()
