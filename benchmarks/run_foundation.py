"""Foundation benchmarks: every figure is a ratio against a baseline measured in the same run.

    make bench                      # or: .venv/bin/python benchmarks/run_foundation.py [--rows N] [--skip-demo]

Each case runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Results are printed
as a table and written to benchmarks/results/foundation.json.

Cases (baseline vs ours, same input file):
- csv_to_parquet: pyarrow csv.read_csv + parquet.write_table  vs  read_source + ParquetIOManager
- csv_to_parquet_plain: the same with `multiline_values: false` (pyarrow's own default parse)
- jsonl_write:    pandas to_json(orient="records", lines=True) vs  the JSON Lines IO manager's writer
- clean_agg:      DuckDB, one SQL query on the CSV             vs  read_source + clean_table + aggregate
- dagster_run:    fixed cost of one `dagster asset materialize` of a trivial asset (no baseline)
- demo_year:      `etl-assets demo`, the full 2013 flights year (no baseline)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

KEYS = ["event_id"]
CLEAN_SPEC = {
    "from": "events",
    "columns": {
        "event_id": {"type": "int", "required": True},
        "user_id": {"type": "int", "required": True},
        "country": {"type": "string"},
        "device": {"type": "category"},
        "amount": {"type": "float"},
        "quantity": {"type": "int"},
        "discount": {"type": "float"},
        "is_member": {"type": "bool"},
        "event_time": {"type": "datetime", "timezone": "UTC"},
        "event_date": {"type": "date"},
        "category": {"type": "category"},
        "comment": {"type": "string"},
    },
    "dedup": {"keys": KEYS, "keep": "first"},
}
AGG_SPEC = {
    "from": "events",
    "group_by": ["country", "device"],
    "metrics": {"events": "count()", "revenue": "sum(amount)", "mean_amount": "mean(amount)", "users": "nunique(user_id)", "max_qty": "max(quantity)"},
}
DUCKDB_SQL = """
WITH typed AS (
  SELECT * FROM read_csv('{path}', header=true, all_varchar=false, nullstr='',
    columns={{'event_id':'BIGINT','user_id':'BIGINT','country':'VARCHAR','device':'VARCHAR','amount':'DOUBLE',
              'quantity':'BIGINT','discount':'DOUBLE','is_member':'BOOLEAN','event_time':'TIMESTAMPTZ',
              'event_date':'DATE','category':'VARCHAR','comment':'VARCHAR'}})
), kept AS (
  SELECT * FROM typed WHERE event_id IS NOT NULL AND user_id IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY event_id) = 1
)
SELECT country, device, count(*) AS events, sum(amount) AS revenue, avg(amount) AS mean_amount,
       count(DISTINCT user_id) AS users, max(quantity) AS max_qty
FROM kept GROUP BY country, device ORDER BY country, device
"""


def _csv_source_spec(multiline: bool = True):
    from etl_assets.lib.spec import SourceSpec

    return SourceSpec.model_validate({"format": "csv", "path": "events.csv", "csv": {"multiline_values": multiline}})


def _io_manager_writer(fmt: str, out_dir: Path):
    """The IO manager and an output context, built before a case starts its clock.

    Building the first Dagster context imports half of Dagster (~0.5 s); that is start-up cost,
    not write throughput, and is reported separately as Dagster's fixed cost per run.
    """
    from dagster import build_output_context

    from etl_assets.lib.io import io_manager_for

    manager = io_manager_for(fmt, str(out_dir)).create_io_manager(None)
    context = build_output_context(asset_key=["bench", fmt])
    return lambda frame: manager.handle_output(context, frame)


# ----------------------------------------------------------------------------- cases


def case_csv_to_parquet_baseline(csv: Path, out: Path) -> dict:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = pacsv.read_csv(csv)
    pq.write_table(table, out / "baseline.parquet")
    return {"seconds": time.perf_counter() - started, "rows": table.num_rows}


def case_csv_to_parquet_ours(csv: Path, out: Path) -> dict:
    from etl_assets.lib.sources import read_source

    write = _io_manager_writer("parquet", out)
    started = time.perf_counter()
    frame = read_source(_csv_source_spec(), csv.parent, name="events")
    write(frame)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_csv_to_parquet_plain_baseline(csv: Path, out: Path) -> dict:
    return case_csv_to_parquet_baseline(csv, out)


def case_csv_to_parquet_plain_ours(csv: Path, out: Path) -> dict:
    """Same, with ``multiline_values: false``: the parse option pyarrow's default uses too."""
    from etl_assets.lib.sources import read_source

    write = _io_manager_writer("parquet", out)
    started = time.perf_counter()
    frame = read_source(_csv_source_spec(multiline=False), csv.parent, name="events")
    write(frame)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def _typed_frame(csv: Path):
    from etl_assets.lib.sources import read_source
    from etl_assets.lib.spec import CleanSpec
    from etl_assets.lib.transforms import clean_table

    raw = read_source(_csv_source_spec(), csv.parent, name="events")
    return clean_table(raw, CleanSpec.model_validate(CLEAN_SPEC), table="events").clean


def case_jsonl_baseline(csv: Path, out: Path) -> dict:
    frame = _typed_frame(csv)
    started = time.perf_counter()
    frame.to_json(out / "baseline.jsonl", orient="records", lines=True, date_format="iso")
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_jsonl_ours(csv: Path, out: Path) -> dict:
    frame = _typed_frame(csv)
    write = _io_manager_writer("jsonl", out)
    started = time.perf_counter()
    write(frame)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def case_clean_agg_baseline(csv: Path, out: Path) -> dict:
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET threads TO 2")
    rows = connection.execute(DUCKDB_SQL.format(path=csv)).fetchall()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def case_clean_agg_ours(csv: Path, out: Path) -> dict:
    from etl_assets.lib.sources import read_source
    from etl_assets.lib.spec import AggregateSpec, CleanSpec
    from etl_assets.lib.transforms import aggregate, clean_table

    started = time.perf_counter()
    raw = read_source(_csv_source_spec(), csv.parent, name="events")
    cleaned = clean_table(raw, CleanSpec.model_validate(CLEAN_SPEC), table="events")
    result = aggregate(cleaned.clean, AggregateSpec.model_validate(AGG_SPEC))
    return {"seconds": time.perf_counter() - started, "rows": len(result.frame), "clean_rows": cleaned.stats.rows_out}


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def run_case(name: str, csv: Path) -> dict:
    """Run one case in a fresh interpreter; return its result plus peak RSS in MiB.

    Peak RSS comes from GNU time, not from the child's own getrusage: Linux keeps ru_maxrss
    across exec, so a child forked from this (large) parent would report the parent's peak.
    """
    with tempfile.TemporaryDirectory(dir=WORK) as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", sys.executable, __file__, "--case", name, "--csv", str(csv), "--out", out],
            capture_output=True, text=True, check=False, env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"},
        )
    if proc.returncode != 0:
        raise RuntimeError(f"case {name} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["peak_mib"] = round(int(proc.stderr.strip().splitlines()[-1]) / 1024, 1)
    return result


def best_of(pair: str, csv: Path, repeat: int, stat: str = "min") -> tuple[dict, dict]:
    """Baseline and ours alternately, ``repeat`` times; each side's fastest (``stat="min"``) or
    median run (``stat="median"``: less flattering, steadier on a shared machine), with its peak RSS."""
    bases, ours = [], []
    for _ in range(max(repeat, 1)):
        bases.append(run_case(f"{pair}_baseline", csv))
        ours.append(run_case(f"{pair}_ours", csv))
    pick = _fastest if stat == "min" else _median
    return pick(bases), pick(ours)


def _fastest(results: list[dict]) -> dict:
    return min(results, key=_seconds)


def _median(results: list[dict]) -> dict:
    """The median run (the lower middle one for an even count), so its peak RSS is a real run's."""
    ordered = sorted(results, key=_seconds)
    return ordered[(len(ordered) - 1) // 2]


def _seconds(result: dict) -> float:
    return result["seconds"]


def timed_command(args: list[str], env: dict[str, str]) -> dict:
    """Wall time and peak RSS of one command (GNU time's %M covers its largest process)."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True, check=False, env={**os.environ, **env})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mib": round(peak_kib / 1024, 1)}


TRIVIAL_ASSET = """
from dagster import asset

@asset
def trivial() -> int:
    return 1
"""


def dagster_fixed_cost() -> dict:
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        module = Path(tmp) / "trivial_defs.py"
        module.write_text(TRIVIAL_ASSET)
        runs = [timed_command([str(bindir / "dagster"), "asset", "materialize", "-f", str(module), "--select", "trivial"], {"DAGSTER_HOME": tmp}) for _ in range(3)]
    return {"seconds": min(r["seconds"] for r in runs), "all_seconds": [round(r["seconds"], 2) for r in runs], "peak_mib": max(r["peak_mib"] for r in runs)}


def demo_year() -> dict:
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        return timed_command(
            [str(bindir / "etl-assets"), "demo", "--data-root", f"{tmp}/data", "--dagster-home", f"{tmp}/home"], {}
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--csv")
    parser.add_argument("--out")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="run baseline and ours alternately N times and keep each side's best: on a busy machine"
        " (other processes on the 2 cores) one run per side can land in different load",
    )
    parser.add_argument("--only", default="", help="comma-separated case pairs to run (default: all)")
    parser.add_argument("--stat", choices=("min", "median"), default="min", help="which of the repeats to report per side")
    args = parser.parse_args()

    if args.case:  # child process
        print(json.dumps(CASES[args.case](Path(args.csv), Path(args.out))))
        return

    from datagen import write_csv

    WORK.mkdir(exist_ok=True)
    csv = write_csv(WORK / f"events_{args.rows}.csv" if args.rows != 1_000_000 else WORK / "events.csv", args.rows)
    # read_source wants the file name from the spec ("events.csv") under the root
    if csv.name != "events.csv":
        target_dir = WORK / f"rows_{args.rows}"
        target_dir.mkdir(exist_ok=True)
        link = target_dir / "events.csv"
        if not link.exists():
            link.symlink_to(csv)
        csv = link

    report: dict[str, dict] = {}
    print(f"input: {csv} ({csv.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows)\n")
    print(f"{'case':22s} {'baseline s':>10s} {'ours s':>8s} {'ratio':>7s} {'base MiB':>9s} {'ours MiB':>9s}")
    pairs = ("csv_to_parquet", "csv_to_parquet_plain", "jsonl", "clean_agg")
    only = [name for name in args.only.split(",") if name]
    unknown = sorted(set(only) - set(pairs))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(pairs)}")
    for pair in only or pairs:
        base, ours = best_of(pair, csv, args.repeat, args.stat)
        ratio = base["seconds"] / ours["seconds"]
        report[pair] = {"baseline": base, "ours": ours, "speed_ratio_vs_baseline": round(ratio, 3)}
        print(f"{pair:22s} {base['seconds']:10.2f} {ours['seconds']:8.2f} {ratio:6.2f}x {base['peak_mib']:9.0f} {ours['peak_mib']:9.0f}")
    if only:  # a partial run: print, but keep the full report file as it was
        print(json.dumps(report, indent=2))
        return
    fixed = dagster_fixed_cost()
    report["dagster_run_fixed_cost"] = fixed
    print(f"\ndagster CLI materialize of a trivial asset: {fixed['seconds']:.2f} s (best of 3: {fixed['all_seconds']}), peak {fixed['peak_mib']} MiB")
    if not args.skip_demo:
        demo = demo_year()
        report["demo_year"] = demo
        print(f"full-year flights demo (etl-assets demo, cold data root): {demo['seconds']:.1f} s, peak {demo['peak_mib']} MiB")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "foundation.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
